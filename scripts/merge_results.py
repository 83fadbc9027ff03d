"""`make merge-results`: fold the OSCAL assessment results of several runs into one document.

Each run's `assessment-results.json` holds one result with uuids of that run alone, so results
accumulate: `RESULTS="run1/assessment-results.json run2/assessment-results.json" OUT=all.json`. A
result already in the document is kept once; a uuid that names two different things is refused
(exit 1, naming it). The merged document is validated with compliance-trestle's OSCAL models.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.oscal.merge import MergeError, merge_files  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="assessment-results.json of each run, oldest first")
    parser.add_argument("--output", "-o", type=Path, required=True, help="where to write the merged document")
    args = parser.parse_args(argv)
    if len(args.results) < 2:
        parser.error("give at least two results documents")
    try:
        count = merge_files(args.results, args.output)
    except (MergeError, OSError, ValueError, KeyError) as error:
        print(f"Cannot merge: {error}", file=sys.stderr)
        return 1
    print(f"{args.output}: {count} result(s) from {len(args.results)} document(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
