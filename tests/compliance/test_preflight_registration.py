"""Preflight's registration matches the app: registered rules pass it, awaiting rules still find something.

An awaiting rule that the fixture app passes has lost the reason it waits: register it in `RULES`
(or, for an assembly rule, have the synth driver run it) in the change that fixed the last resource.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.catalogue import preflight_rules
from compliance.preflight import ASSEMBLY_RULES, PACK, RULES, RULES_AWAITING_FIXES, AssemblyRule, PreflightRule
from compliance.preflight.base import failures
from compliance.references import TemplateIndex
from config import AppConfig


@pytest.fixture(scope="module")
def index(assembly_dir: Path) -> TemplateIndex:
    return TemplateIndex.load(assembly_dir)


def test_rule_ids_are_unique_per_kind() -> None:
    resource_rules = [r.rule_id for r in (*RULES, *RULES_AWAITING_FIXES) if isinstance(r, PreflightRule)]
    assembly_rules = [r.rule_id for r in RULES_AWAITING_FIXES if isinstance(r, AssemblyRule)]
    assert len(resource_rules) == len(set(resource_rules))
    assert len(assembly_rules) == len(set(assembly_rules))


def test_the_catalogue_lists_the_registered_rules_only() -> None:
    assert {r.rule for r in preflight_rules()} == {f"{PACK}-{r.rule_id}" for r in RULES}


def test_registered_rules_pass_the_fixture_app(index: TemplateIndex, fixture_config: AppConfig) -> None:
    declared = {env.stage_id: frozenset(env.external_prerequisites) for env in fixture_config.environments}
    assert [(rule.rule_id, resource.path) for rule, resource, _ in failures(index, RULES, declared)] == []


def test_registered_assembly_rules_pass_the_fixture_app(assembly_dir: Path) -> None:
    assert [(rule.rule_id, line) for rule in ASSEMBLY_RULES for line in rule.check(assembly_dir)] == []


@pytest.mark.parametrize("rule", RULES_AWAITING_FIXES, ids=lambda r: f"{type(r).__name__}-{r.rule_id}")
def test_each_awaiting_rule_still_finds_what_it_waits_for(
    rule: PreflightRule | AssemblyRule, index: TemplateIndex, assembly_dir: Path
) -> None:
    found = rule.check(assembly_dir) if isinstance(rule, AssemblyRule) else list(failures(index, (rule,)))
    assert found, f"the app passes {rule.rule_id}: register it in RULES (or run it in the synth driver)"
