"""The evidence manifest and its signature: an intact assembly verifies, a tampered one does not."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from compliance.assembly import REPORT_DIRECTORY
from compliance.evidence import (
    MANIFEST,
    SIGNATURE,
    manifest_digest,
    signature_document,
    verify,
    write_evidence,
)
from compliance.model import ComplianceModel, RunIdentity
from scripts import verify_evidence

RUN = RunIdentity(
    commit="0" * 40,
    commit_source="git",
    config_file="tests/fixture.yaml",
    config_sha256="f" * 64,
    pipeline_account="123456789012",
    pipeline_region="us-west-2",
    stages={},
    tools={"cfn-lint": "1"},
    time="2026-01-01T00:00:00Z",
)


@pytest.fixture(scope="module")
def evidence_source(
    assembly_dir: Path, compliance_model: ComplianceModel, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the session's assembly with its evidence written, made once (writing OSCAL takes a second)."""
    copy = tmp_path_factory.mktemp("evidence") / "cdk.out"
    shutil.copytree(assembly_dir, copy, ignore=shutil.ignore_patterns("asset.*"))
    write_evidence(replace(compliance_model, run=RUN), copy / REPORT_DIRECTORY)
    return copy


@pytest.fixture
def assembly(evidence_source: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "cdk.out"
    shutil.copytree(evidence_source, copy)
    return copy


def _sign(assembly: Path, key: ec.EllipticCurvePrivateKey) -> None:
    digest = manifest_digest(assembly)
    signature = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    text = signature_document(digest, signature, public, "arn:aws:kms:us-west-2:123456789012:key/test", "ECDSA_SHA_256")
    (assembly / REPORT_DIRECTORY / SIGNATURE).write_text(text)


def test_the_manifest_lists_every_template_and_report_file(assembly: Path) -> None:
    manifest = json.loads((assembly / REPORT_DIRECTORY / MANIFEST).read_text())
    listed = set(manifest["files"])
    templates = {p.relative_to(assembly).as_posix() for p in assembly.rglob("*.template.json")}
    assert templates
    assert templates <= listed
    for name in ("report.md", "findings.json", "controls.csv", "junit.xml", "report.sarif", "assessment-results.json"):
        assert f"compliance/{name}" in listed
    assert manifest["commit"] == RUN.commit
    assert all(len(digest) == 64 for digest in manifest["files"].values())


def test_an_intact_assembly_verifies(assembly: Path) -> None:
    result = verify(assembly)
    assert result.ok, result.problems
    assert result.signed_by == ""
    assert verify_evidence.main([str(assembly)]) == 0


@pytest.mark.parametrize(
    "tamper",
    ["Pipeline.template.json", "compliance/report.md", "compliance/assessment-results.json"],
)
def test_a_tampered_file_fails(assembly: Path, tamper: str) -> None:
    path = assembly / tamper
    path.write_text(path.read_text().replace("a", "b", 1))
    result = verify(assembly)
    assert [p for p in result.problems if p.startswith(tamper)] == [f"{tamper}: sha256 differs from the manifest"]
    assert verify_evidence.main([str(assembly)]) == 1


def test_a_missing_or_added_file_fails(assembly: Path) -> None:
    (assembly / "compliance" / "controls.csv").unlink()
    shutil.copy(assembly / "Pipeline.template.json", assembly / "Extra.template.json")
    problems = verify(assembly).problems
    assert "compliance/controls.csv: listed in the manifest but missing" in problems
    assert "Extra.template.json: not listed in the manifest" in problems


def test_a_signed_manifest_verifies_and_pins_its_key(assembly: Path, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _sign(assembly, key)
    result = verify(assembly, require_signature=True)
    assert result.ok, result.problems
    assert result.signed_by.startswith("arn:aws:kms:us-west-2:123456789012:key/test")
    pem = tmp_path / "expected.pem"
    pem.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert verify_evidence.main([str(assembly), "--public-key", str(pem)]) == 0
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert "signed by a key other than the expected one" in " ".join(
        verify(
            assembly,
            public_key_der=other.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        ).problems
    )


def test_a_manifest_changed_after_signing_fails(assembly: Path) -> None:
    _sign(assembly, ec.generate_private_key(ec.SECP256R1()))
    manifest = assembly / REPORT_DIRECTORY / MANIFEST
    document = json.loads(manifest.read_text())
    document["files"]["compliance/report.md"] = "0" * 64  # rewrite the manifest to match a forged report
    manifest.write_text(json.dumps(document))
    problems = " ".join(verify(assembly).problems)
    assert "signs a different manifest" in problems
    assert "the signature does not verify" in problems


def test_a_signature_is_required_when_asked_for(assembly: Path) -> None:
    assert verify_evidence.main([str(assembly), "--require-signature"]) == 1


FAKE_AWS = '''#!{python}
"""Stands in for `aws kms sign` / `aws kms get-public-key`, signing with a local P-256 key."""
import base64, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

key = serialization.load_pem_private_key(open({key!r}, "rb").read(), password=None)
args = sys.argv[1:]
if args[:2] == ["kms", "sign"]:
    assert args[args.index("--message-type") + 1] == "DIGEST"
    assert args[args.index("--signing-algorithm") + 1] == "ECDSA_SHA_256"
    digest = open(args[args.index("--message") + 1].removeprefix("fileb://"), "rb").read()
    print(base64.b64encode(key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))).decode())
elif args[:2] == ["kms", "get-public-key"]:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    print(base64.b64encode(der).decode())
else:
    sys.exit(f"unexpected call: {{args}}")
'''


def test_the_signing_script_signs_with_kms_and_the_result_verifies(
    assembly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts import sign_evidence

    key = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS.format(python=sys.executable, key=str(key_file)))
    aws.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    arn = "arn:aws:kms:us-west-2:123456789012:key/evidence"
    assert sign_evidence.main(["--key-id", arn, "--assembly", str(assembly)]) == 0
    signature = json.loads((assembly / REPORT_DIRECTORY / SIGNATURE).read_text())
    assert signature["key_id"] == arn
    assert verify(assembly, require_signature=True).ok
    # Evidence that no longer matches its manifest is not signed.
    (assembly / "Pipeline.template.json").write_text("{}")
    assert sign_evidence.main(["--key-id", arn, "--assembly", str(assembly)]) == 1
