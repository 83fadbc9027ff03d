"""`make report`: re-render the compliance reports of an existing cloud assembly, without synthesizing.

Reads `cdk.out/compliance/findings.json` (written by every synth) and writes the
other reports, the OSCAL documents and the evidence manifest next to it again.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY, CloudAssembly  # noqa: E402
from compliance.evidence import write_evidence  # noqa: E402
from compliance.outputs.findings_json import FINDINGS, read_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    directory = Path(args[0]) if args else CloudAssembly(ROOT / OUTPUT_DIRECTORY).report_directory
    model = read_model(directory)
    if model is None:
        print(f"{directory / FINDINGS} does not exist: run `make synth` first", file=sys.stderr)
        return 2
    for path in write_evidence(model, directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
