"""Control Tower's proactive controls at synth: the catalogue, the gate's acknowledgments, the report's list."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match

from compliance import AcknowledgmentKind, acknowledge, control_tower, findings
from compliance.catalogue import control_tower_rules
from compliance.checks import KEY, SUBNET, ResolvedAtDeploy, Versioned
from compliance.control_tower_validator import validator
from compliance.model import ComplianceModel, Status, control_id
from compliance.outputs.markdown import controls_to_disable, render_markdown
from compliance.packs import CONTEXT, record_acknowledgments_in_templates
from compliance.references import TemplateIndex
from components.resource_policies import harden_resource_policies
from config import PROJECT_ROOT, ConfigError, parse_config
from config.control_tower_controls import NIST_FRAMEWORK, guard_files, metadata
from config.jsii_environment import jsii_environment
from tests.conftest import LAYOUTS, StackArtifact

# --- the catalogue: a canary for the plugin's bundled metadata and Guard files ----------------------

# The pinned plugin (0.0.62) bundles 237 controls; all but three map to NIST 800-53 Rev 5 controls.
_BUNDLED_AT_LEAST = 230
_MAPPED_TO_NIST_AT_LEAST = 230


def test_the_catalogue_is_read_from_the_installed_plugin() -> None:
    """Canary: the layout of the plugin's bundle is what `config.control_tower_controls` reads.

    rules/control-tower/metadata/<service>/ct-*.metadata.json, each with `Id`, `DisplayName`,
    `EvaluatedResourceTypes` and a "NIST 800-53 Rev 5" entry in `ComplianceFrameworkMappings`, next to
    rules/control-tower/cfn-guard/<service>/ct-*.guard with a `rule <name> when is_cfn_template(...)`.
    A file whose fields are renamed or missing fails `metadata()` itself, naming the file and the field.
    """
    stems = {stem for stem, _ in guard_files()}
    described = metadata()
    assert len(described) >= _BUNDLED_AT_LEAST, (
        f"the plugin bundles {len(described)} control metadata files, expected at least {_BUNDLED_AT_LEAST}: "
        "has the layout of rules/control-tower/metadata/ changed?"
    )
    assert {m.file_stem for m in described} == stems, (
        "the plugin's metadata files and Guard files no longer pair up by name: "
        f"metadata only {sorted({m.file_stem for m in described} - stems)}, "
        f"Guard only {sorted(stems - {m.file_stem for m in described})}"
    )
    mapped = [m for m in described if m.nist]
    assert len(mapped) >= _MAPPED_TO_NIST_AT_LEAST, (
        f"only {len(mapped)} controls' metadata map them to {NIST_FRAMEWORK!r} controls, expected at least "
        f"{_MAPPED_TO_NIST_AT_LEAST}: has `ComplianceFrameworkMappings` or the framework's name changed?"
    )
    controls = control_tower.controls()
    assert [c.control_id for c in controls] == [m.control_id for m in described]
    for control in controls:
        assert control_tower.CONTROL_ID.fullmatch(control.control_id), control
        assert control.file_stem == control.control_id.lower().replace(".", "-"), control
        assert re.fullmatch(r"[a-z0-9_]+", control.rule), control
        assert control.resource_types, f"{control.control_id} evaluates no resource type"
        assert all(re.fullmatch(r"AWS::\w+::\w+", t) for t in control.resource_types), control
        assert set(control.resource_types) <= control.queried_types, control
    assert len({c.rule for c in controls}) == len(controls), "two controls share a Guard rule name"


def test_a_control_is_what_its_metadata_says_and_its_guard_rule_names() -> None:
    by_id = control_tower.by_id()
    s3 = by_id["CT.S3.PR.1"]
    assert s3.resource_types == ("AWS::S3::Bucket",)
    assert s3.description == "Require an Amazon S3 bucket to have block public access settings configured"
    assert {"AC-3", "AC-6", "SC-7(3)", "SC-7(21)"} <= set(s3.nist)
    # The metadata spells the type as CloudFormation does (some Guard headers write 'AutoscalingGroup').
    assert by_id["CT.AUTOSCALING.PR.6"].resource_types == ("AWS::AutoScaling::AutoScalingGroup",)
    assert by_id["CT.AUTOSCALING.PR.6"].applies_to({"AWS::AutoScaling::AutoScalingGroup"})
    # The plugin names violations after the Guard code's template rule, not the rule its comments name.
    assert by_id["CT.ELASTICACHE.PR.3"].rule == "elasticache_repl_grp_auto_failover_enabled_check"
    # A control applies to a template with a type its rule names (the log group's also names the key's type,
    # which only widens where it runs), and to no other.
    log_groups = by_id["CT.CLOUDWATCH.PR.3"]
    assert log_groups.applies_to({"AWS::Logs::LogGroup"})
    assert not log_groups.applies_to({"AWS::S3::Bucket", "AWS::SQS::Queue"})


# --- the property the per-template run rests on, checked in every bundled Guard file ----------------

_LET = re.compile(r"^let\s+(\w+)\s*=\s*(.+?)(?=^let\s|^rule\s|\Z)", re.MULTILINE | re.DOTALL)
_SELECTION = re.compile(r"^Resources(?:\.\*)?\[\s*(.+?)\s*\]$", re.DOTALL)
_TYPE_TEST = re.compile(r"^Type\s*==\s*(%\w+|\"[^\"]+\"|'[^']+')$")
# Every rule declaration, with what follows its name: "(" a parameterised helper, "when ..." up to its block.
_RULE = re.compile(r"^[ \t]*rule\s+(\w+)\s*(\(|when\b(.*?)\{|\{)", re.MULTILINE | re.DOTALL)
_HOOK_ONLY = re.compile(r"^\s*is_cfn_hook\([^)]*\)\s*$")
# A template rule: the template test, then (newline: and) one or more `%selection not empty`, joined by or/and.
_NOT_EMPTY = r"%(\w+)\s+not\s+empty"
_JOIN = r"(?:\s+(?:or|OR|and|AND)\s+|\s*\n\s*)"
_TEMPLATE_ONLY = re.compile(rf"^\s*is_cfn_template\([^)]*\)[ \t]*\n\s*{_NOT_EMPTY}(?:{_JOIN}{_NOT_EMPTY})*\s*$")


def _types_selected(selection: str, constants: dict[str, str]) -> set[str] | None:
    """The types `Resources.*[ Type == %X or Type == 'Y' ]` selects; None for a selection of another shape."""
    match = _SELECTION.match(selection.strip())
    if match is None:
        return None
    types = set()
    for test in re.split(r"\s+or\s+", match.group(1)):
        typed = _TYPE_TEST.match(test.strip())
        if typed is None:
            return None
        value = typed.group(1)
        literal = constants.get(value[1:], "") if value.startswith("%") else value
        if not re.fullmatch(r"[\"']AWS::\w+::\w+[\"']", literal):
            return None
        types.add(literal[1:-1])
    return types


def test_every_guard_rule_applies_only_to_templates_with_a_type_it_names() -> None:
    """Every rule of every bundled Guard file is a helper, a hook rule, or a template rule that runs only
    `when %x not empty`, x selecting resources by literal types it names.

    This is why a template with none of a control's types cannot fail it, and so why running templates
    with only the controls that name one of their types finds what the full run finds. A plugin upgrade
    that brings a rule of any other shape fails here, naming it, before findings go missing.
    """
    odd = []
    for control in control_tower.controls():
        lets = {name: value.strip() for name, value in _LET.findall(control.code)}
        constants = {k: v for k, v in lets.items() if re.fullmatch(r"[\"'][^\"']*[\"']", v)}
        template_rules = set()
        for name, opening, condition in _RULE.findall(control.code):
            if opening == "(" or (condition and _HOOK_ONLY.match(condition)):
                continue  # a helper other rules call, or a rule of hook documents only
            gated = _TEMPLATE_ONLY.match(condition) if condition else None
            variables = re.findall(_NOT_EMPTY, condition) if gated else []
            selected = [_types_selected(lets.get(v, ""), constants) for v in variables]
            if not gated or any(s is None for s in selected):
                odd.append(f"{control.file_stem}: rule {name} runs {('when ' + condition.strip()) or 'always'!r}")
                continue
            template_rules.add(name)
            if not set().union(*(s or set() for s in selected)) <= control.queried_types:
                odd.append(f"{control.file_stem}: rule {name} selects types outside {sorted(control.queried_types)}")
        if template_rules != {control.rule}:
            odd.append(f"{control.file_stem}: template rules {sorted(template_rules)}, catalogue says {control.rule}")
    assert odd == []


# --- what a rule reads of resources: why the run's copies of a template find the same ---------------

_TYPE_VALUE = r"(?:%\w+|'[^']+'|\"[^\"]+\")"
_BY_TYPE = re.compile(rf"Resources(?:\.\*)?\[\s*(Type\s*==\s*{_TYPE_VALUE}(?:\s+or\s+Type\s*==\s*{_TYPE_VALUE})*)\s*\]")
_RESOURCES_TESTED = re.compile(r"Resources\s+(?:exists|not\s+empty)\b")
# A resource found by key, the whole statement: `let found = %doc.Resources[ keys == %key ]` and nothing after it.
_DEREFERENCE = re.compile(r"let\s+(\w+)\s*=\s*%(\w+)\.Resources\[\s*keys\s*==\s*%\w+\s*\][ \t]*$", re.MULTILINE)
_MESSAGE = re.compile(r"<<.*?>>", re.DOTALL)
_REGEX_LITERAL = re.compile(r"(?<=[\s=(,\[])/(?:[^/\\\n]|\\.)+/")


@dataclass(frozen=True)
class _GuardCode:
    """A Guard file's code with its messages and regular expressions blanked, and where its blocks and filters are."""

    code: str
    blocks: list[tuple[int, int, int, str]]  # (start, end, depth, opener): the statement before each `{`
    filters: list[tuple[int, int]]  # each `[ ... ]`: inside one, `this` and unqualified queries are the element's

    @classmethod
    def of(cls, source: str) -> _GuardCode:
        code = _REGEX_LITERAL.sub("/regex/", _MESSAGE.sub("", source))
        blocks, filters, open_blocks, open_filters = [], [], [], []
        for at, character in enumerate(code):
            if character == "{":
                chunk = code[max(code.rfind("{", 0, at), code.rfind("}", 0, at)) + 1 : at]
                lines = [line.strip() for line in chunk.splitlines() if line.strip()]
                whens = [n for n, line in enumerate(lines) if line.startswith("when ")]
                open_blocks.append((at, " ".join(lines[whens[-1] :] if whens else lines[-1:])))
            elif character == "}" and open_blocks:
                start, opener = open_blocks.pop()
                blocks.append((start, at, len(open_blocks), opener))
            elif character == "[":
                open_filters.append(at)
            elif character == "]" and open_filters:
                filters.append((open_filters.pop(), at))
        return cls(code, blocks, filters)

    def at_document_level(self, at: int, roots: set[str]) -> bool:
        """Whether an unqualified query at `at` reads the document, not a value a block or filter selected."""
        enclosing = sorted((b for b in self.blocks if b[0] < at < b[1]), key=lambda b: -b[0])
        innermost = enclosing[0][0] if enclosing else -1
        if any(innermost < start < at < end for start, end in self.filters):
            return False
        for _, _, depth, opener in enclosing:
            if depth == 0:
                return True  # a rule's body
            if not opener.startswith("when "):  # a when block keeps the value of the block around it
                name = re.fullmatch(r"(?:some\s+)?%?(\w+)", opener)
                return name is not None and name[1] in roots
        return True

    def document_names(self, lets: dict[str, str]) -> set[str]:
        """`this`, the names bound to it, and each helper rule's parameter that some call gives one of those."""
        names = {"this"} | {n for n, v in lets.items() if v == "this"}
        signatures = {
            rule: [p.strip() for p in parameters.split(",")]
            for rule, parameters in re.findall(r"^\s*rule\s+(\w+)\s*\(([^)]*)\)", self.code, re.MULTILINE)
        }
        while True:
            found = set(names)
            for rule, parameters in signatures.items():
                for call in re.finditer(rf"(?<![\w.]){rule}\s*\(", self.code):
                    for parameter, argument in zip(parameters, _arguments(self.code[call.end() :]), strict=False):
                        name = argument.lstrip("%")
                        if name in names and (name != "this" or self.at_document_level(call.start(), names)):
                            found.add(parameter)
            if found == names:
                return names
            names = found


def _arguments(text: str) -> list[str]:
    """The top-level arguments of a call whose "(" comes just before `text`."""
    depth, current, arguments = 0, "", list[str]()
    for character in text:
        if character in ")]}" and depth == 0:
            return [*arguments, current.strip()]
        depth += (character in "([{") - (character in ")]}")
        if character == "," and depth == 0:
            arguments.append(current.strip())
            current = ""
        else:
            current += character
    return arguments


def _reads_of_resources(guard: _GuardCode, lets: dict[str, str], roots: set[str]) -> list[str]:
    """The reads of the document's `Resources` of another shape than those `_reads_beyond_its_types` allows."""
    code, odd = guard.code, []
    for found in re.finditer(r"(?:%(\w+)|\b(this))\s*\.\s*Resources\b|(?<![\w'\".%])Resources\b", code):
        at, alias = found.end() - len("Resources"), found[1] or found[2]
        statement = code.rfind("\n", 0, at) + 1
        statement += len(code[statement:]) - len(code[statement:].lstrip())
        if (found[2] or alias is None) and not guard.at_document_level(found.start(), roots):
            continue  # a property named Resources of a value a block or filter selected
        if alias is not None and alias not in roots:
            odd.append(code[found.start() : found.start() + 60])  # another document's resources
            continue
        if alias is not None and _DEREFERENCE.match(code, statement):
            continue
        selected = _BY_TYPE.match(code, at)
        by_literal = selected is not None and _types_selected(selected[0], lets) is not None
        if not (by_literal or _RESOURCES_TESTED.match(code, at)):
            odd.append(code[found.start() : found.start() + 60])
    return odd


def _reads_beyond_its_types(source: str) -> list[str]:
    """Each read of a Guard file's code that may see a resource's properties or metadata though the resource was
    not selected by a type literal the code names: as text, where it begins.

    Allowed: `Resources exists` or `not empty`, and `Resources.*[ Type == %X or ... ]` with X bound to a
    type literal, where the query reads the document (`this`, what is bound to it, a helper's parameter
    given it; a rule's body, a `when` block); anything under a value a block or filter selected (a
    property named Resources); a resource found by key (`let r = %doc.Resources[ keys == %k ]`, the whole
    statement), tested only for existence and type. Refused: reading `Metadata`, a quoted `Resources`,
    another document's resources, and wildcards, filters or keys over the document.
    """
    guard = _GuardCode.of(source)
    code = guard.code
    lets = {name: value.strip() for name, value in _LET.findall(code)}
    roots = guard.document_names(lets)
    odd = [f"reads Metadata: {m.group(0)!r}" for m in re.finditer(r"\bMetadata\b", code)]
    odd += [code[m.start() : m.start() + 60] for m in re.finditer(r"[\"']Resources[\"']", code)]
    odd += _reads_of_resources(guard, lets, roots)
    # Wildcards, filters and keys over the document reach its resources without naming them.
    named = "|".join(sorted(roots))
    odd += [code[m.start() : m.start() + 60] for m in re.finditer(rf"%(?:{named})\s*(?:\.\s*\*|\[)", code)]
    for found in re.finditer(r"\bthis\s*(?:\.\s*\*|\[\s*(?:\*|keys))|(?<![\w\]\.\[%])\*\s*[.\[]", code):
        if guard.at_document_level(found.start(), roots):
            odd.append(code[found.start() : found.start() + 60])
    for variable, _ in set(_DEREFERENCE.findall(code)):
        for use in re.finditer(rf"%{variable}\b", code):
            shape = rf"%{variable}\s+not\s+empty\b|%{variable}\s*\{{\s*Type\s*(==|in)\s*%\w+\s*\}}"
            if not re.match(shape, code[use.start() :]):
                odd.append(code[use.start() : use.start() + 60])
    return odd


def test_every_guard_rule_reads_only_the_properties_of_resources_of_types_it_names() -> None:
    """Why each run gets copies of its templates in which resources of other types keep only their key, type and
    attributes, and no resource keeps its metadata: no bundled rule reads more. A plugin upgrade with a rule
    that does fails here, naming its file, before the copies hide what it reads."""
    odd = [f"{c.file_stem}: {text!r}" for c in control_tower.controls() for text in _reads_beyond_its_types(c.code)]
    assert odd == []


_CALLED_ON_THE_DOCUMENT = (
    "\nrule r when is_cfn_template(this) { f(this, 'k') }\nrule is_cfn_template(doc) { %doc { Resources exists } }"
)


@pytest.mark.parametrize(
    "code",
    [
        "let every = Resources.*\nrule r when is_cfn_template(this) { %every not empty }",
        "let odd = Resources.*[ Properties.Name exists ]",
        "let T = %other\nlet buckets = Resources.*[ Type == %T ]",
        "let custom = Resources.*[ Type == 'Custom::Thing' ]",
        "rule f(doc, key) {\n    let found = %doc.Resources[ keys == %key ]\n    %found.Properties.Name exists\n}"
        + _CALLED_ON_THE_DOCUMENT,
        "rule f(doc, key) {\n    let found = %doc.Resources[ keys == %key ].Properties.KmsKeyId\n}"
        + _CALLED_ON_THE_DOCUMENT,
        "rule f(doc, key) {\n    let every = %doc.Resources.*\n    %every not empty\n}" + _CALLED_ON_THE_DOCUMENT,
        "rule f(doc, key) {\n    %doc { Resources.*.Properties.X exists }\n}" + _CALLED_ON_THE_DOCUMENT,
        "rule f(doc, key) {\n    %doc[ keys == /x/ ] not empty\n}" + _CALLED_ON_THE_DOCUMENT,
        "rule r when is_cfn_template(this) { %buckets[*] { Metadata exists } }",
        "let other = %doc\nlet every = %other.Resources.*",
        "let every = this.Resources.*",
        "let every = this['Resources']",
        "let every = *.*[ Type == 'AWS::S3::Bucket' ]",
        "rule r when is_cfn_template(this) { this.* not empty }",
        "rule r when is_cfn_template(this) { when %x exists { let y = Resources.*.Properties.X } }",
    ],
)
def test_a_read_of_another_shape_is_named(code: str) -> None:
    assert _reads_beyond_its_types(code)


def test_the_reads_the_copies_keep_are_not_named() -> None:
    code = (
        "let BUCKET = 'AWS::S3::Bucket'\nlet buckets = Resources.*[ Type == %BUCKET ]\n"
        "rule r when is_cfn_template(this) { %buckets not empty }\n"
        "rule s when is_cfn_template(this) { Resources exists\n %buckets { Properties { Resources exists } } }\n"
        "rule f(doc, key, type) {\n    let found = %doc.Resources[ keys == %key ]\n    %found not empty\n"
        "    %found {\n        Type == %type\n    }\n}\n"
        "rule u when is_cfn_template(this) { f(this, 'k', 'AWS::S3::Bucket') }\n"
        # A helper given a selected value, and `this` inside a filter: the element, not the document.
        "rule g(bucket) { %bucket [ h(this) ] }\nrule h(x) { %x { Resources exists\n this.Resources[*] == 'a' } }\n"
        "rule t when is_cfn_template(this) { g(%buckets.Properties) }"
    )
    assert _reads_beyond_its_types(code) == []


def test_a_control_cites_the_nist_controls_its_metadata_maps_it_to() -> None:
    rules = {r.rule: r for r in control_tower_rules()}
    log_groups = rules["ControlTower::CT.CLOUDWATCH.PR.3"]
    assert log_groups.cited == control_tower.by_id()["CT.CLOUDWATCH.PR.3"].nist
    assert {"SC-28", "SC-28(1)", "SC-13"} <= set(log_groups.cited)
    assert log_groups.description.startswith("[CT.CLOUDWATCH.PR.3] Require an Amazon CloudWatch log group")
    assert all(control_id(c) for r in rules.values() for c in r.cited), "every citation is a control the model reads"
    # Three bundled controls map to no NIST control: they cite nothing.
    assert rules["ControlTower::CT.SQS.PR.1"].cited == ()
    assert "ControlTower::CT.S3.PR.4" not in {r.rule for r in control_tower_rules(["CT.S3.PR.4"])}


def test_a_finding_id_comes_from_the_violation_description() -> None:
    described = "[CT.NETWORK-FIREWALL.PR.1]: Require any AWS Network Firewall firewall policy to have a rule group"
    assert control_tower.finding_of(described) == "ControlTower::CT.NETWORK-FIREWALL.PR.1"
    assert control_tower.finding_of("no control id here") is None


# --- configuration ---------------------------------------------------------------------------------


def _with_disabled(controls: Any) -> dict[str, Any]:
    import yaml

    raw: dict[str, Any] = copy.deepcopy(yaml.safe_load(LAYOUTS.read_text()))
    raw["control_tower"] = {"disabled_controls": controls}
    return raw


@pytest.mark.parametrize(
    ("controls", "expected"),
    [
        (["CT.S3.PR.999"], "'CT.S3.PR.999', which is not a control the installed plugin bundles"),
        (["ct-s3-pr-4"], "'ct-s3-pr-4', which is not a control id like 'CT.S3.PR.4'"),
        (["CT.S3.PR.4", "CT.S3.PR.4"], "lists a control twice"),
    ],
)
def test_a_bad_disabled_control_is_refused_naming_the_field(controls: list[str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_disabled(controls), source="test.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("control_tower.disabled_controls"), problem
    assert expected in problem


def test_disabled_controls_are_accepted() -> None:
    config = parse_config(_with_disabled(["CT.S3.PR.4"]), source="test.yaml")
    assert config.control_tower.disabled_controls == ("CT.S3.PR.4",)


# --- the broken input: a log group the hook would refuse -------------------------------------------


_CROSS_STACK_KEY = "The key is another stack's customer managed key, which the hook sees resolved at deploy."


def _small_app(
    tmp_path: Path,
    *,
    disabled: tuple[str, ...] = (),
    local_key: bool = False,
    acknowledged_on: str | None = None,
    other_group: bool = False,
) -> Path:
    """A stack with a log group whose key is in another stack (or its own): synthesized, assembly dir.

    `acknowledged_on`: "resource" (the CfnLogGroup) or "group" (the L2 above it) carries an acknowledgment of
    CT.CLOUDWATCH.PR.3; `other_group` adds a second log group of the same key, never acknowledged.
    """
    app = cdk.App(outdir=str(tmp_path), context={"aws:cdk:enable-path-metadata": True, **CONTEXT})
    cdk.Validations.of(app).add_plugins(validator(disabled))
    record_acknowledgments_in_templates(app)
    env = cdk.Environment(account="700000000007", region="us-east-1")
    keys = cdk.Stack(app, "Keys", env=env)
    logs_stack = cdk.Stack(app, "Logs", env=env)
    key = kms.Key(logs_stack if local_key else keys, "Key", enable_key_rotation=True)
    group = logs.LogGroup(logs_stack, "Group", encryption_key=key)
    if other_group:
        logs.LogGroup(logs_stack, "Other", encryption_key=key)
    if acknowledged_on:
        acknowledge(
            group.node.default_child if acknowledged_on == "resource" else group,  # type: ignore[arg-type]
            "ControlTower::CT.CLOUDWATCH.PR.3",
            reason=_CROSS_STACK_KEY,
            kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
            checks=[ResolvedAtDeploy(prop="KmsKeyId", to=KEY)],
            controls=["SC-28"],
            review_by="2027-06-30",
        )
    for stack in (keys, logs_stack):
        harden_resource_policies(stack)  # as every stage does: the log groups are the findings
    app.synth()
    return tmp_path


def _plugin_report(assembly: Path) -> dict[str, Any]:
    found = _plugin_report_or_none(assembly)
    assert found is not None, "the plugin reported nothing"
    return found


def _plugin_report_or_none(assembly: Path) -> dict[str, Any] | None:
    report = json.loads((assembly / "validation-report.json").read_text(encoding="utf-8"))
    return next((p for p in report["pluginReports"] if p["pluginName"] == control_tower.PLUGIN_NAME), None)


def test_a_cross_stack_key_is_a_finding_at_synth_the_gate_names(tmp_path: Path) -> None:
    open_findings = findings(_small_app(tmp_path))
    rules = {(f.rule, f.path) for f in open_findings}
    assert ("ControlTower::CT.CLOUDWATCH.PR.3", "Logs/Group/Resource") in rules
    line = next(f.line() for f in open_findings if f.rule == "ControlTower::CT.CLOUDWATCH.PR.3")
    assert "encrypted at rest with an AWS KMS key" in line


def test_a_key_of_the_same_stack_passes(tmp_path: Path) -> None:
    rules = {f.rule for f in findings(_small_app(tmp_path, local_key=True))}
    assert "ControlTower::CT.CLOUDWATCH.PR.3" not in rules


@pytest.mark.parametrize("on", ["resource", "group"])
def test_an_acknowledged_control_is_suppressed_by_the_cdk_so_its_cli_accepts_the_assembly(
    tmp_path: Path, on: str
) -> None:
    # The CDK CLI (synth, diff, deploy: the pipeline's self-mutation and security diff) refuses an assembly whose
    # validation report has a failed plugin; the CDK suppresses a violation only under the plugin's own rule name.
    assert _plugin_report(_small_app(tmp_path / "open"))["conclusion"] == "failure"
    assembly = _small_app(tmp_path / "acknowledged", acknowledged_on=on)
    plugin = _plugin_report(assembly)
    assert plugin["conclusion"] == "success"
    assert plugin.get("violations", []) == []
    (suppressed,) = plugin["suppressedViolations"]
    assert suppressed["ruleName"] == "cloudwatch_log_group_encrypted_check"
    assert suppressed["violatingConstructs"][0]["constructPath"] == "Logs/Group/Resource"
    # The template keeps the control's own id next to the plugin's, for whoever reads the deployed template.
    template = json.loads((assembly / "Logs.template.json").read_text(encoding="utf-8"))
    group = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup")
    ids = {rule["id"] for rule in group["Metadata"]["cdk_nag"]["rules_to_suppress"]}
    assert {"ControlTower::CT.CLOUDWATCH.PR.3", "cdk-validator-cfnguard::cloudwatch_log_group_encrypted_check"} <= ids


def test_an_open_finding_next_to_an_acknowledged_one_still_fails_the_cli(tmp_path: Path) -> None:
    """Once it has suppressed one, the CDK concludes from the severities of the rest: each must be an error."""
    plugin = _plugin_report(_small_app(tmp_path, acknowledged_on="resource", other_group=True))
    assert plugin["conclusion"] == "failure"
    (open_violation,) = plugin["violations"]
    assert open_violation["severity"] == "error"
    assert [c["constructPath"] for c in open_violation["violatingConstructs"]] == ["Logs/Other/Resource"]
    assert [f.path for f in findings(tmp_path) if f.rule == "ControlTower::CT.CLOUDWATCH.PR.3"] == [
        "Logs/Other/Resource"
    ]


def test_a_control_tower_acknowledgment_whose_claim_fails_fails_the_gate(tmp_path: Path) -> None:
    """The CDK suppresses the finding whatever the checks say; the gate's claim check does not."""
    from compliance.evaluation import evaluate
    from compliance.gate import claim_failures

    assembly = tmp_path / "unencrypted"
    app = cdk.App(outdir=str(assembly), context={"aws:cdk:enable-path-metadata": True, **CONTEXT})
    cdk.Validations.of(app).add_plugins(validator())
    stack = cdk.Stack(app, "Logs", env=cdk.Environment(account="700000000007", region="us-east-1"))
    group = logs.LogGroup(stack, "Group")  # no key at all: the claim that another stack's key is used is false
    acknowledge(
        group.node.default_child,  # type: ignore[arg-type]
        "ControlTower::CT.CLOUDWATCH.PR.3",
        reason=_CROSS_STACK_KEY,
        kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
        checks=[ResolvedAtDeploy(prop="KmsKeyId", to=KEY)],
        controls=["SC-28"],
        review_by="2027-06-30",
    )
    app.synth()
    model = evaluate(app, assembly, stages=[])
    failed = claim_failures(model)
    assert [(f.rule, f.path) for f in failed] == [("CompensatingControl-ResolvedAtDeploy", "Logs/Group/Resource")]
    (evaluation,) = [e for e in model.evaluations if e.finding == "ControlTower::CT.CLOUDWATCH.PR.3"]
    assert evaluation.status is Status.NON_COMPLIANT
    # The construct the acknowledgment names is refused where it would accept everything.
    with pytest.raises(ValueError, match="on the app itself"):
        acknowledge(
            app,
            "ControlTower::CT.S3.PR.4",
            reason=_CROSS_STACK_KEY,
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[Versioned()],
            controls=["AU-9"],
            review_by="2027-06-30",
        )
    # An unknown control is refused when acknowledged.
    assert control_tower.validation_id("ControlTower::CT.S3.PR.4").startswith(f"{control_tower.PLUGIN_NAME}::s3_")
    with pytest.raises(ValueError, match=re.escape("CT.S3.PR.999")):
        control_tower.validation_id("ControlTower::CT.S3.PR.999")


def test_a_clean_run_still_counts_as_run(tmp_path: Path) -> None:
    """The CDK leaves a plugin with nothing to report out of its report; the controls still passed."""
    from compliance.evaluation import evaluate

    assembly = tmp_path / "clean"
    app = cdk.App(outdir=str(assembly), context={"aws:cdk:enable-path-metadata": True, **CONTEXT})
    cdk.Validations.of(app).add_plugins(validator())
    stack = cdk.Stack(app, "Logs", env=cdk.Environment(account="700000000007", region="us-east-1"))
    logs.LogGroup(stack, "Group", encryption_key=kms.Key(stack, "Key", enable_key_rotation=True))
    harden_resource_policies(stack)
    app.synth()
    assert _plugin_report_or_none(assembly) is None  # what the CDK writes for a clean plugin
    model = evaluate(app, assembly, stages=[])
    passed = {(e.rule, e.path) for e in model.evaluations if e.status is Status.COMPLIANT}
    assert ("ControlTower::CT.CLOUDWATCH.PR.3", "Logs/Group/Resource") in passed
    # Another app without the plugin, into the same directory: the same silence means the controls did not run.
    unchecked = assembly
    other = cdk.App(outdir=str(unchecked), context={"aws:cdk:enable-path-metadata": True, **CONTEXT})
    stack = cdk.Stack(other, "Logs", env=cdk.Environment(account="700000000007", region="us-east-1"))
    logs.LogGroup(stack, "Group", encryption_key=kms.Key(stack, "Key", enable_key_rotation=True))
    other.synth()
    unchecked_model = evaluate(other, unchecked, stages=[])
    assert not [e for e in unchecked_model.evaluations if e.pack == control_tower.PACK]
    assert not [r for r in unchecked_model.rules if r.pack == control_tower.PACK]


def test_a_disabled_control_is_not_checked(tmp_path: Path) -> None:
    rules = {f.rule for f in findings(_small_app(tmp_path, disabled=("CT.CLOUDWATCH.PR.3",)))}
    assert "ControlTower::CT.CLOUDWATCH.PR.3" not in rules


def test_acknowledge_takes_a_control_tower_finding_id() -> None:
    stack = cdk.Stack(cdk.App(), "Fixture")
    reason = "A reason that is long enough to be read by an auditor as one."
    acknowledge(
        stack,
        "ControlTower::CT.S3.PR.4",
        reason=reason,
        kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
        checks=[Versioned()],
        controls=["AU-9"],
        review_by="2027-06-30",
    )
    with pytest.raises(ValueError, match="not a finding id"):
        acknowledge(
            stack,
            "ControlTower::s3_event_notifications",
            reason=reason,
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[Versioned()],
            controls=["AU-9"],
            review_by="2027-06-30",
        )


def _violations(report: cdk.PolicyValidationPluginReportBeta1) -> list[tuple[str, ...]]:
    return sorted(
        (
            v.rule_name,
            v.description,
            v.fix or "",
            Path(r.template_path).name,
            r.resource_logical_id,
            *(r.locations or ()),
        )
        for v in report.violations
        for r in v.violating_resources
    )


def test_running_by_groups_of_templates_finds_what_the_plugin_finds_with_every_rule(tmp_path: Path) -> None:
    """Canary for the grouped run: the stock plugin with all its rules, over the same templates, agrees.

    The guarantee is the two shape tests above; this shows it on real templates: a cross-stack key, a key
    of the same stack (a reference the rule follows), the type the Guard files' headers misspell, and two
    templates with the same types (one cfn-guard run for both), with the controls in as few runs as pay
    and in a run per set of types. (A log group's key given as a parameter, or as another resource's ARN,
    makes the stock plugin itself fail on cfn-guard's output, so neither can be compared here.)
    """
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    from compliance.control_tower_validator import ControlTowerValidator, TemplatesContext

    app = cdk.App(outdir=str(tmp_path), context=CONTEXT)
    env = cdk.Environment(account="700000000007", region="us-east-1")
    keys = cdk.Stack(app, "Keys", env=env)
    key = kms.Key(keys, "Key")
    for name in ("Workload", "Workload2"):
        workload = cdk.Stack(app, name, env=env)
        logs.LogGroup(workload, "Group", encryption_key=key)  # the key's ARN imported from the Keys stack
        logs.LogGroup(workload, "LocalGroup", encryption_key=kms.Key(workload, "LocalKey"))
        s3.Bucket(workload, "Bucket")
        sqs.Queue(workload, "Queue")
        autoscaling.CfnAutoScalingGroup(workload, "Asg", min_size="1", max_size="1", availability_zones=["us-east-1a"])
    templates = sorted(str(p) for p in Path(app.synth().directory).glob("*.template.json"))

    stock = CfnGuardValidator(control_tower_rules_enabled=True, max_buffer=control_tower.MAX_BUFFER_BYTES)
    expected = stock.validate(TemplatesContext(templates))
    assert {v[0] for v in _violations(expected)} >= {
        "cloudwatch_log_group_encrypted_check",
        "autoscaling_mixed_instances_policy_multiple_instance_types_check",
    }
    assert {v[3] for v in _violations(expected)} >= {"Workload.template.json", "Workload2.template.json"}
    grouped = ControlTowerValidator().validate(TemplatesContext(templates))
    assert _violations(grouped) == _violations(expected)
    assert grouped.success is expected.success is False
    # A run per set of types (what a free run would choose): every template in several cut-down copies.
    split = ControlTowerValidator(run_cost_rule_bytes=0).validate(TemplatesContext(templates))
    assert _violations(split) == _violations(expected)
    assert {r.template_path for v in split.violations for r in v.violating_resources} <= set(templates)


def _template(path: str, resources: dict[str, Any]) -> Any:
    from compliance.control_tower_validator import _Template

    return _Template(path, {"Resources": resources, "Parameters": {"P": {"Type": "String"}}})


def test_a_runs_copy_keeps_every_resource_and_the_properties_of_its_types_only() -> None:
    policy = {"PolicyDocument": {"Statement": [{"Action": "s3:*"}]}}
    template = _template(
        "t.json",
        {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b"}, "Metadata": {"cdk_nag": {}}},
            "Policy": {"Type": "AWS::IAM::Policy", "Properties": policy, "DependsOn": ["Bucket"], "Condition": "C"},
            "Odd": {"Type": {"Ref": "T"}, "Properties": {"A": 1}},
            "NotAResource": "text",
        },
    )
    view = template.view(frozenset({"AWS::S3::Bucket"}))
    assert view["Resources"] == {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b"}},
        "Policy": {"Type": "AWS::IAM::Policy", "DependsOn": ["Bucket"], "Condition": "C"},
        "Odd": {"Type": {"Ref": "T"}},
        "NotAResource": "text",
    }
    assert view["Parameters"] == template.document["Parameters"]
    assert template.size(frozenset({"AWS::IAM::Policy"})) > template.size(frozenset({"AWS::S3::Bucket"}))


def test_controls_go_to_runs_that_keep_every_type_they_name() -> None:
    from compliance.control_tower_validator import _runs

    by_id = control_tower.by_id()
    heavy = {"Action": [f"s3:Get{n}" for n in range(5000)]}  # a large policy: the IAM controls' own run pays
    templates = [
        _template(
            f"{n}.json",
            {
                "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
                "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Ref": "Key"}}},
                "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
                "Policy": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": [heavy]}}},
            },
        )
        for n in range(2)
    ]
    relevant = [c for c in control_tower.controls() if c.applies_to(templates[0].types)]
    assert {"CT.S3.PR.1", "CT.CLOUDWATCH.PR.3", "CT.IAM.PR.4"} <= {c.control_id for c in relevant}
    present = templates[0].types
    for cost, count in ((0, len({c.queried_types & present for c in relevant})), (10**12, 1), (200_000, None)):
        runs = _runs(relevant, templates, cost)
        assert sorted(c.control_id for r in runs for c in r.controls) == sorted(c.control_id for c in relevant)
        assert all(c.queried_types & present <= r.types for r in runs for c in r.controls)
        assert count is None or len(runs) == count
    (logs_run,) = [r for r in _runs(relevant, templates, 200_000) if by_id["CT.CLOUDWATCH.PR.3"] in r.controls]
    assert "AWS::IAM::Policy" not in logs_run.types  # the log group's controls never read the large policy


# --- ResolvedAtDeploy on plain templates -----------------------------------------------------------


def _index(group_key: Any, *, export: bool = True) -> TemplateIndex:
    keys = {
        "Resources": {"Key": {"Type": KEY, "Properties": {}}, "Subnet": {"Type": SUBNET, "Properties": {}}},
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "App-Keys:KeyArn"}}}
        if export
        else {},
    }
    logs_template = {
        "Resources": {
            "Local": {"Type": KEY, "Properties": {}},
            "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": group_key}},
        }
    }
    return TemplateIndex.from_templates({"App/Keys": keys, "App/Logs": logs_template})


@pytest.mark.parametrize(
    ("value", "holds"),
    [
        ({"Fn::ImportValue": "App-Keys:KeyArn"}, True),  # another stack's key: the hook sees its ARN
        ({"Fn::GetAtt": ["Local", "Arn"]}, False),  # the synth-time rule reads this itself
        ("arn:aws:kms:us-east-1:700000000007:key/1", False),  # a literal: no reference to prove
        ({"Fn::ImportValue": "App-Keys:Missing"}, False),  # not an export of this app
        (None, False),
    ],
)
def test_resolved_at_deploy_holds_only_for_a_cross_stack_reference_of_the_right_type(value: Any, holds: bool) -> None:
    (result,) = ResolvedAtDeploy(prop="KmsKeyId", to=KEY).evaluate("App/Logs/Group", _index(value))
    assert result.holds is holds, result.evidence


def test_resolved_at_deploy_refuses_a_reference_to_the_wrong_type() -> None:
    (result,) = ResolvedAtDeploy(prop="KmsKeyId", to=SUBNET).evaluate(
        "App/Logs/Group", _index({"Fn::ImportValue": "App-Keys:KeyArn"})
    )
    assert not result.holds
    assert "not a reference to AWS::EC2::Subnet" in result.evidence


# --- the fixture app ---------------------------------------------------------------------------------


def test_the_plugin_ran_on_every_stage_and_nothing_is_open(
    compliance_model: ComplianceModel, assembly_dir: Path
) -> None:
    evaluated = [e for e in compliance_model.evaluations if e.pack == control_tower.PACK]
    assert {e.scope for e in evaluated} == set(compliance_model.scopes)
    open_findings = [e for e in evaluated if e.status is Status.NON_COMPLIANT]
    assert open_findings == [], [(e.finding, e.path, e.message) for e in open_findings]
    gate = findings(assembly_dir)
    assert [f for f in gate if f.plugin == control_tower.PLUGIN_NAME] == []


def test_the_cdk_cli_accepts_the_assembly_the_pipeline_deploys_from(assembly_dir: Path) -> None:
    """Self-mutation (`cdk -a . deploy`) and the security diff (`cdk -a . diff`) read the same report as this."""
    report = json.loads((assembly_dir / "validation-report.json").read_text(encoding="utf-8"))
    assert [p["pluginName"] for p in report["pluginReports"] if p["conclusion"] != "success"] == []
    cli = [str(PROJECT_ROOT / "node_modules" / ".bin" / "cdk"), "-a", str(assembly_dir), "synth", "--quiet"]
    result = subprocess.run(
        [*cli, "--no-notices", "**"], capture_output=True, text=True, env=jsii_environment(), check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_kms_key_lets_only_aws_services_create_grants(stacks: dict[str, StackArtifact]) -> None:
    deny = Match.object_like(
        {
            "Effect": "Deny",
            "Action": "kms:CreateGrant",
            "Principal": {"AWS": "*"},
            "Resource": "*",
            "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        }
    )
    with_keys = [artifact.template for artifact in stacks.values() if artifact.template.find_resources(KEY)]
    assert with_keys
    for template in with_keys:
        template.all_resources_properties(
            KEY, {"KeyPolicy": Match.object_like({"Statement": Match.array_with([deny])})}
        )


def test_controls_to_disable_are_the_acknowledgments_the_hook_would_still_refuse(
    compliance_model: ComplianceModel,
) -> None:
    acknowledged = [
        e for e in compliance_model.evaluations if e.pack == control_tower.PACK and e.status is Status.ACKNOWLEDGED
    ]
    assert acknowledged
    listed = {
        (f"{control_tower.FINDING_PREFIX}{c.control}", p)
        for c in controls_to_disable(compliance_model)
        for p in c.paths
    }
    resolved = {
        (a.finding, a.path)
        for a in compliance_model.acknowledgments
        if any(c.check == "ResolvedAtDeploy" and c.holds for c in a.checks)
    }
    assert resolved, "cross-stack keys and subnets are acknowledged as resolved at deploy"
    for e in acknowledged:
        passes = any(e.finding == f and (e.path == p or e.path.startswith(p + "/")) for f, p in resolved)
        assert ((e.finding, e.path) in listed) is not passes, (e.finding, e.path)
    markdown = render_markdown(compliance_model)
    assert "### Control Tower controls this deployment needs disabled for its organisational unit" in markdown
    for item in controls_to_disable(compliance_model):
        assert f"`{item.control}`" in markdown


def test_the_report_round_trips_the_disabled_controls(compliance_model: ComplianceModel) -> None:
    data = json.loads(json.dumps(compliance_model.to_json()))
    data["disabled_controls"] = ["CT.S3.PR.4"]
    assert ComplianceModel.from_json(data).disabled_controls == ["CT.S3.PR.4"]
