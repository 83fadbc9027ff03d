"""The signed attestation of one pipeline run: every file of its cloud assembly, bound to the run (AU-10, SI-7).

The pipeline's SignEvidence step runs this file. Its text is embedded in the step's buildspec at
synth, so what signs is the version the deployed pipeline was last approved with, never the pushed
commit's: the step's only input is the Synth output (the assembly), and it installs and runs
nothing of it. Standard library and the AWS CLI only: it runs on the build image as it is.

    python3 attestation.py --assembly . --key-id KEY_ARN

It hashes every file of the assembly, refusing symbolic links and anything but regular files,
and writes an in-toto Statement v1 (https://github.com/in-toto/attestation, spec/v1) whose
`subject` lists each file by its path in the assembly with its sha256, and whose predicate is SLSA
provenance v1 (https://slsa.dev/provenance/v1): the pipeline (`builder.id`), the execution
(`metadata.invocationId`), the source revision as CodePipeline saw it (`resolvedDependencies`),
the configuration's repository and branch (`externalParameters`), the signing build and the time.
It signs DSSE's pre-authentication encoding of it (https://github.com/secure-systems-lab/dsse,
protocol.md) with the pipeline's KMS key, ECDSA_SHA_256, and writes the DSSE envelope, one line,
to `compliance/evidence.intoto.jsonl` (an in-toto bundle of one). KMS signs at most 4096 bytes of
raw message, so it is given the SHA-256 digest of the encoding (message type DIGEST), which yields
the same ECDSA-SHA256 signature. The envelope's `sig` is that signature as KMS returns it: DER
(an ASN.1 ECDSA-Sig-Value), base64.

It lives beside `compliance.evidence`, which verifies what it writes with the same definitions;
the package starts no CDK, so neither does verification.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Where the envelope sits in the assembly, next to the reports; the one file the statement cannot list.
ENVELOPE = "compliance/evidence.intoto.jsonl"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# The build this provenance describes: a CodePipeline run of this app, from its source to the signed assembly.
BUILD_TYPE = "urn:fedramp-monitoring:cdk-pipelines-run:v1"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
_REVISION = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_EXECUTION = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class EvidenceError(Exception):
    """Evidence that cannot be signed or read, with the one line that says why."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assembly_files(assembly: Path) -> tuple[dict[str, str], list[str]]:
    """Every regular file under `assembly` (but the envelope) by its POSIX path there, with its sha256; and
    one line for each entry refused: a symbolic link, a device, socket or pipe, a directory that cannot be
    read, a name that is not UTF-8. Links are never followed, so nothing outside the assembly is read."""
    files: dict[str, str] = {}
    refused: list[str] = []

    def unreadable(error: OSError) -> None:
        refused.append(f"{error.filename}: cannot be read ({error.strerror})")

    for directory, subdirectories, names in os.walk(assembly, onerror=unreadable):
        for name in sorted(subdirectories + names):
            path = Path(directory, name)
            relative = path.relative_to(assembly).as_posix()
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                refused.append(f"{relative}: a symbolic link; an assembly holds only files and folders")
            elif stat.S_ISDIR(mode):
                continue
            elif not stat.S_ISREG(mode):
                refused.append(f"{relative}: not a regular file")
            elif not _utf8(relative):
                refused.append(f"{relative!r}: a name that is not UTF-8")
            elif relative != ENVELOPE:
                files[relative] = sha256_of(path)
    return files, refused


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Run:
    """The pipeline run that an attestation binds the assembly to."""

    pipeline: str  # the pipeline's ARN
    execution: str  # CodePipeline's execution id
    revision: str  # the commit CodePipeline's source action resolved
    repository: str
    branch: str
    build: str  # the signing CodeBuild build's ARN
    time: str  # when it signed, UTC

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], now: datetime) -> Run:
        """What CodeBuild and the step's own variables say about the run that started this build."""
        missing = [
            name
            for name in ("EXECUTION_ID", "SOURCE_REVISION", "REPOSITORY", "BRANCH", "CODEBUILD_BUILD_ARN")
            if not environ.get(name)
        ]
        if missing:
            raise EvidenceError(f"{', '.join(missing)} not set: the evidence is signed only in the pipeline's step")
        initiator = environ.get("CODEBUILD_INITIATOR", "")
        if not initiator.startswith("codepipeline/"):
            raise EvidenceError(f"CODEBUILD_INITIATOR is {initiator!r}: only a run CodePipeline started is signed")
        # arn:<partition>:codebuild:<region>:<account>:build/<project>:<build id>
        build = environ["CODEBUILD_BUILD_ARN"]
        parts = build.split(":")
        if len(parts) < 7 or parts[0] != "arn" or parts[2] != "codebuild":
            raise EvidenceError(f"CODEBUILD_BUILD_ARN {build!r} is not a CodeBuild build's ARN")
        revision, execution = environ["SOURCE_REVISION"], environ["EXECUTION_ID"]
        if not _REVISION.fullmatch(revision):
            raise EvidenceError(f"SOURCE_REVISION {revision!r} is not a commit id")
        if not _EXECUTION.fullmatch(execution):
            raise EvidenceError(f"EXECUTION_ID {execution!r} is not a CodePipeline execution id")
        return cls(
            pipeline=f"arn:{parts[1]}:codepipeline:{parts[3]}:{parts[4]}:{initiator[len('codepipeline/') :]}",
            execution=execution,
            revision=revision,
            repository=environ["REPOSITORY"],
            branch=environ["BRANCH"],
            build=build,
            time=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def predicate(self) -> dict[str, Any]:
        """SLSA provenance v1: the pipeline is the builder, its execution the invocation."""
        return {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"repository": self.repository, "ref": f"refs/heads/{self.branch}"},
                "internalParameters": {"signingBuild": self.build},
                "resolvedDependencies": [{"name": self.repository, "digest": {"gitCommit": self.revision}}],
            },
            "runDetails": {
                "builder": {"id": self.pipeline},
                "metadata": {"invocationId": self.execution, "finishedOn": self.time},
            },
        }

    @classmethod
    def from_predicate(cls, predicate: Any) -> Run:
        """The run a predicate of `BUILD_TYPE` names, or an `EvidenceError` saying which field is missing."""
        try:
            definition, details = predicate["buildDefinition"], predicate["runDetails"]
            if definition["buildType"] != BUILD_TYPE:
                raise EvidenceError(f"the provenance's buildType is {definition['buildType']!r}, not {BUILD_TYPE}")
            (source,) = definition["resolvedDependencies"]
            ref = str(definition["externalParameters"]["ref"])
            return cls(
                pipeline=str(details["builder"]["id"]),
                execution=str(details["metadata"]["invocationId"]),
                revision=str(source["digest"]["gitCommit"]),
                repository=str(definition["externalParameters"]["repository"]),
                branch=ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref,
                build=str(definition["internalParameters"]["signingBuild"]),
                time=str(details["metadata"]["finishedOn"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise EvidenceError(f"the provenance lacks a field of {BUILD_TYPE}: {error}") from None


def statement(files: Mapping[str, str], run: Run) -> dict[str, Any]:
    """The in-toto Statement v1: every file with its sha256, the run as SLSA provenance."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": files[name]}} for name in sorted(files)],
        "predicateType": PREDICATE_TYPE,
        "predicate": run.predicate(),
    }


def read_statement(payload: bytes) -> tuple[dict[str, str], Run]:
    """The files and the run of a statement this module wrote, or an `EvidenceError`."""
    try:
        document = json.loads(payload)
        subjects = document["subject"]
        if document["_type"] != STATEMENT_TYPE or document["predicateType"] != PREDICATE_TYPE:
            raise EvidenceError(f"the payload is not an in-toto Statement v1 of {PREDICATE_TYPE}")
        files: dict[str, str] = {}
        for subject in subjects:
            name, digest = str(subject["name"]), str(subject["digest"]["sha256"])
            if name in files or not _SHA256.fullmatch(digest):
                raise EvidenceError(f"the statement lists {name!r} twice or without a sha256")
            files[name] = digest
        return files, Run.from_predicate(document["predicate"])
    except (KeyError, TypeError, ValueError) as error:
        raise EvidenceError(f"the payload is not a statement of evidence: {error}") from None


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1's pre-authentication encoding: what is signed, never the payload alone."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def envelope(payload: bytes, signature: bytes, keyid: str) -> dict[str, Any]:
    """The DSSE JSON envelope of a payload and one signature."""
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(signature).decode("ascii")}],
    }


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not: DSSE verifiers must accept either."""
    normalized = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)


def kms_sign(message: bytes, key_id: str, aws_cli: str) -> bytes:
    """The DER signature of `message` by the KMS key (ECDSA_SHA_256), through the AWS CLI."""
    with tempfile.TemporaryDirectory() as directory:
        digest = Path(directory, "message.sha256")
        digest.write_bytes(hashlib.sha256(message).digest())
        command = [aws_cli, "kms", "sign", "--key-id", key_id, "--message", f"fileb://{digest}"]
        command += ["--message-type", "DIGEST", "--signing-algorithm", SIGNING_ALGORITHM]
        try:
            result = subprocess.run(
                [*command, "--query", "Signature", "--output", "text"], capture_output=True, text=True, check=False
            )
        except OSError as error:
            raise EvidenceError(f"cannot run {aws_cli}: {error.strerror}") from None
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        raise EvidenceError(f"aws kms sign failed: {lines[-1]}")
    try:
        return b64decode(result.stdout)
    except (binascii.Error, ValueError):
        raise EvidenceError("aws kms sign returned no base64 signature") from None


def sign(assembly: Path, output: Path, *, key_id: str, aws_cli: str, environ: Mapping[str, str]) -> str:
    """Attest every file of `assembly` for the run `environ` describes; write the envelope to `output`."""
    files, refused = assembly_files(assembly)
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise EvidenceError(f"refusing to sign the assembly: {refused[0]}{more}")
    run = Run.from_environment(environ, datetime.now(UTC))
    payload = json.dumps(statement(files, run), sort_keys=True, separators=(",", ":")).encode("utf-8")
    signature = kms_sign(pae(PAYLOAD_TYPE, payload), key_id, aws_cli)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(envelope(payload, signature, key_id), sort_keys=True) + "\n", encoding="utf-8")
    return f"{output}: {len(files)} files attested for {run.pipeline}, execution {run.execution} at {run.revision}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Sign a pipeline run's cloud assembly as an in-toto attestation.")
    parser.add_argument("--assembly", default=".", help="the Synth output: the cloud assembly")
    parser.add_argument("--key-id", default=os.environ.get("EVIDENCE_KEY_ARN", ""), help="the KMS signing key's ARN")
    parser.add_argument("--output", help=f"where the envelope goes (default: ASSEMBLY/{ENVELOPE})")
    # Which AWS CLI signs: the image's, or a stand-in that signs with a local key where there is no AWS.
    parser.add_argument("--aws-cli", default=os.environ.get("EVIDENCE_AWS_CLI", "aws"))
    args = parser.parse_args(argv)
    assembly = Path(args.assembly)
    try:
        if not args.key_id:
            raise EvidenceError("no signing key: give --key-id or set EVIDENCE_KEY_ARN")
        if not (assembly / "manifest.json").is_file():
            raise EvidenceError(f"{assembly} holds no cloud assembly (no manifest.json)")
        output = Path(args.output) if args.output else assembly / ENVELOPE
        print(sign(assembly, output, key_id=args.key_id, aws_cli=args.aws_cli, environ=os.environ))
    except EvidenceError as error:
        print(f"SignEvidence: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
