"""Inherited controls: the reviewed table against a synth, the status, and what the baseline and outputs record.

The fixture configuration's qa stage shares dev's account and region and inherits dev's trail and
recorder (`account_baseline: {cloudtrail: {inherited_from: ...}, config: {inherited_from: ...}}`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from trestle.oscal.component import ComponentDefinition

from compliance import signoff
from compliance.inheritance import NONE, inheritable, service_controls, table
from compliance.mapping import control_of, evidence
from compliance.model import (
    ComplianceModel,
    Control,
    ControlStatus,
    Evaluation,
    Inheritance,
    Rule,
    Status,
    baseline,
    controls_from,
)
from compliance.oscal import COMPONENT_DEFINITION, FEDRAMP_NS, write_oscal
from compliance.outputs.markdown import render_markdown
from config import AppConfig
from config.schema import BASELINE_SERVICES
from stacks.baseline import CONSTRUCTS
from tests.synth_runs import RUN_DATE

TRAIL_RULE = "NIST.800.53.R5-CloudTrailLogFileValidationEnabled"


# --- the status, on hand-built evaluations ---------------------------------------------------------


def _rule(rule: str, *cited: str) -> Rule:
    return Rule("NIST.800.53.R5", rule, "", cited, ("AWS::CloudTrail::Trail",))


def _statuses(controls: list[Control], *ids: str) -> dict[str, tuple[ControlStatus, tuple[str, ...]]]:
    return {c.control: (c.status, c.inherited_from) for c in controls if c.control in ids}


def test_a_control_no_rule_evaluated_is_inherited_where_a_provider_runs_its_service() -> None:
    # The trail's log file validation cites SI-7 and AU-9; the reviewed mapping has it evidence AU-9 only.
    rules = [_rule(TRAIL_RULE, "AU-9a", "SI-7a")]
    trail = Evaluation("Prod", "NIST.800.53.R5", TRAIL_RULE, TRAIL_RULE, Status.COMPLIANT, "Prod/Trail", "")
    providers = {"au-9": ("Control Tower",), "au-7.1": ("Control Tower", "Org trail")}
    unevaluated = controls_from(rules, [], inherited=providers)
    assert _statuses(unevaluated, "au-9", "si-7", "au-7.1") == {
        "au-9": (ControlStatus.INHERITED, ("Control Tower",)),
        "si-7": (ControlStatus.NOT_CHECKED, ()),  # not in the map: no provider takes it
        "au-7.1": (ControlStatus.INHERITED, ("Control Tower", "Org trail")),
    }
    # Never over evidence: a control a rule evaluated keeps its status; a control it only cites is not evidenced.
    evaluated = controls_from(rules, [trail], inherited=providers)
    assert _statuses(evaluated, "au-9", "si-7") == {
        "au-9": (ControlStatus.EVIDENCED, ()),
        "si-7": (ControlStatus.NOT_CHECKED, ()),
    }
    failing = controls_from(rules, [replace(trail, status=Status.NON_COMPLIANT)], inherited=providers)
    assert _statuses(failing, "au-9") == {"au-9": (ControlStatus.FAILING, ())}


def test_a_stage_inherits_the_table_rows_of_each_service_it_leaves_to_a_provider() -> None:
    providers = inheritable({"cloudtrail": "Control Tower trail", "config": "Control Tower", "guardduty": "GuardDuty"})
    assert providers["au-7.1"] == ("Control Tower trail",)
    assert providers["ac-6.9"] == ("Control Tower trail",)  # the trail logs every privileged management call
    assert providers["si-4"] == ("GuardDuty",)  # the detector: CT.GUARDDUTY.PR.1, S3 protection looks for attacks
    # The recorder's own resources evidence nothing the mapping does not find elsewhere in the stage.
    assert service_controls()["config"] == frozenset()
    assert set(providers) == service_controls()["cloudtrail"] | {"si-4"}
    assert inheritable({}) == {}


# --- the reviewed table ---------------------------------------------------------------------------


def test_the_table_reviews_every_service_with_baseline_controls_and_the_stacks_constructs() -> None:
    labels = {c.control: c.label for c in baseline()}
    assert set(service_controls()) == set(BASELINE_SERVICES), "every service has rows, `-` where it evidences none"
    for row in table():
        assert row.service in BASELINE_SERVICES
        if row.control == NONE:
            assert (row.label, row.resources) == (NONE, ()), row
            continue
        assert labels[row.control] == row.label, row
        assert row.resources, row
        assert set(row.resources) <= set(CONSTRUCTS[row.service]), row
    assert {"au-7.1", "ac-6.9"} <= service_controls()["cloudtrail"]


def _under(path: str, scope: str, constructs: Iterable[str]) -> bool:
    return any(
        path == f"Pipeline/{scope}/Baseline/{c}" or path.startswith(f"Pipeline/{scope}/Baseline/{c}/")
        for c in constructs
    )


def test_every_resource_of_a_baseline_stack_belongs_to_a_service(compliance_model: ComplianceModel) -> None:
    every = {c for constructs in CONSTRUCTS.values() for c in constructs}
    unclaimed = {
        e.path for e in compliance_model.evaluations if "/Baseline/" in e.path and not _under(e.path, e.scope, every)
    }
    assert unclaimed == set(), "name the construct under its service in stacks.baseline.CONSTRUCTS"


def _evidenced(model: ComplianceModel) -> dict[str, set[str]]:
    """Rule -> the controls the reviewed mapping says it evidences."""
    return {r.rule: {control_of(t) for t in evidence().get(r.rule, ())} for r in model.rules}


def test_the_table_lists_what_only_a_services_own_resources_evidence(
    compliance_model: ComplianceModel, fixture_config: AppConfig
) -> None:
    """In each stage that deploys a service: a control evidenced through its resources alone has a row."""
    deployed = {env.stage_id: env.account_baseline.services for env in fixture_config.environments}
    for service in BASELINE_SERVICES:
        stages = [stage for stage, services in deployed.items() if service in services]
        assert stages, f"the fixture deploys {service} somewhere"
        only: set[str] = set()
        for stage in stages:
            evaluations = [e for e in compliance_model.evaluations if e.scope == stage]
            without = [e for e in evaluations if not _under(e.path, stage, CONSTRUCTS[service])]
            before = {c.control: c.status for c in controls_from(compliance_model.rules, evaluations)}
            after = controls_from(compliance_model.rules, without)
            only |= {
                c.control
                for c in after
                if c.status is ControlStatus.NOT_CHECKED and before[c.control] is not ControlStatus.NOT_CHECKED
            }
        assert only <= service_controls()[service], f"add to compliance/data/inherited-controls.tsv: {service}"


def test_each_row_is_evidenced_by_the_resources_it_names(
    compliance_model: ComplianceModel, fixture_config: AppConfig
) -> None:
    evidenced_by = _evidenced(compliance_model)
    for row in (r for r in table() if r.control != NONE):
        stages = [e.stage_id for e in fixture_config.environments if row.service in e.account_baseline.services]
        for stage in stages:
            for construct in row.resources:
                evidenced = {
                    c
                    for e in compliance_model.evaluations
                    if e.scope == stage and _under(e.path, stage, [construct]) and e.status is not Status.NON_COMPLIANT
                    for c in evidenced_by.get(e.rule, ())
                }
                assert row.control in evidenced, (row, stage, construct)


# --- a stage that inherits, in the fixture app -----------------------------------------------------


def _qa(model: ComplianceModel) -> dict[str, Inheritance]:
    return {i.service: i for i in model.inheritances if i.scope == "Qa"}


def test_the_fixtures_qa_inherits_dev_trail_and_recorder(
    compliance_model: ComplianceModel, fixture_config: AppConfig
) -> None:
    qa = fixture_config.environment("qa").account_baseline
    assert qa.services == frozenset(), "an inherited service is not deployed"
    assert {i.scope for i in compliance_model.inheritances} == {"Qa"}
    inherited = _qa(compliance_model)
    assert {s: i.provider for s, i in inherited.items()} == qa.inherited
    assert {"au-7.1", "ac-2.4", "ac-6.9"} <= set(inherited["cloudtrail"].controls)
    assert set(inherited["cloudtrail"].controls) <= service_controls()["cloudtrail"]
    # The app as a whole: dev and prod evidence the trail's controls, so they stay evidenced there.
    whole = {c.control: c.status for c in compliance_model.controls}
    assert whole["au-7.1"] is ControlStatus.EVIDENCED


def test_the_baseline_records_what_qa_inherits_and_from_whom(compliance_model: ComplianceModel) -> None:
    document = signoff.snapshot(compliance_model)
    qa = document["scopes"]["Qa"]
    inherited = _qa(compliance_model)
    for control in inherited["cloudtrail"].controls:
        assert qa["controls"][control] == "inherited", control
    trail = qa["inherited"]["cloudtrail"]
    assert trail == {
        "from": signoff.deployment_neutral(inherited["cloudtrail"].provider),
        "controls": list(inherited["cloudtrail"].controls),
    }
    assert "<account>" in trail["from"], "editing accounts changes nothing"
    assert "<region>" in qa["inherited"]["config"]["from"]
    # Deployed services are unchanged: every other scope reads as if no stage inherited anything.
    plain = signoff.snapshot(replace(compliance_model, inheritances=[]))
    assert {s: d for s, d in document["scopes"].items() if s != "Qa"} == {
        s: d for s, d in plain["scopes"].items() if s != "Qa"
    }
    assert "inherited" not in plain["scopes"]["Qa"]
    assert plain["scopes"]["Qa"]["controls"].get("au-7.1") is None  # without a provider: not checked


def test_inheriting_and_a_provider_change_each_ask_for_make_baseline_once(
    compliance_model: ComplianceModel, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    signoff.write(replace(compliance_model, inheritances=[]), baseline)  # qa as it was before it inherited
    model = replace(compliance_model)
    signoff.apply(model, baseline, shown_as="compliance/baseline.json", today=RUN_DATE)
    provider = signoff.deployment_neutral(_qa(compliance_model)["cloudtrail"].provider)
    assert f"Qa: cloudtrail is now inherited from {provider}" in model.baseline_differences
    assert f"Qa: au-7.1 was not checked at synth, is now inherited from {provider}" in model.baseline_differences
    signoff.write(model, baseline)  # `make baseline`
    signoff.apply(model, baseline, shown_as="compliance/baseline.json", today=RUN_DATE)
    assert model.baseline_differences == []

    moved = [replace(i, provider="AWS Control Tower") if i.service == "cloudtrail" else i for i in model.inheritances]
    changed = replace(model, inheritances=moved)
    signoff.apply(changed, baseline, shown_as="compliance/baseline.json", today=RUN_DATE)
    assert changed.baseline_differences == [
        f"Qa: cloudtrail was inherited from {provider}, is now inherited from AWS Control Tower"
    ]


def test_report_and_oscal_name_the_provider(compliance_model: ComplianceModel, tmp_path: Path) -> None:
    inherited = _qa(compliance_model)["cloudtrail"]
    section = render_markdown(compliance_model).split("## Inherited", 1)[1].split("\n## ", 1)[0]
    items = " ".join(section.split()).split(" - ")
    (item,) = [i for i in items if i.startswith(f"`cloudtrail` from {inherited.provider}")]
    assert item.startswith(f"`cloudtrail` from {inherited.provider}, in Qa: AC-2(4), AC-6(9),")
    assert "AU-7(1)" in item
    write_oscal(compliance_model, tmp_path)
    definition = ComponentDefinition.oscal_read(tmp_path / COMPONENT_DEFINITION)
    assert definition is not None
    workload = next(c for c in definition.components or [] if c.title == "Workload")
    requirements = {r.control_id: r for r in workload.control_implementations[0].implemented_requirements}
    props = requirements["au-7.1"].props or []
    origination = [p for p in props if p.name == "control-origination"]
    assert {str(p.ns) for p in origination} == {FEDRAMP_NS}
    # Dev and prod implement it, qa inherits it: a hybrid, one prop per origination.
    assert [p.value for p in origination] == ["sp-system", "inherited"]
    assert inherited.provider in (origination[1].remarks or "")
    assert [p.value for p in props if p.name == "inherited-from"] == [inherited.provider]


def test_a_control_inherited_everywhere_is_a_requirement_of_its_own(
    compliance_model: ComplianceModel, tmp_path: Path
) -> None:
    """Where no stage evidences it, the workload's requirement is the inherited one alone."""
    trail = {"au-7.1"}
    model = replace(
        compliance_model,
        controls=[
            replace(c, status=ControlStatus.INHERITED, rules=(), resources=(), inherited_from=("Org trail",))
            if c.control in trail
            else c
            for c in compliance_model.controls
        ],
    )
    write_oscal(model, tmp_path)
    definition = ComponentDefinition.oscal_read(tmp_path / COMPONENT_DEFINITION)
    assert definition is not None
    workload = next(c for c in definition.components or [] if c.title == "Workload")
    (requirement,) = [r for r in workload.control_implementations[0].implemented_requirements if r.control_id in trail]
    assert [p.value for p in requirement.props or [] if p.name == "control-origination"] == ["inherited"]
    assert not [p for p in requirement.props or [] if p.name in ("rule", "resource")]
