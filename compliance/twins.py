"""Each AWS Config rule of the account baseline, and the synth-time rule that checks the same thing first.

The FedRAMP Moderate conformance pack the Baseline deploys judges the account's resources
at runtime; a conformance-pack result cannot be suppressed. A Config rule has a *twin*
when a rule the synth gate runs reads the same property of the same resource, so the gate
makes a resource pass the Config rule or carry an acknowledgment that says why it will not.
`data/config-rule-twins.tsv` is the one place that says which (one row per twin):

- `config_rule`: the managed rule's identifier (`S3_BUCKET_LOGGING_ENABLED`); every rule of
  the pack appears, plus Config rules only Security Hub runs that have a twin.
- `config_types`: what AWS Config evaluates, `Type` or `Type[Property=value]`
  (`AWS::::Account` for rules about the account as a whole).
- `twin`: the synth rule id (`NIST.800.53.R5-S3BucketLoggingEnabled`, `AwsSolutions-S1`,
  `Preflight-S3ObjectLock`; a Control Tower proactive control is `ControlTower::CT.S3.PR.2`),
  or `-`.
- `relation`: for a twin, `same` (a finding there is a NON_COMPLIANT result here and a pass
  is a pass), `stricter` (a pass there is a pass here; a finding may still pass here) or
  `weaker` (a finding there is NON_COMPLIANT here; a pass may still fail here). Without a
  twin, why none is needed: `account` (a setting of the account, not of a template),
  `runtime` (a state no template sets), `default` (a service default no template turns off),
  `absent` (types this app does not deploy: a test holds the templates to that), or
  `unchecked` (concerns what we deploy and nothing checks it; kept empty).
- `twin_scope`: the synth resource types (same syntax) for which the relation holds, where
  the twin reads more than the Config rule does (cdk-nag's ELB logging rule also reads
  Network Load Balancers, which AWS Config's does not); empty means every resource it reads.
- `note`: why, in a phrase.

Adding a twin from another pack, such as a Control Tower proactive control, is one row: its
findings enter the compliance model under the same rule id, and the runtime outlook and the
Security Hub automation rules follow from the row.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

TWIN_RELATIONS = frozenset({"same", "stricter", "weaker"})
NO_TWIN_RELATIONS = frozenset({"account", "runtime", "default", "absent", "unchecked"})
ACCOUNT = "AWS::::Account"
_SELECTOR = re.compile(r"^(?P<type>[A-Za-z0-9]+::[A-Za-z0-9]*::[A-Za-z0-9]+)(?:\[(?P<prop>\w+)=(?P<value>[^\]]+)\])?$")


@dataclass(frozen=True)
class ResourceSelector:
    """A CloudFormation type, optionally narrowed to one value of one property (`AWS::X::Y[Type=application]`)."""

    type: str
    property: str = ""
    value: str = ""

    @staticmethod
    def parse(text: str) -> ResourceSelector:
        match = _SELECTOR.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a resource type such as 'AWS::S3::Bucket' or 'AWS::X::Y[Prop=value]'")
        return ResourceSelector(match["type"], match["prop"] or "", match["value"] or "")

    def matches(self, resource_type: str, properties: dict[str, Any]) -> bool:
        if resource_type != self.type:
            return False
        if not self.property:
            return True
        # An absent property takes the service's default where one is documented (ELBv2 `Type`: application).
        return str(properties.get(self.property, _DEFAULTS.get((self.type, self.property), ""))) == self.value


# Property defaults that a selector may test without the template stating them.
_DEFAULTS = {("AWS::ElasticLoadBalancingV2::LoadBalancer", "Type"): "application"}


@dataclass(frozen=True)
class Twin:
    """One row: a Config rule and one synth-time rule that checks it, or why it has none."""

    config_rule: str
    config_types: tuple[ResourceSelector, ...]
    twin: str  # "" when the Config rule has no twin
    relation: str
    twin_scope: tuple[ResourceSelector, ...]
    note: str

    @property
    def pack(self) -> str:
        """The pack the twin belongs to: 'NIST.800.53.R5', 'AwsSolutions', 'Preflight', 'ControlTower', or ''."""
        if not self.twin:
            return ""
        if "::" in self.twin:
            return self.twin.split("::", 1)[0]
        return self.twin.rsplit("-", 1)[0]

    @property
    def account_level(self) -> bool:
        return any(s.type == ACCOUNT for s in self.config_types)

    def covers(self, resource_type: str, properties: dict[str, Any]) -> bool:
        """Whether the relation holds for a synth resource of this type and these properties."""
        return not self.twin_scope or any(s.matches(resource_type, properties) for s in self.twin_scope)

    def evaluated_by_config(self, resource_type: str, properties: dict[str, Any]) -> bool:
        """Whether AWS Config's rule evaluates a resource of this type and these properties."""
        return any(s.matches(resource_type, properties) for s in self.config_types)


def _selectors(text: str) -> tuple[ResourceSelector, ...]:
    return tuple(ResourceSelector.parse(part) for part in text.split())


@cache
def twins() -> tuple[Twin, ...]:
    """Every row of the twin table, in file order (a Config rule's first twin is its preferred one)."""
    text = resources.files("compliance.data").joinpath("config-rule-twins.tsv").read_text("utf-8")
    rows: list[Twin] = []
    for row in csv.DictReader(text.splitlines(), delimiter="\t"):
        twin = "" if row["twin"] == "-" else row["twin"]
        relation = row["relation"]
        if (twin and relation not in TWIN_RELATIONS) or (not twin and relation not in NO_TWIN_RELATIONS):
            raise ValueError(f"config-rule-twins.tsv: {row['config_rule']} {row['twin']}: relation {relation!r}")
        rows.append(
            Twin(
                config_rule=row["config_rule"],
                config_types=_selectors(row["config_types"]),
                twin=twin,
                relation=relation,
                twin_scope=_selectors(row["twin_scope"] or ""),
                note=row["note"] or "",
            )
        )
    return tuple(rows)


def twins_of(config_rule: str) -> tuple[Twin, ...]:
    """The rows of one Config rule that name a twin, preferred first."""
    return tuple(t for t in twins() if t.config_rule == config_rule and t.twin)


def twins_by_synth_rule() -> dict[str, tuple[Twin, ...]]:
    """Synth rule id -> the rows naming it as the twin of a Config rule."""
    found: dict[str, list[Twin]] = {}
    for twin in twins():
        if twin.twin:
            found.setdefault(twin.twin, []).append(twin)
    return {rule: tuple(rows) for rule, rows in found.items()}


def classification(config_rules: tuple[str, ...]) -> dict[str, int]:
    """How many of `config_rules` have a twin in each pack (a rule may count in several), and how many have none.

    `twinned` counts rules with at least one twin; the no-twin kinds count the others by reason.
    """
    counts: Counter[str] = Counter()
    for rule in config_rules:
        rows = [t for t in twins() if t.config_rule == rule]
        packs = {t.pack for t in rows if t.twin}
        for pack in packs:
            counts[pack] += 1
        if packs:
            counts["twinned"] += 1
        else:
            counts[f"no twin: {rows[0].relation}" if rows else "no twin: unclassified"] += 1
    return dict(sorted(counts.items()))
