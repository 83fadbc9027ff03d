"""`make verify-evidence`: check a pipeline run's cloud assembly against the attestation the pipeline signed.

Every file of the assembly must be in the signed statement with the same sha256 (a file added,
removed or changed fails, by name), and the envelope's signature must verify with the pinned
public key of the pipeline's evidence key (`--public-key`, PEM or DER, from
`aws kms get-public-key`). `--execution-id`, `--revision` and `--pipeline-arn` must match the run
the statement names, when given. Exit 0 when all holds, printing what was verified; 1 otherwise,
one line per problem. Without a public key or an attestation it fails, unless `--allow-unsigned`:
then it checks the files against the statement unsigned, or against the synth's own manifest,
and says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY  # noqa: E402
from compliance.attestation import ENVELOPE  # noqa: E402
from compliance.evidence import Expected, Verification, verify  # noqa: E402


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assembly", nargs="?", default=str(ROOT / OUTPUT_DIRECTORY), help="the Synth output")
    parser.add_argument("--envelope", help=f"the SignEvidence output's envelope (default: ASSEMBLY/{ENVELOPE})")
    parser.add_argument("--public-key", help="the pipeline's evidence key, PEM or DER (aws kms get-public-key)")
    parser.add_argument("--execution-id", help="the CodePipeline execution the evidence must be of")
    parser.add_argument("--revision", help="the commit the evidence must be of")
    parser.add_argument("--pipeline-arn", help="the pipeline the evidence must be of")
    parser.add_argument(
        "--allow-unsigned",
        action="store_true",
        help="accept evidence whose signature is not checked (a local synth): the hashes only",
    )
    return parser.parse_args(argv)


def _report(result: Verification) -> None:
    for warning in result.warnings:
        print(f"WARNING: {warning}; nothing proves which pipeline run, if any, produced these files")
    if result.run is None:
        print(f"Evidence: OK, UNSIGNED ({result.files} files match)")
        return
    run = result.run
    print(f"Evidence: {'OK' if result.key else 'OK, UNSIGNED'} ({result.files} files, each as the statement lists it)")
    print(f"  pipeline   {run.pipeline}")
    print(f"  execution  {run.execution}")
    print(f"  revision   {run.revision} ({run.repository}, branch {run.branch})")
    print(f"  signed     {run.time} by {run.build}")
    print(f"  key        {result.key or 'NOT CHECKED'}")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        public_key = Path(args.public_key).read_bytes() if args.public_key else None
    except OSError as error:
        print(f"{args.public_key}: cannot read the public key ({error.strerror})", file=sys.stderr)
        return 1
    result = verify(
        Path(args.assembly),
        envelope=Path(args.envelope) if args.envelope else None,
        public_key=public_key,
        allow_unsigned=args.allow_unsigned,
        expected=Expected(execution=args.execution_id, revision=args.revision, pipeline=args.pipeline_arn),
    )
    if not result.ok:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        print(f"Evidence: FAIL ({len(result.problems)} problem(s))", file=sys.stderr)
        return 1
    _report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
