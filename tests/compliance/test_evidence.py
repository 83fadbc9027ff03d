"""The run's evidence: the synth's manifest, and the attestation the pipeline signs of every file of the assembly.

Signing goes through the AWS CLI seam (`--aws-cli`): a stand-in that signs with a local P-256 key,
checking that it is called as `aws kms sign` would be. Verification is `make verify-evidence`'s script.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from compliance import attestation
from compliance.assembly import REPORT_DIRECTORY
from compliance.attestation import ENVELOPE
from compliance.evidence import MANIFEST, write_evidence
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
KEY_ARN = "arn:aws:kms:us-west-2:123456789012:key/1b2c3d4e-0000-4000-8000-000000000001"
PIPELINE_ARN = "arn:aws:codepipeline:us-west-2:123456789012:Monitoring-Pipeline"
EXECUTION = "3f0d1c2b-0000-4000-8000-00000000a001"
REVISION = "a" * 40
# What CodeBuild and the step's own variables give the signer in the pipeline.
RUN_ENVIRONMENT = {
    "CODEBUILD_INITIATOR": "codepipeline/Monitoring-Pipeline",
    "CODEBUILD_BUILD_ARN": "arn:aws:codebuild:us-west-2:123456789012:build/SignEvidence-x:0f0e0d0c-0000-4000-8000-1",
    "EXECUTION_ID": EXECUTION,
    "SOURCE_REVISION": REVISION,
    "REPOSITORY": "example-org/monitoring",
    "BRANCH": "main",
    "EVIDENCE_KEY_ARN": KEY_ARN,
}

FAKE_AWS = '''#!{python}
"""Stands in for `aws kms sign` with ECDSA_SHA_256 on a digest: a DER signature by a local P-256 key."""
import base64, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

args = sys.argv[1:]
value = lambda flag: args[args.index(flag) + 1]
assert args[:2] == ["kms", "sign"], args
assert value("--key-id") == {key_id!r}, args
assert (value("--message-type"), value("--signing-algorithm")) == ("DIGEST", "ECDSA_SHA_256"), args
assert (value("--query"), value("--output")) == ("Signature", "text"), args
digest = open(value("--message").removeprefix("fileb://"), "rb").read()
assert len(digest) == 32, len(digest)
key = serialization.load_pem_private_key(open({key!r}, "rb").read(), password=None)
print(base64.b64encode(key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))).decode())
'''


@dataclass(frozen=True)
class Signer:
    """A local P-256 key standing in for the pipeline's KMS key: the CLI that signs with it, its public key."""

    cli: Path
    public_pem: Path
    public_key: ec.EllipticCurvePublicKey


def _signer(directory: Path) -> Signer:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / "key.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = directory / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    cli = directory / "aws"
    cli.write_text(FAKE_AWS.format(python=sys.executable, key=str(private), key_id=KEY_ARN))
    cli.chmod(0o755)
    return Signer(cli, public, key.public_key())


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return _signer(tmp_path_factory.mktemp("signer"))


@pytest.fixture(scope="module")
def other_signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return _signer(tmp_path_factory.mktemp("other-signer"))


@pytest.fixture(scope="module")
def evidence_source(
    assembly_dir: Path, compliance_model: ComplianceModel, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the session's assembly with its evidence written, made once (writing OSCAL takes a second)."""
    copy = tmp_path_factory.mktemp("evidence") / "cdk.out"
    shutil.copytree(assembly_dir, copy)
    write_evidence(replace(compliance_model, run=RUN), copy / REPORT_DIRECTORY)
    return copy


@pytest.fixture
def assembly(evidence_source: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "cdk.out"
    shutil.copytree(evidence_source, copy)
    return copy


Sign = Callable[..., int]


@pytest.fixture
def sign(monkeypatch: pytest.MonkeyPatch, signer: Signer) -> Sign:
    """Sign `assembly` as the pipeline's step does, for the run of `RUN_ENVIRONMENT` with `changes`."""

    def run(assembly: Path, by: Signer = signer, **changes: str) -> int:
        for name, value in {**RUN_ENVIRONMENT, **changes}.items():
            monkeypatch.setenv(name, value)
        return attestation.main(["--assembly", str(assembly), "--aws-cli", str(by.cli)])

    return run


def _verify(assembly: Path, signer: Signer, *args: str) -> int:
    return verify_evidence.main([str(assembly), "--public-key", str(signer.public_pem), *args])


def _envelope(assembly: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((assembly / ENVELOPE).read_text())
    return document


def _statement(assembly: Path) -> dict[str, Any]:
    statement: dict[str, Any] = json.loads(base64.b64decode(_envelope(assembly)["payload"]))
    return statement


# --- the synth's manifest ------------------------------------------------------------------------------------


def test_the_manifest_lists_every_file_of_the_assembly_but_itself(assembly: Path) -> None:
    manifest = json.loads((assembly / REPORT_DIRECTORY / MANIFEST).read_text())
    on_disk = {p.relative_to(assembly).as_posix() for p in assembly.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {f"{REPORT_DIRECTORY}/{MANIFEST}"}
    for name in (
        "report.md",
        "report.html",
        "findings.json",
        "controls.csv",
        "junit.xml",
        "report.sarif",
        "assessment-results.json",
    ):
        assert f"compliance/{name}" in manifest["files"]
    assert manifest["commit"] == RUN.commit
    assert all(len(digest) == 64 for digest in manifest["files"].values())


def test_a_local_synth_verifies_only_when_unsigned_evidence_is_allowed(
    assembly: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify_evidence.main([str(assembly)]) == 1
    assert f"{ENVELOPE}: no attestation" in capsys.readouterr().err
    assert verify_evidence.main([str(assembly), "--allow-unsigned"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("WARNING: UNSIGNED:"), out
    assert "Evidence: OK, UNSIGNED" in out
    # Unsigned evidence names no run: it cannot pass for one.
    assert verify_evidence.main([str(assembly), "--allow-unsigned", "--execution-id", EXECUTION]) == 1
    (assembly / "Pipeline.template.json").write_text("{}")
    assert verify_evidence.main([str(assembly), "--allow-unsigned"]) == 1
    assert "Pipeline.template.json: sha256 differs from the manifest" in capsys.readouterr().err


# --- the signed attestation ----------------------------------------------------------------------------------


def test_a_signed_assembly_verifies_and_says_what_was_verified(
    assembly: Path, signer: Signer, sign: Sign, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sign(assembly) == 0
    capsys.readouterr()
    expected = ["--execution-id", EXECUTION, "--revision", REVISION, "--pipeline-arn", PIPELINE_ARN]
    assert _verify(assembly, signer, *expected) == 0
    out = capsys.readouterr().out
    files = len(_statement(assembly)["subject"])
    public = signer.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    fingerprint = hashlib.sha256(public).hexdigest()
    assert f"Evidence: OK ({files} files" in out
    for line in (PIPELINE_ARN, EXECUTION, REVISION, "example-org/monitoring, branch main", f"sha256:{fingerprint}"):
        assert line in out, out
    assert f"keyid {KEY_ARN}" in out


def test_the_statement_lists_every_file_of_the_assembly_and_the_run(assembly: Path, sign: Sign) -> None:
    assert sign(assembly) == 0
    statement = _statement(assembly)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    subject = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    on_disk = {p.relative_to(assembly).as_posix() for p in assembly.rglob("*") if p.is_file()} - {ENVELOPE}
    assert set(subject) == on_disk
    kinds = {
        "templates": ".template.json",
        "asset manifests": ".assets.json",
        "stack metadata": ".metadata.json",
        "buildspecs": "buildspec-",
        "nested assemblies": "assembly-Pipeline-",
        "asset code": "asset.",
    }
    for kind, part in kinds.items():
        assert any(part in name for name in subject), kind
    assert {"manifest.json", "tree.json", "compliance/manifest.json", "compliance/report.md"} <= set(subject)
    predicate = statement["predicate"]
    assert predicate == {
        "buildDefinition": {
            "buildType": attestation.BUILD_TYPE,
            "externalParameters": {"repository": "example-org/monitoring", "ref": "refs/heads/main"},
            "internalParameters": {"signingBuild": RUN_ENVIRONMENT["CODEBUILD_BUILD_ARN"]},
            "resolvedDependencies": [{"name": "example-org/monitoring", "digest": {"gitCommit": REVISION}}],
        },
        "runDetails": {
            "builder": {"id": PIPELINE_ARN},
            "metadata": {"invocationId": EXECUTION, "finishedOn": predicate["runDetails"]["metadata"]["finishedOn"]},
        },
    }


def test_the_envelope_is_dsse_signed_over_the_pre_authentication_encoding(
    assembly: Path, signer: Signer, sign: Sign
) -> None:
    # What an off-the-shelf DSSE verifier does: the signature, DER, over "DSSEv1 <len> <type> <len> <body>".
    assert sign(assembly) == 0
    envelope = _envelope(assembly)
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    (signature,) = envelope["signatures"]
    assert signature["keyid"] == KEY_ARN
    payload = base64.b64decode(envelope["payload"])
    message = b"DSSEv1 28 application/vnd.in-toto+json %d %s" % (len(payload), payload)
    signer.public_key.verify(base64.b64decode(signature["sig"]), message, ec.ECDSA(hashes.SHA256()))
    assert (assembly / ENVELOPE).read_text().count("\n") == 1  # an in-toto bundle (JSON Lines) of one envelope


def test_the_encoding_matches_the_dsse_test_vector() -> None:
    # secure-systems-lab/dsse, protocol.md, "Test Vectors": its signature (raw r || s) verifies over our encoding.
    message = attestation.pae("http://example.com/HelloWorld", b"hello world")
    assert message == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    numbers = ec.EllipticCurvePublicNumbers(
        46950820868899156662930047687818585632848591499744589407958293238635476079160,
        5640078356564379163099075877009565129882514886557779369047442380624545832820,
        ec.SECP256R1(),
    )
    raw = base64.b64decode("A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==")
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    numbers.public_key().verify(der, message, ec.ECDSA(hashes.SHA256()))


def _add_cdk_json(assembly: Path) -> str:
    (assembly / "cdk.json").write_text('{"app": "python3 other.py"}')
    return "cdk.json: not in the signed statement (added to the assembly)"


def _change(pattern: str) -> Callable[[Path], str]:
    def change(assembly: Path) -> str:
        path = next(p for p in sorted(assembly.glob(pattern)) if p.is_file())
        path.write_bytes(path.read_bytes() + b"\n# changed\n")
        return f"{path.relative_to(assembly).as_posix()}: sha256 differs from the signed statement"

    return change


def _remove_report(assembly: Path) -> str:
    (assembly / "compliance" / "controls.csv").unlink()
    return "compliance/controls.csv: in the signed statement but missing"


def _edit_payload(assembly: Path) -> str:
    envelope = _envelope(assembly)
    text = base64.b64decode(envelope["payload"]).replace(EXECUTION.encode(), b"5f4e3d2c-0000-4000-8000-00000000e0e0")
    envelope["payload"] = base64.b64encode(text).decode()
    (assembly / ENVELOPE).write_text(json.dumps(envelope))
    return "no signature verifies with the pinned key"


def _symlink(assembly: Path) -> str:
    (assembly / "compliance" / "outside").symlink_to(assembly.parent)
    return "compliance/outside: a symbolic link"


@pytest.mark.parametrize(
    "attack",
    [
        _add_cdk_json,
        _change("buildspec-*.yaml"),
        _change("asset.*/*"),
        _change("assembly-Pipeline-Prod/*.template.json"),
        _change("compliance/report.md"),
        _remove_report,
        _edit_payload,
        _symlink,
    ],
    ids=["file-added", "buildspec", "asset-code", "nested-template", "report", "file-removed", "payload", "symlink"],
)
def test_each_change_after_signing_fails_by_name(
    assembly: Path,
    signer: Signer,
    sign: Sign,
    attack: Callable[[Path], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert sign(assembly) == 0
    problem = attack(assembly)
    capsys.readouterr()
    assert _verify(assembly, signer) == 1
    err = capsys.readouterr().err
    assert problem in err, err
    assert err.rstrip().endswith("problem(s))")
    assert "Traceback" not in err


def test_a_signature_by_another_key_fails(
    assembly: Path, signer: Signer, other_signer: Signer, sign: Sign, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sign(assembly, by=other_signer) == 0
    assert _verify(assembly, other_signer) == 0
    capsys.readouterr()
    assert _verify(assembly, signer) == 1
    assert "no signature verifies with the pinned key" in capsys.readouterr().err


def test_a_signed_assembly_needs_the_pinned_key_unless_unsigned_is_allowed(
    assembly: Path, sign: Sign, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sign(assembly) == 0
    capsys.readouterr()
    assert verify_evidence.main([str(assembly)]) == 1
    assert "no public key to check the signature with" in capsys.readouterr().err
    assert verify_evidence.main([str(assembly), "--allow-unsigned"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: UNSIGNED: the signature" in out
    assert "key        NOT CHECKED" in out


def test_without_an_execution_or_revision_any_runs_signed_evidence_verifies_and_names_that_run(
    assembly: Path, signer: Signer, sign: Sign, capsys: pytest.CaptureFixture[str]
) -> None:
    """EXECUTION_ID and REVISION are optional: without them the signature and the files decide, and the output
    names the run the evidence is of, for the reader to compare with the one meant."""
    other_execution, other_revision = "9b1a0000-0000-4000-8000-00000000a003", "c" * 40
    assert sign(assembly, EXECUTION_ID=other_execution, SOURCE_REVISION=other_revision) == 0
    capsys.readouterr()
    assert _verify(assembly, signer) == 0
    out = capsys.readouterr().out
    assert f"execution  {other_execution}" in out
    assert f"revision   {other_revision}" in out
    assert _verify(assembly, signer, "--execution-id", EXECUTION) == 1


@pytest.mark.parametrize(
    ("flag", "wanted", "line"),
    [
        ("--execution-id", "9b1a0000-0000-4000-8000-00000000a002", f"the evidence is of execution {EXECUTION}"),
        ("--revision", "b" * 40, f"the evidence is of revision {REVISION}, not {'b' * 40}"),
        ("--pipeline-arn", PIPELINE_ARN + "-2", f"the evidence is of pipeline {PIPELINE_ARN}, not"),
    ],
)
def test_an_older_bundle_cannot_pass_for_another_run(
    assembly: Path, signer: Signer, sign: Sign, flag: str, wanted: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sign(assembly) == 0
    capsys.readouterr()
    assert _verify(assembly, signer, flag, wanted) == 1
    assert line in capsys.readouterr().err


def test_an_envelope_that_is_not_one_fails_in_one_line(
    assembly: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    (assembly / ENVELOPE).write_text("not json\n")
    assert _verify(assembly, signer) == 1
    err = capsys.readouterr().err
    assert f"{ENVELOPE}: not a DSSE envelope" in err
    assert "Traceback" not in err


# --- the signer ----------------------------------------------------------------------------------------------


def test_the_signer_refuses_a_symbolic_link_and_reads_nothing_outside(
    assembly: Path, sign: Sign, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("not evidence")
    (assembly / "asset.linked").symlink_to(outside)
    assert sign(assembly) == 1
    assert "refusing to sign the assembly: asset.linked: a symbolic link" in capsys.readouterr().err
    assert not (assembly / ENVELOPE).exists()
    files, refused = attestation.assembly_files(assembly)
    assert not [name for name in files if "secret" in name]
    assert refused == ["asset.linked: a symbolic link; an assembly holds only files and folders"]


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"CODEBUILD_INITIATOR": "someone"}, "only a run CodePipeline started is signed"),
        ({"EXECUTION_ID": ""}, "EXECUTION_ID not set"),
        ({"SOURCE_REVISION": "#{Source.CommitId}"}, "is not a commit id"),
    ],
)
def test_the_signer_signs_only_a_run_the_pipeline_started(
    assembly: Path, sign: Sign, changes: dict[str, str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sign(assembly, **changes) == 1
    assert line in capsys.readouterr().err


def test_a_kms_failure_is_one_line(
    assembly: Path, sign: Sign, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = tmp_path / "aws"
    failing.write_text(
        "#!/bin/sh\necho 'An error occurred (AccessDeniedException) when calling the Sign operation' >&2\nexit 254\n"
    )
    failing.chmod(0o755)
    assert sign(assembly, by=Signer(failing, failing, ec.generate_private_key(ec.SECP256R1()).public_key())) == 1
    assert capsys.readouterr().err == (
        "SignEvidence: aws kms sign failed: An error occurred (AccessDeniedException) when calling the Sign operation\n"
    )


def test_the_signer_runs_alone_isolated_on_the_standard_library(assembly: Path, signer: Signer) -> None:
    # As the pipeline runs it: its own file, `python3 -I`, no project on the path, in the assembly.
    environment = {"PATH": os.environ["PATH"], **RUN_ENVIRONMENT}
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            attestation.__file__,
            "--assembly",
            ".",
            "--key-id",
            KEY_ARN,
            "--aws-cli",
            str(signer.cli),
        ],
        cwd=assembly,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"files attested for {PIPELINE_ARN}, execution {EXECUTION} at {REVISION}" in result.stdout
    assert _verify(assembly, signer, "--execution-id", EXECUTION) == 0


def test_a_new_synth_drops_an_older_attestation(assembly: Path, sign: Sign, compliance_model: ComplianceModel) -> None:
    assert sign(assembly) == 0
    write_evidence(replace(compliance_model, run=RUN), assembly / REPORT_DIRECTORY, oscal=False)
    assert not (assembly / ENVELOPE).exists()
