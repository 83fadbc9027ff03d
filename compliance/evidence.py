"""The evidence of one run, bound together: every report file, the OSCAL documents, and a manifest of hashes.

`write_evidence` writes everything a synth leaves in `cdk.out/compliance/` from the
model alone, then `manifest.json`: the sha256 of every template of the assembly and
of every report file. `verify` checks an assembly against its manifest and, when
the pipeline has signed the manifest (`manifest.sig.json`, written by
`scripts/sign_evidence.py` with a KMS asymmetric key), the signature.

A manifest beside the files it hashes proves only that they agree with each other;
the signature ties the manifest to a key that only the pipeline's signing step may
use. Verifying a signature needs the `cryptography` package, imported only then.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.assembly import REPORT_DIRECTORY, CloudAssembly
from compliance.model import ComplianceModel

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig.json"
MANIFEST_SCHEMA = "fedramp-monitoring/evidence-manifest/1"
SIGNATURE_SCHEMA = "fedramp-monitoring/evidence-signature/1"
# The KMS signing algorithms `verify` understands, for ECC_NIST_P256 and RSA keys.
ALGORITHMS = ("ECDSA_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_256")


def write_evidence(model: ComplianceModel, directory: Path, *, oscal: bool = True) -> list[Path]:
    """Write the reports and the OSCAL documents into `directory`; then, if it is an assembly's report
    directory (`cdk.out/compliance`), the manifest that binds them to the assembly's templates.
    """
    from compliance.report import write_reports

    paths = write_reports(model, directory)
    if oscal:
        from compliance.oscal import write_oscal  # compliance-trestle is imported only here

        paths += write_oscal(model, directory)
    (directory / SIGNATURE).unlink(missing_ok=True)  # a signature over an older manifest is no longer evidence
    assembly = directory.parent
    if directory.name == REPORT_DIRECTORY and CloudAssembly(assembly).exists():
        paths.append(write_manifest(assembly, model))
    return paths


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evidence_files(assembly: Path) -> list[Path]:
    """Every template of the assembly (nested stages included) and every report file, manifest and signature aside."""
    # Every template file on disk, whether the assembly's manifest names it or not (not `compliance.assembly`,
    # which follows the manifest): a template planted beside the others must fail verification.
    templates = sorted(assembly.rglob("*.template.json"))
    directory = assembly / REPORT_DIRECTORY
    reports = sorted(p for p in directory.rglob("*") if p.is_file() and p.name not in (MANIFEST, SIGNATURE))
    return templates + reports


def write_manifest(assembly: Path, model: ComplianceModel | None = None) -> Path:
    """`compliance/manifest.json`: sha256 of each evidence file, by its path relative to the assembly."""
    run = model.run if model is not None else None
    document: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "algorithm": "sha256",
        "commit": run.commit if run else "",
        "config_sha256": run.config_sha256 if run else "",
        "files": {p.relative_to(assembly).as_posix(): _sha256(p) for p in evidence_files(assembly)},
    }
    path = assembly / REPORT_DIRECTORY / MANIFEST
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8", newline="\n")
    return path


def manifest_digest(assembly: Path) -> bytes:
    """The SHA-256 digest of the manifest as written: what the pipeline signs."""
    return hashlib.sha256((assembly / REPORT_DIRECTORY / MANIFEST).read_bytes()).digest()


def signature_document(digest: bytes, signature: bytes, public_key_der: bytes, key_id: str, algorithm: str) -> str:
    """The contents of `manifest.sig.json` for a signature over `digest`."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {algorithm}; use one of {', '.join(ALGORITHMS)}")
    document = {
        "schema": SIGNATURE_SCHEMA,
        "key_id": key_id,
        "algorithm": algorithm,
        "manifest_sha256": digest.hex(),
        "signature": base64.b64encode(signature).decode("ascii"),
        "public_key": base64.b64encode(public_key_der).decode("ascii"),
        "public_key_sha256": hashlib.sha256(public_key_der).hexdigest(),
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Verification:
    """What `verify` found: problems (empty when the evidence is intact) and what was checked."""

    problems: list[str]
    files: int
    signed_by: str  # "" when the manifest is not signed

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(assembly: Path, *, public_key_der: bytes | None = None, require_signature: bool = False) -> Verification:
    """Check every file against the manifest; then the signature, if there is one (or if it is required).

    `public_key_der` pins the key: a signature by any other key fails, even if it is valid.
    """
    manifest_path = assembly / REPORT_DIRECTORY / MANIFEST
    if not manifest_path.exists():
        return Verification([f"{manifest_path}: no evidence manifest"], 0, "")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    listed: dict[str, str] = manifest.get("files", {})
    problems: list[str] = []
    for name, expected in sorted(listed.items()):
        path = assembly / name
        if not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif _sha256(path) != expected:
            problems.append(f"{name}: sha256 differs from the manifest")
    present = {p.relative_to(assembly).as_posix() for p in evidence_files(assembly)}
    problems += [f"{name}: not listed in the manifest" for name in sorted(present - set(listed))]

    signature_path = assembly / REPORT_DIRECTORY / SIGNATURE
    signed_by = ""
    if signature_path.exists():
        signed_by, signature_problems = _verify_signature(assembly, signature_path, public_key_der)
        problems += signature_problems
    elif require_signature or public_key_der is not None:
        problems.append(f"{signature_path}: no signature, but one is required")
    return Verification(problems, len(listed), signed_by)


def _verify_signature(assembly: Path, path: Path, pinned: bytes | None) -> tuple[str, list[str]]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    document = json.loads(path.read_text(encoding="utf-8"))
    digest = manifest_digest(assembly)
    public_der = base64.b64decode(document["public_key"])
    signed_by = f"{document.get('key_id', '?')} (public key sha256 {hashlib.sha256(public_der).hexdigest()})"
    problems: list[str] = []
    if document.get("manifest_sha256") != digest.hex():
        problems.append(f"{path.name}: signs a different manifest (sha256 {document.get('manifest_sha256')})")
    if pinned is not None and pinned != public_der:
        problems.append(f"{path.name}: signed by a key other than the expected one")
    key = serialization.load_der_public_key(public_der)
    signature = base64.b64decode(document["signature"])
    prehashed = utils.Prehashed(hashes.SHA256())
    algorithm = document.get("algorithm")
    try:
        if algorithm == "ECDSA_SHA_256" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        elif algorithm == "RSASSA_PKCS1_V1_5_SHA_256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        elif algorithm == "RSASSA_PSS_SHA_256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PSS(padding.MGF1(hashes.SHA256()), 32), prehashed)
        else:
            problems.append(f"{path.name}: algorithm {algorithm} does not match a {type(key).__name__}")
    except InvalidSignature:
        problems.append(f"{path.name}: the signature does not verify against the manifest")
    return signed_by, problems
