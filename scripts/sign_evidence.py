"""Sign a cloud assembly's evidence manifest with a KMS asymmetric key (the pipeline's SignEvidence step).

Signs the SHA-256 digest of `compliance/manifest.json` with `aws kms sign` (message type
DIGEST) and writes `compliance/manifest.sig.json`: the signature, the key's id and its
public key (`aws kms get-public-key`), so `make verify-evidence` can check it offline.
Standard library and the AWS CLI only: it runs on the CodeBuild image as it is.
"""

from __future__ import annotations

import argparse
import base64
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY, REPORT_DIRECTORY  # noqa: E402
from compliance.evidence import SIGNATURE, manifest_digest, signature_document, verify  # noqa: E402


def _aws(*args: str) -> str:
    return subprocess.run(["aws", *args, "--output", "text"], capture_output=True, text=True, check=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--key-id", required=True, help="ARN of the KMS SIGN_VERIFY key")
    parser.add_argument("--algorithm", default="ECDSA_SHA_256")
    parser.add_argument("--assembly", default=str(ROOT / OUTPUT_DIRECTORY))
    args = parser.parse_args(argv)
    assembly = Path(args.assembly)
    # Sign only evidence that is intact: a manifest that no longer matches its files would be signed in vain.
    unsigned = verify(assembly)
    if not unsigned.ok:
        print("\n".join(unsigned.problems), file=sys.stderr)
        return 1
    digest = manifest_digest(assembly)
    with tempfile.NamedTemporaryFile(suffix=".sha256") as message:
        message.write(digest)
        message.flush()
        signature = _aws(
            "kms",
            "sign",
            "--key-id",
            args.key_id,
            "--message",
            f"fileb://{message.name}",
            "--message-type",
            "DIGEST",
            "--signing-algorithm",
            args.algorithm,
            "--query",
            "Signature",
        )
    public_key = _aws("kms", "get-public-key", "--key-id", args.key_id, "--query", "PublicKey")
    path = assembly / REPORT_DIRECTORY / SIGNATURE
    path.write_text(
        signature_document(
            digest, base64.b64decode(signature), base64.b64decode(public_key), args.key_id, args.algorithm
        ),
        encoding="utf-8",
    )
    result = verify(assembly, require_signature=True)
    if not result.ok:
        print("\n".join(result.problems), file=sys.stderr)
        return 1
    print(f"{path}: manifest signed by {result.signed_by}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
