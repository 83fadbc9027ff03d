"""Preflight's registration matches the code and the app: every rule a module defines is registered, every claim
is listed, and every registered rule passes the app, or its finding is acknowledged."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

from compliance import checks, claims, preflight
from compliance.catalogue import preflight_rules
from compliance.claims.engine import Check
from compliance.model import ComplianceModel, Status
from compliance.preflight import ASSEMBLY_RULES, PACK, RULES, AssemblyRule, PreflightRule
from compliance.preflight.base import Context, failures
from compliance.references import TemplateIndex
from config import AppConfig


@pytest.fixture(scope="module")
def index(assembly_dir: Path) -> TemplateIndex:
    return TemplateIndex.load(assembly_dir)


def test_rule_ids_are_unique_per_kind() -> None:
    resource_rules = [r.rule_id for r in RULES if isinstance(r, PreflightRule)]
    assembly_rules = [r.rule_id for r in ASSEMBLY_RULES if isinstance(r, AssemblyRule)]
    assert len(resource_rules) == len(set(resource_rules))
    assert len(assembly_rules) == len(set(assembly_rules))


def _modules(package: ModuleType) -> list[ModuleType]:
    """The modules of a package, imported."""
    return [importlib.import_module(f"{package.__name__}.{m.name}") for m in pkgutil.iter_modules(package.__path__)]


def test_every_rule_a_module_defines_is_registered() -> None:
    """A rule module whose rule is missing from `RULES` or `ASSEMBLY_RULES` would never run."""
    registered = {id(r) for r in (*RULES, *ASSEMBLY_RULES)}
    defined = {
        f"{module.__name__}.{name}": value
        for module in _modules(preflight)
        for name, value in vars(module).items()
        if isinstance(value, PreflightRule | AssemblyRule)
    }
    assert len(defined) >= len(RULES) + len(ASSEMBLY_RULES)
    assert sorted(name for name, rule in defined.items() if id(rule) not in registered) == []
    without_rule = [
        m.__name__
        for m in _modules(preflight)
        if m.__name__.rsplit(".", 1)[-1] not in ("base", "pack")
        and not any(isinstance(v, PreflightRule | AssemblyRule) for v in vars(m).values())
    ]
    assert without_rule == []


def test_every_claim_is_listed_where_acknowledgments_find_it() -> None:
    """Every `Check` a claims module defines is exported by `compliance.checks`, the index stacks import from."""
    defined = {
        value
        for module in _modules(claims)
        for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, Check) and value is not Check
    }
    exported = {getattr(checks, name) for name in checks.__all__}
    assert len(defined) > 20
    assert sorted(c.__name__ for c in defined - exported) == []


def test_the_catalogue_lists_the_registered_rules_only() -> None:
    assert {r.rule for r in preflight_rules()} == {f"{PACK}-{r.rule_id}" for r in RULES}


def test_registered_rules_pass_the_fixture_app(index: TemplateIndex, fixture_config: AppConfig) -> None:
    declared = {env.stage_id: frozenset(env.external_prerequisites) for env in fixture_config.environments}
    open_findings = []
    for rule, resource, verdict in failures(index, RULES, declared):
        metadata = resource.stack.resources[resource.logical_id].get("Metadata", {})
        acknowledged = {a["id"] for a in metadata.get("cdk_nag", {}).get("rules_to_suppress", [])}
        if f"{PACK}-{rule.rule_id}[{verdict.finding}]" not in acknowledged:
            open_findings.append((rule.rule_id, resource.path))
    assert open_findings == []


def test_registered_assembly_rules_pass_the_fixture_app(assembly_dir: Path) -> None:
    assert [(rule.rule_id, line) for rule in ASSEMBLY_RULES for line in rule.check(assembly_dir)] == []


def test_a_preflight_pass_is_a_resource_its_rule_applies_to(
    index: TemplateIndex, compliance_model: ComplianceModel, fixture_config: AppConfig
) -> None:
    """A Preflight rule says when it does not apply (a name rule on a resource without a name): no pass then."""
    declared = {env.stage_id: frozenset(env.external_prerequisites) for env in fixture_config.environments}
    passes = {(e.rule, e.path) for e in compliance_model.evaluations if e.pack == PACK and e.status is Status.COMPLIANT}
    applies: dict[bool, set[tuple[str, str]]] = {True: set(), False: set()}
    for resource in index.all_resources():
        context = Context(index=index, external_prerequisites=declared.get(resource.stack.stage, frozenset()))
        for rule in RULES:
            if rule.reads(resource.type):
                applies[rule.check(resource, context).applies].add((f"{PACK}-{rule.rule_id}", resource.path))
    assert applies[False], "no rule found anything it does not apply to: the fixture no longer shows the case"
    assert passes & applies[False] == set()
    assert passes <= applies[True]
    assert {r for r, _ in applies[False]} >= {f"{PACK}-UniquePhysicalName", f"{PACK}-ReservedConcurrency"}
