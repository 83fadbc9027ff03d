"""`make golden`: render the golden compliance outputs again from their committed findings fixture.

`tests/fixtures/golden/findings.json` is a compliance model, cut down from a synth of the fixture
layout (`tests/fixtures/layouts.yaml`). Every other file of that folder is what the project's own
renderers make of it (`compliance.evidence.write_evidence`: report.md, report.html, report.sarif, junit.xml,
controls.csv, the Security Hub automation rules and the OSCAL documents), and findings.json itself is
rendered back from the model it holds. `tests/compliance/test_golden.py` renders them afresh and
compares byte for byte, so a change that moves code without meaning to change the evidence is shown
to leave it alone; a change that means to change it runs `make golden` and commits the diff.

`--from PATH` takes a new model from a synth's findings.json first, cut down as `cut_down` says.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.evidence import write_evidence  # noqa: E402
from compliance.model import ComplianceModel  # noqa: E402

GOLDEN = ROOT / "tests" / "fixtures" / "golden"
FINDINGS = "findings.json"
# The scopes kept: the pipeline and two stages, enough for every section of the report to have content.
KEPT_SCOPES = 3


def cut_down(findings: dict[str, Any]) -> dict[str, Any]:
    """A smaller model from a synth's findings.json: its first scopes only, and of their compliant
    evaluations one per scope and rule (every non-compliant or acknowledged one stays)."""
    keep = set(findings["scopes"][:KEPT_SCOPES])
    for listed in ("evaluations", "acknowledgments", "runtime_results", "suppressions", "inheritances"):
        findings[listed] = [item for item in findings[listed] if item["scope"] in keep]
    findings["scopes"] = [scope for scope in findings["scopes"] if scope in keep]
    findings["resources_per_scope"] = {k: v for k, v in findings["resources_per_scope"].items() if k in keep}
    findings["run"]["stages"] = {k: v for k, v in findings["run"]["stages"].items() if k in keep}
    for control in findings["controls"]:
        control["resources"] = [r for r in control["resources"] if r.split(":", 1)[0] in keep]
    seen: set[tuple[str, str, str]] = set()
    evaluations = []
    for evaluation in findings["evaluations"]:
        rule = (evaluation["scope"], evaluation["pack"], evaluation["rule"])
        if evaluation["status"] != "compliant" or rule not in seen:
            evaluations.append(evaluation)
            seen.add(rule)
    findings["evaluations"] = evaluations
    paths = {evaluation["path"] for evaluation in evaluations}
    findings["locations"] = [location for location in findings.get("locations", []) if location["path"] in paths]
    return findings


def render(source: Path, directory: Path) -> list[Path]:
    """Every golden file, rendered from the model in `source` into `directory`."""
    model = ComplianceModel.from_json(json.loads(source.read_text(encoding="utf-8")))
    return write_evidence(model, directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--from", dest="source", type=Path, help="a synth's findings.json to take the model from")
    args = parser.parse_args(argv)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    if args.source is not None:
        findings = cut_down(json.loads(args.source.read_text(encoding="utf-8")))
        (GOLDEN / FINDINGS).write_text(json.dumps(findings, indent=2) + "\n", encoding="utf-8", newline="\n")
    for path in render(GOLDEN / FINDINGS, GOLDEN):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
