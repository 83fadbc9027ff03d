"""The import graph of the project's packages: one way, in layers.

Read from the source with `ast`, without importing it. Every import counts, at the top of a module or
inside a function, and those under `if TYPE_CHECKING:` too (a type a module names is a dependency of its
design even when Python does not load it). What holds:

- no cycle among the project's modules;
- config/ imports nothing from compliance/ (configuration is validated before any compliance code runs);
- compliance/ is in the layers of `LAYERS`, and a module imports only from its own layer or those below;
- no import of a project module sits inside a function, except those of `DEFERRED`, each with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("compliance", "config", "components", "stacks", "stages", "pipeline")

# compliance/, bottom to top: a module name, or a package and everything under it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "data: the model, the tables under data/ and their readers, the attestation (standard library only)",
        (
            "compliance.data",
            "compliance.model",
            "compliance.mapping",
            "compliance.attestation",
            "compliance.inheritance",
            "compliance.twins",
            "compliance.runtime",
            "compliance.securityhub",
            "compliance.plugin_time",
        ),
    ),
    ("assembly: the cloud assembly's reader and its reference index", ("compliance.assembly", "compliance.references")),
    (
        "rules: Preflight's rules and registry, the claims of compensating controls (no jsii)",
        ("compliance.checks", "compliance.claims", "compliance.preflight"),
    ),
    (
        "packs: the packs, the rule catalogue, cdk-nag, the Control Tower plugin, Preflight's registration",
        (
            "compliance.control_tower",
            "compliance.cfn_guard",
            "compliance.nag_adapter",
            "compliance.catalogue",
            "compliance.packs",
            "compliance.nag_plugin",
            "compliance.control_tower_validator",
            "compliance.preflight.pack",
        ),
    ),
    ("acknowledge: what stacks and components import", ("compliance.acknowledgments",)),
    (
        "evaluation: findings, checks, the runtime outlook and the resources' locations into one model",
        ("compliance.evaluation", "compliance.outlook", "compliance.locations"),
    ),
    ("outputs: one renderer per format", ("compliance.report", "compliance.outputs", "compliance.oscal")),
    (
        "evidence: manifest, attestation check, baseline sign-off, run identity",
        ("compliance.evidence", "compliance.signoff", "compliance.identity"),
    ),
    ("gate: the verdict of a synth, and the package's own names", ("compliance.gate", "compliance")),
)

# Imports of a project module inside a function, each with why it waits: none may be there to break a cycle.
DEFERRED: dict[tuple[str, str], str] = {
    ("compliance.packs", "compliance.preflight.pack"): "a jsii plugin: imported when the app registers it, "
    "so the synth driver, the gate and the reports read the list of packs without starting jsii",
    ("compliance.packs", "compliance.nag_plugin"): "cdk-nag's packs as jsii plugins: imported when the app registers "
    "them, for the same reason",
    ("compliance.packs", "compliance.control_tower_validator"): "a jsii plugin: imported when the app registers it, "
    "for the same reason",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importer
    target: str  # the project module imported
    in_function: bool
    line: int


@cache
def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str) -> str | None:
    """The project module `name` is, or is in; None for a module outside the project."""
    modules = _modules()
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([base] if base else [])])
    for alias in node.names:
        # `from compliance import checks` imports the module compliance.checks; `from compliance import acknowledge`
        # imports a name of the package compliance.
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in _modules() else base


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_function = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _targets(module, path, node):
                target = _resolve(name)
                if target is not None and target != module:
                    found.append(Import(module, target, id(node) in in_function, node.lineno))
    return tuple(dict.fromkeys(found))


def _layer(module: str) -> int | None:
    """The index in `LAYERS` of the longest prefix that names `module`."""
    best: tuple[int, int] | None = None
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            named = module == member or module.startswith(member + ".")
            if named and (best is None or len(member) > best[1]):
                best = (index, len(member))
    return best[0] if best else None


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo += graph[node]
    return seen


def _cycles() -> list[list[str]]:
    """The groups of modules that import each other, directly or through others."""
    graph: dict[str, set[str]] = {m: set() for m in _modules()}
    for i in imports():
        graph[i.module].add(i.target)
    reach = {m: _reachable(graph, m) for m in graph}
    groups = {tuple(sorted(m2 for m2 in reach[m] if m in reach[m2])) for m in graph if m in reach[m]}
    return sorted(list(g) for g in groups)


pytestmark: list[pytest.MarkDecorator] = []


def test_the_project_imports_have_no_cycle() -> None:
    assert _cycles() == []


def test_config_imports_nothing_from_compliance() -> None:
    upward = [i for i in imports() if i.module.startswith("config") and i.target.startswith("compliance")]
    assert upward == []


def test_every_compliance_module_is_in_a_layer() -> None:
    assert [m for m in _modules() if m.startswith("compliance") and _layer(m) is None] == []


def test_compliance_imports_point_down_the_layers() -> None:
    upward = [
        f"{i.module} ({LAYERS[_layer(i.module) or 0][0].split(':')[0]}) imports {i.target} "
        f"({LAYERS[_layer(i.target) or 0][0].split(':')[0]}), line {i.line}"
        for i in imports()
        if i.module.startswith("compliance")
        and i.target.startswith("compliance")
        and (_layer(i.target) or 0) > (_layer(i.module) or 0)
    ]
    assert upward == []


def test_no_project_module_is_imported_inside_a_function_but_those_deferred_for_a_reason() -> None:
    inside = {(i.module, i.target) for i in imports() if i.in_function}
    assert sorted(inside - DEFERRED.keys()) == []
    assert sorted(DEFERRED.keys() - inside) == [], "a deferred import no longer deferred: remove it from DEFERRED"


def test_the_graph_reader_sees_both_kinds_of_import() -> None:
    edges = {(i.module, i.target) for i in imports()}
    assert ("compliance.evidence", "compliance.attestation") in edges
    assert ("stages.monitoring_stage", "compliance") in edges


# report.md's summary counts the automation rules, per region, that the Security Hub document holds.
_SHARED_FORMATS = {("compliance.outputs.markdown", "compliance.outputs.securityhub_rules")}
# What formats share, and no format itself: the counts and scopes (`common`), and the first section of report.md
# and report.html, so both say the same sentences (`attention`).
_SHARED = {"compliance.outputs.common", "compliance.outputs.attention"}


def test_no_output_format_imports_another() -> None:
    crossing = [
        f"{i.module} imports {i.target}"
        for i in imports()
        if i.module.startswith("compliance.outputs.")
        and i.target.startswith("compliance.outputs")
        and i.target not in _SHARED
        and (i.module, i.target) not in _SHARED_FORMATS
    ]
    assert crossing == []


def test_no_claim_module_imports_another_but_the_engine() -> None:
    crossing = [
        f"{i.module} imports {i.target}"
        for i in imports()
        if i.module.startswith("compliance.claims.")
        and i.target.startswith("compliance.claims")
        and i.target != "compliance.claims.engine"
    ]
    assert crossing == []
