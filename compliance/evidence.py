"""The evidence of one run, bound together: every report file, the OSCAL documents, the manifest, the attestation.

`write_evidence` writes everything a synth leaves in `cdk.out/compliance/` from the model alone,
then `manifest.json`: the sha256 of every other file of the assembly, as `compliance.attestation`
finds them. A manifest beside the files it hashes proves only that they agree with each other.
What proves which pipeline run produced them is the attestation the pipeline's SignEvidence step
signs with its KMS key (`compliance.attestation`: the same files, bound to the pipeline, its
execution and the source revision). `verify` checks an assembly against that attestation, the
signature against a pinned public key; against the manifest only when told to accept unsigned
evidence. Verifying a signature needs the `cryptography` package, imported only then (AU-10, SI-7).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.assembly import REPORT_DIRECTORY, CloudAssembly
from compliance.attestation import (
    ENVELOPE,
    PAYLOAD_TYPE,
    EvidenceError,
    Run,
    assembly_files,
    b64decode,
    pae,
    read_statement,
)
from compliance.model import ComplianceModel
from compliance.oscal import write_oscal
from compliance.report import write_reports

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "fedramp-monitoring/evidence-manifest/2"
_MANIFEST_PATH = f"{REPORT_DIRECTORY}/{MANIFEST}"


def write_evidence(model: ComplianceModel, directory: Path, *, oscal: bool = True) -> list[Path]:
    """Write the reports and the OSCAL documents into `directory`; then, if it is an assembly's report
    directory (`cdk.out/compliance`), the manifest of the assembly's files.
    """
    paths = write_reports(model, directory)
    if oscal:
        paths += write_oscal(model, directory)
    assembly = directory.parent
    if directory.name == REPORT_DIRECTORY and CloudAssembly(assembly).exists():
        (assembly / ENVELOPE).unlink(missing_ok=True)  # an attestation of older files is no evidence of these
        paths.append(write_manifest(assembly, model))
    return paths


def write_manifest(assembly: Path, model: ComplianceModel | None = None) -> Path:
    """`compliance/manifest.json`: the sha256 of every file of the assembly but itself and the attestation, by
    its path in the assembly (what the pipeline then attests). A file the attestation would refuse (a symbolic
    link) is left out, and verification names it."""
    run = model.run if model is not None else None
    files, _ = assembly_files(assembly)
    files.pop(_MANIFEST_PATH, None)
    document: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "algorithm": "sha256",
        "commit": run.commit if run else "",
        "config_sha256": run.config_sha256 if run else "",
        "files": files,
    }
    path = assembly / _MANIFEST_PATH
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8", newline="\n")
    return path


@dataclass(frozen=True)
class Expected:
    """What the evidence must be of, when the verifier knows: an execution, a revision, a pipeline."""

    execution: str | None = None
    revision: str | None = None
    pipeline: str | None = None

    def mismatches(self, run: Run) -> list[str]:
        """One line for each expectation the run does not meet: an older bundle cannot pass for a newer run."""
        pairs = (
            ("execution", run.execution, self.execution),
            ("revision", run.revision, self.revision),
            ("pipeline", run.pipeline, self.pipeline),
        )
        return [
            f"the evidence is of {what} {found}, not {wanted}"
            for what, found, wanted in pairs
            if wanted is not None and wanted != found
        ]

    def __bool__(self) -> bool:
        return any((self.execution, self.revision, self.pipeline))


@dataclass(frozen=True)
class Verification:
    """What `verify` found: problems (empty when the evidence is intact) and what was checked."""

    problems: list[str]
    files: int = 0
    run: Run | None = None  # the run the attestation names; None when only the manifest was checked
    key: str = ""  # the pinned key that verified the signature; "" when no signature was checked
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    assembly: Path,
    *,
    envelope: Path | None = None,
    public_key: bytes | None = None,
    allow_unsigned: bool = False,
    expected: Expected | None = None,
) -> Verification:
    """Check every file of `assembly` against the attestation in `envelope` (default: the assembly's own), its
    signature against `public_key` (PEM or DER), and the run it names against `expected`.

    Without a public key or an attestation this fails, unless `allow_unsigned`: then the files are checked
    against the attestation's statement without its signature, or, with no attestation, against the manifest.
    """
    expected = expected or Expected()
    if not CloudAssembly(assembly).exists():
        return Verification([f"{assembly}: no cloud assembly (no manifest.json)"])
    path = envelope if envelope is not None else assembly / ENVELOPE
    try:
        if not path.is_file():
            return _unsigned(assembly, path, allow_unsigned=allow_unsigned, expected=expected)
        payload, key, warnings = _payload(path, public_key, allow_unsigned=allow_unsigned)
        signed, run = read_statement(payload)
    except EvidenceError as error:
        return Verification([str(error)])
    against = "the signed statement" if key else "the statement"
    problems = _compare(assembly, signed, against) + expected.mismatches(run)
    return Verification(problems, len(signed), run, key, warnings)


def _unsigned(assembly: Path, envelope: Path, *, allow_unsigned: bool, expected: Expected) -> Verification:
    """The files against the manifest alone, where that is allowed."""
    if not allow_unsigned:
        raise EvidenceError(
            f"{envelope}: no attestation; give the run's SignEvidence output (--envelope / ENVELOPE=), "
            "or --allow-unsigned to check a local synth against its manifest"
        )
    if expected:
        raise EvidenceError("an execution, revision or pipeline is expected, but unsigned evidence names none")
    manifest = assembly / _MANIFEST_PATH
    if not manifest.is_file():
        raise EvidenceError(f"{manifest}: no evidence manifest")
    try:
        listed: dict[str, str] = dict(json.loads(manifest.read_text(encoding="utf-8"))["files"])
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise EvidenceError(f"{manifest}: not an evidence manifest ({error})") from None
    warning = f"UNSIGNED: {len(listed)} files checked against {_MANIFEST_PATH}, which the synth wrote beside them"
    problems = _compare(assembly, listed, "the manifest", leave_out=_MANIFEST_PATH)
    return Verification(problems, len(listed), warnings=[warning])


def _payload(path: Path, public_key: bytes | None, *, allow_unsigned: bool) -> tuple[bytes, str, list[str]]:
    """The envelope's payload, once its signature verifies with `public_key`; the key's name; warnings."""
    try:
        document = json.loads(path.read_text(encoding="utf-8").strip().splitlines()[0])
        payload_type, payload = document["payloadType"], b64decode(document["payload"])
        signatures = [(str(s.get("keyid", "")), b64decode(s["sig"])) for s in document["signatures"]]
    except (OSError, IndexError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise EvidenceError(f"{path}: not a DSSE envelope ({error})") from None
    if payload_type != PAYLOAD_TYPE:
        raise EvidenceError(f"{path}: payload type {payload_type!r}, not {PAYLOAD_TYPE}")
    if public_key is None:
        if not allow_unsigned:
            raise EvidenceError(
                "no public key to check the signature with: pin the pipeline's evidence key (--public-key / "
                "PUBLIC_KEY=, from aws kms get-public-key), or --allow-unsigned"
            )
        return payload, "", [f"UNSIGNED: the signature of {path} was not checked (no public key given)"]
    return payload, _check_signature(path, pae(payload_type, payload), signatures, public_key), []


def _check_signature(path: Path, message: bytes, signatures: list[tuple[str, bytes]], public_key: bytes) -> str:
    """The pinned key's name, if one of the signatures is its ECDSA-SHA256 signature (DER) of `message`."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = (
            serialization.load_pem_public_key(public_key)
            if b"-----BEGIN" in public_key
            else serialization.load_der_public_key(public_key)
        )
    except (ValueError, UnsupportedAlgorithm):
        raise EvidenceError("the pinned public key is neither a PEM nor a DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise EvidenceError("the pinned public key is not an ECC NIST P-256 key, as the evidence key is")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for keyid, signature in signatures:
        try:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return f"sha256:{hashlib.sha256(der).hexdigest()}" + (f" (keyid {keyid})" if keyid else "")
    raise EvidenceError(f"{path}: no signature verifies with the pinned key sha256:{hashlib.sha256(der).hexdigest()}")


def _compare(assembly: Path, listed: dict[str, str], against: str, *, leave_out: str = "") -> list[str]:
    """One line per file added, missing or changed against `listed`, and per entry the assembly may not hold."""
    present, refused = assembly_files(assembly)
    present.pop(leave_out, None)
    problems = list(refused)
    for name in sorted(present.keys() | listed.keys()):
        if name not in listed:
            problems.append(f"{name}: not in {against} (added to the assembly)")
        elif name not in present:
            problems.append(f"{name}: in {against} but missing")
        elif present[name] != listed[name]:
            problems.append(f"{name}: sha256 differs from {against}")
    return problems
