"""docs/compliance.md's tables of Preflight's rules and of the claims are what the rules' own metadata gives."""

from __future__ import annotations

import re

from compliance.preflight import ASSEMBLY_RULES, PACK, RULES, AssemblyRule, PreflightRule
from scripts import rule_tables

EVERY_RULE: list[PreflightRule | AssemblyRule] = [*RULES, *ASSEMBLY_RULES]


def test_the_committed_tables_are_the_ones_the_rules_give() -> None:
    for document in rule_tables.DOCUMENTS:
        committed = document.read_text(encoding="utf-8")
        assert committed == rule_tables.render(committed), (
            f"{document.name}'s rule tables are stale: run make docs (scripts/rule_tables.py) and commit the result"
        )
        assert set(rule_tables.marked(committed)) == set(rule_tables.tables()), "a table lost its markers"


def test_every_rule_and_claim_describes_itself() -> None:
    rules = EVERY_RULE
    assert [r.rule_id for r in rules if not r.shortdesc] == []
    assert [r.rule_id for r in rules if not r.controls] == []
    claims = rule_tables.claims()
    assert [c.__name__ for c in claims if not c.shortdesc] == []
    assert [c.__name__ for c in claims if not c.controls] == []


def test_source_urls_are_aws_documentation() -> None:
    urls = [r.source_url for r in EVERY_RULE] + [c.source_url for c in rule_tables.claims()]
    assert [u for u in urls if u and not u.startswith("https://docs.aws.amazon.com/")] == []


def test_controls_are_nist_labels() -> None:
    labels = [c for r in EVERY_RULE for c in r.controls]
    labels += [c for claim in rule_tables.claims() for c in claim.controls]
    assert [c for c in labels if not re.fullmatch(r"[A-Z]{2}-\d+(\(\d+\))?", c)] == []


def test_each_rule_has_one_row() -> None:
    rows = [row for name in ("preflight-rules", "preflight-twins") for row in rule_tables.tables()[name][2:]]
    named = [re.match(r"\| `([\w-]+)` \|", row).group(1) for row in rows]  # type: ignore[union-attr]
    assert sorted(named) == sorted({f"{PACK}-{r.rule_id}" for r in EVERY_RULE})
