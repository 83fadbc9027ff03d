"""The rules each pack evaluates, read from the installed packs themselves, and what they cite.

cdk-nag's packs are JavaScript classes whose `checkResource` applies each rule with
its description (which cites the NIST controls) and a rule function that tests the
resource's L1 type. Reading them from the cdk-nag package that is actually
installed keeps the report true to what ran: upgrading cdk-nag changes the
catalogue with no list to maintain by hand. How they are read is cdk-nag's internals,
and lives in `compliance.nag_adapter`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from functools import cache
from importlib import metadata
from pathlib import Path

from compliance import control_tower, preflight
from compliance.model import Rule, control_id
from compliance.nag_adapter import CATALOGUE_READER, pack_rules
from compliance.runtime import config_rules
from compliance.twins import twins_of

# The packs cdk-nag ships that every synth runs, by name (the prefix of their finding ids) and cdk-nag class.
NIST_800_53_R5 = "NIST.800.53.R5"
NAG_PACKS = {NIST_800_53_R5: "NIST80053R5Checks", "AwsSolutions": "AwsSolutionsChecks"}

# Reading the packs means unpacking cdk-nag's bundle and importing CDK modules (most of a second); the result
# depends only on the two installed versions and on how they are read, so it is kept on disk per version pair.
_CACHE_DIRECTORY = Path(__file__).resolve().parent.parent / ".cache"


@cache
def nag_rules() -> tuple[Rule, ...]:
    """Every rule of the packs cdk-nag ships (NIST 800-53 R5, AWS Solutions), with its citations and resource types."""
    versions = f"cdk-nag-{metadata.version('cdk-nag')}-aws-cdk-lib-{metadata.version('aws-cdk-lib')}"
    cached = _CACHE_DIRECTORY / f"catalogue-{CATALOGUE_READER}-{versions}.json"
    if cached.exists():
        data = json.loads(cached.read_text(encoding="utf-8"))
        return tuple(
            Rule(**{**r, "cited": tuple(r["cited"]), "resource_types": tuple(r["resource_types"])}) for r in data
        )
    rules = _read_packs()
    try:
        _CACHE_DIRECTORY.mkdir(exist_ok=True)
        cached.write_text(json.dumps([asdict(r) for r in rules]), encoding="utf-8")
    except OSError:
        pass  # a read-only checkout just reads the packs every time
    return rules


def _read_packs() -> tuple[Rule, ...]:
    return tuple(rule for name, nag_class in NAG_PACKS.items() for rule in pack_rules(name, nag_class))


def preflight_rules() -> tuple[Rule, ...]:
    """Our own pack's rules, from the pack's definitions."""
    return tuple(
        Rule(
            pack=preflight.PACK,
            rule=f"{preflight.PACK}-{r.rule_id}",
            description=r.explanation + (f" (Control IDs: {', '.join(r.controls)})." if r.controls else ""),
            cited=r.controls,
            resource_types=tuple(sorted(r.resource_types)),
        )
        for r in preflight.RULES
    )


def all_rules() -> tuple[Rule, ...]:
    return nag_rules() + preflight_rules()


# --- what the rules cite ------------------------------------------------------------------------


def control_tower_rules(disabled_controls: Iterable[str] = ()) -> list[Rule]:
    """The enabled controls as rules of the compliance model, each citing the NIST 800-53 Rev 5 controls
    Control Tower maps it to in the plugin's metadata (`compliance.control_tower`); one the metadata maps
    to none cites nothing."""
    off = set(disabled_controls)
    return [
        Rule(
            pack=control_tower.PACK,
            rule=control.finding,
            description=f"[{control.control_id}] {control.description}",
            cited=control.nist,
            resource_types=control.resource_types,
        )
        for control in control_tower.controls()
        if control.control_id not in off
    ]


@cache
def config_rule_controls() -> dict[str, tuple[str, ...]]:
    """Config rule -> baseline control ids it monitors, through its synth-time twins in the NIST pack."""
    nist = {r.rule: r for r in nag_rules() if r.pack == NIST_800_53_R5}
    mapping: dict[str, tuple[str, ...]] = {}
    for rule in config_rules():
        cited = [nist[t.twin] for t in twins_of(rule.source_identifier) if t.twin in nist]
        if cited:
            ids = {cid for twin in cited for label in twin.cited if (cid := control_id(label))}
            mapping[rule.source_identifier] = tuple(sorted(ids))
    return mapping


def runtime_coverage(services: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    """Control id -> the runtime monitors that cover it, given each scope's deployed services.

    `services` maps a scope to what its baseline deploys ("config", "security_hub",
    "guardduty", "cloudtrail"). Only the conformance pack's rules carry per-control
    claims here; the other services are listed by the report but claim no control.
    """
    covered: dict[str, set[str]] = defaultdict(set)
    for scope, deployed in services.items():
        if "config" not in deployed:
            continue
        for rule, controls in config_rule_controls().items():
            for cid in controls:
                covered[cid].add(f"AWS Config {rule} ({scope})")
    return {cid: tuple(sorted(monitors)) for cid, monitors in covered.items()}
