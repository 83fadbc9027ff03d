"""Which rule evidences which FedRAMP Moderate control at synth, as reviewed: the one source of control status.

A rule's description cites the NIST 800-53 controls it relates to (cdk-nag's packs, Preflight,
Control Tower's metadata). Those citations are documentation: they are generous, often cite a
control's policy ("-1") or plan, and sometimes the wrong control (a public-access block cited as
split tunnelling, SC-7(7)). `data/control-evidence.tsv` says instead what a rule's pass shows,
one row per rule and control (or control objective):

- `rule`: the rule id as the model names it (`NIST.800.53.R5-S3BucketSSLRequestsOnly`,
  `Preflight-MultiRegionTrail`, `ControlTower::CT.S3.PR.8`).
- `control`: what a pass evidences, as an OSCAL id of the FedRAMP Rev 5 Moderate baseline: the
  control (`sc-8.1`) where the rule shows its technical whole, an assessment objective of
  NIST SP 800-53A (`sc-7_obj.a-2`, `au-12_obj.a`) where it shows a part; `-` where a pass
  evidences no control (the row records that the rule was reviewed, and `basis` says why).
- `cited`: the citation the row comes from, as the rule writes it (`SC-8(1)`), or `-` for a
  row the review added (a rule that shows a control it does not cite).
- `parameter`: where FedRAMP assigns a value to the control (an organization-defined parameter of
  its profile, `au-11_odp`), which value that is and whether the rule judges it; `-` where none.
- `basis`: why the pass shows that control, in a phrase.

Every rule of the catalogue that cites a control has at least one row, and no row names a
policy, plan, training, personnel, physical or program control (tests/compliance/test_mapping.py).
Standard library only.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib import resources

NONE = "-"
# An OSCAL control id, optionally with an assessment objective: `sc-7.4`, `sc-7.4_obj.b`, `au-3_obj.c-1`.
_TARGET = re.compile(r"^[a-z]{2}-\d+(?:\.\d+)?(?:_obj(?:\.[a-z0-9]+(?:[.-][a-z0-9]+)*)?)?$")


@dataclass(frozen=True)
class EvidenceRow:
    """One row of the table: a rule, and the control or objective its pass evidences."""

    rule: str
    target: str  # "sc-7_obj.a-2", "sc-8.1", or "-"
    cited: str  # "SC-7(4)(b)", or "-"
    parameter: str  # the FedRAMP parameter judged, or "-"
    basis: str

    @property
    def control(self) -> str:
        """The control id the target belongs to (`sc-7` for `sc-7_obj.a-2`), or "" for a row that evidences none."""
        return "" if self.target == NONE else self.target.split("_obj", 1)[0]


@cache
def table() -> tuple[EvidenceRow, ...]:
    """Every row of data/control-evidence.tsv, `-` rows included."""
    text = resources.files("compliance.data").joinpath("control-evidence.tsv").read_text("utf-8")
    rows = tuple(
        EvidenceRow(row["rule"], row["control"], row["cited"], row["parameter"], row["basis"])
        for row in csv.DictReader(text.splitlines(), delimiter="\t")
    )
    bad = [r.target for r in rows if r.target != NONE and not _TARGET.match(r.target)]
    if bad:
        raise ValueError(f"control-evidence.tsv: not OSCAL control or objective ids: {', '.join(bad)}")
    return rows


@cache
def evidence() -> dict[str, tuple[str, ...]]:
    """Rule -> the controls and objectives its pass evidences (empty for a reviewed rule that evidences none)."""
    found: dict[str, list[str]] = defaultdict(list)
    for row in table():
        targets = found[row.rule]
        if row.target != NONE and row.target not in targets:
            targets.append(row.target)
    return {rule: tuple(targets) for rule, targets in found.items()}


def control_of(target: str) -> str:
    """`sc-7_obj.a-2` -> `sc-7`; `sc-8.1` -> `sc-8.1`."""
    return target.split("_obj", 1)[0]
