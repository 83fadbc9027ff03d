"""The rules each pack evaluates, read from the installed packs themselves.

cdk-nag's packs are JavaScript classes whose `checkResource` applies each rule with
its description (which cites the NIST controls) and a rule function that tests the
resource's L1 type. Reading them from the cdk-nag package that is actually
installed keeps the report true to what ran: upgrading cdk-nag changes the
catalogue with no list to maintain by hand. How they are read is cdk-nag's internals,
and lives in `compliance.nag_adapter`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import cache
from importlib import metadata
from pathlib import Path

from compliance.model import Rule
from compliance.nag_adapter import CATALOGUE_READER, pack_rules
from compliance.packs import PACKS

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
    return tuple(rule for pack in PACKS if pack.cdk_nag_class for rule in pack_rules(pack.name, pack.cdk_nag_class))


def preflight_rules() -> tuple[Rule, ...]:
    """Our own pack's rules, from the pack's definitions."""
    from compliance.preflight import PACK, RULES

    return tuple(
        Rule(
            pack=PACK,
            rule=f"{PACK}-{r.rule_id}",
            description=r.explanation + (f" (Control IDs: {', '.join(r.controls)})." if r.controls else ""),
            cited=r.controls,
            resource_types=tuple(sorted(r.resource_types)),
        )
        for r in RULES
    )


def all_rules() -> tuple[Rule, ...]:
    return nag_rules() + preflight_rules()
