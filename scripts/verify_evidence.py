"""`make verify-evidence`: check a cloud assembly against its evidence manifest, and the signature if present.

Exit 0 when every template and report file matches the manifest (and the signature, when
there is one, verifies); 1 otherwise, with one line per problem. `--public-key` pins the
signing key (the DER or PEM public key of the pipeline's evidence key, from
`aws kms get-public-key`); without it, the key that signed is printed for comparison.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY  # noqa: E402
from compliance.evidence import verify  # noqa: E402


def _public_key(path: Path) -> bytes:
    data = path.read_bytes()
    if b"-----BEGIN" not in data:
        return data
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(data)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("assembly", nargs="?", default=str(ROOT / OUTPUT_DIRECTORY))
    parser.add_argument("--public-key", help="the expected signing key (DER or PEM); requires a signature")
    parser.add_argument("--require-signature", action="store_true", help="fail when the manifest is not signed")
    args = parser.parse_args(argv)
    pinned = _public_key(Path(args.public_key)) if args.public_key else None
    result = verify(Path(args.assembly), public_key_der=pinned, require_signature=args.require_signature)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if not result.ok:
        print(f"Evidence: FAIL ({len(result.problems)} problem(s))", file=sys.stderr)
        return 1
    signature = f"signed by {result.signed_by}" if result.signed_by else "not signed"
    print(f"Evidence: OK ({result.files} files match the manifest; {signature})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
