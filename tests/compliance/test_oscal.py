"""OSCAL documents of a synth: they load back with compliance-trestle and agree with controls.csv."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from trestle.oscal.assessment_plan import AssessmentPlan
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.component import ComponentDefinition

from compliance.mapping import control_of, evidence
from compliance.model import ComplianceModel, RunIdentity, Status
from compliance.oscal import ASSESSMENT_PLAN, ASSESSMENT_RESULTS, COMPONENT_DEFINITION, write_oscal
from compliance.report import write_reports

RUN = RunIdentity(
    commit="1" * 40,
    commit_source="git",
    config_file="tests/fixture.yaml",
    config_sha256="e" * 64,
    pipeline_account="123456789012",
    pipeline_region="us-west-2",
    stages={},
    tools={"compliance": "1"},
    time="2026-01-01T00:00:00Z",
)
CONTROL_ID = re.compile(r"^[a-z]{2}-\d+(\.\d+)?$")


@pytest.fixture(scope="module")
def written(compliance_model: ComplianceModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("oscal")
    model = replace(compliance_model, run=RUN)
    write_reports(model, directory)
    write_oscal(model, directory)
    return directory


@pytest.fixture(scope="module")
def controls(written: Path) -> dict[str, dict[str, str]]:
    return {r["control"]: r for r in csv.DictReader((written / "controls.csv").read_text().splitlines())}


def _value(item: object) -> str:
    """The text of an OSCAL token or enum, whichever of trestle's wrappers holds it."""
    while hasattr(item, "root"):
        item = item.root
    return str(getattr(item, "value", item))


def _props(item: object, name: str) -> list[str]:
    return [p.value for p in (getattr(item, "props", None) or []) if p.name == name]


def test_component_definition_loads_and_implements_what_synth_evidences(
    written: Path, controls: dict[str, dict[str, str]], compliance_model: ComplianceModel
) -> None:
    # A requirement's rules are those the reviewed mapping says evidence the control, never a citation alone.
    citing: dict[str, set[str]] = {}
    for rule in compliance_model.rules:
        for target in evidence().get(rule.rule, ()):
            citing.setdefault(control_of(target), set()).add(rule.rule)
    definition = ComponentDefinition.oscal_read(written / COMPONENT_DEFINITION)
    assert isinstance(definition, ComponentDefinition)
    components = {c.title: c for c in definition.components or []}
    assert set(components) == {"Pipeline", "Workload"}
    for component in components.values():
        (implementation,) = component.control_implementations or []
        assert implementation.source.endswith("FedRAMP_rev5_MODERATE-baseline_profile.json")
        for requirement in implementation.implemented_requirements:
            assert CONTROL_ID.match(requirement.control_id), requirement.control_id
            assert controls[requirement.control_id]["status"] != "not checked at synth"
            origination = _props(requirement, "control-origination")
            rules = set(_props(requirement, "rule"))
            # What this app implements has its rules and resources; a control a stage only inherits has neither.
            assert bool(rules) == ("sp-system" in origination), requirement.control_id
            assert set(origination) <= {"sp-system", "inherited"}, requirement.control_id
            assert rules <= citing[requirement.control_id], requirement.control_id
            assert bool(_props(requirement, "resource")) == bool(rules), requirement.control_id
    assert "sc-28.1" in {
        r.control_id for c in components.values() for r in c.control_implementations[0].implemented_requirements
    }


def test_assessment_results_load_and_agree_with_controls_csv(
    written: Path, controls: dict[str, dict[str, str]], compliance_model: ComplianceModel
) -> None:
    results = AssessmentResults.oscal_read(written / ASSESSMENT_RESULTS)
    assert isinstance(results, AssessmentResults)
    assert results.import_ap.href == ASSESSMENT_PLAN
    (result,) = results.results
    # An inherited control is the provider's to assess, as one not checked at synth is nobody's yet.
    assessed = {k: r for k, r in controls.items() if r["status"] not in ("not checked at synth", "inherited")}
    findings = {f.target.target_id.removesuffix("_obj"): f for f in result.findings or []}
    assert set(findings) == set(assessed)
    for control, finding in findings.items():
        assert _props(finding, "synth-status") == [assessed[control]["status"]]
        # Satisfied only where evidenced at synth: a deviation, requested or approved, is not.
        state = _value(finding.target.status.state)
        assert state == ("satisfied" if assessed[control]["status"] == "evidenced at synth" else "not-satisfied")
        (related,) = finding.related_observations or []
        (observation,) = [o for o in result.observations or [] if o.uuid == related.observation_uuid]
        assert set(_props(observation, "resource")) == set(filter(None, assessed[control]["resources"].split("; ")))
        if assessed[control]["deviations"]:
            assert len(finding.related_risks or []) == len(assessed[control]["deviations"].split("; ")), control
    risks = result.risks or []
    assert len(risks) == len(compliance_model.acknowledgments)
    risk_ids = {r.uuid for r in risks}
    assert all(a.risk_uuid in risk_ids for f in findings.values() for a in f.related_risks or [])
    for risk in risks:
        # Evaluated without a signed-off baseline, no deviation is approved.
        assert _value(risk.status) == "deviation-requested"
        assert risk.description
        assert risk.statement.startswith("Compensating control, checked at synth:")
        assert risk.mitigating_factors
        assert all(" holds on " in m.description for m in risk.mitigating_factors)


def test_the_assessment_plan_loads_and_reviews_the_whole_baseline(
    written: Path, controls: dict[str, dict[str, str]]
) -> None:
    plan = AssessmentPlan.oscal_read(written / ASSESSMENT_PLAN)
    assert isinstance(plan, AssessmentPlan)
    assert plan.import_ssp.href == COMPONENT_DEFINITION
    (selection,) = plan.reviewed_controls.control_selections
    assert [c.control_id for c in selection.include_controls] == list(controls)


def test_ids_are_deterministic_apart_from_time(compliance_model: ComplianceModel, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory, time in ((first, RUN.time), (second, "2026-06-30T12:00:00Z")):
        directory.mkdir()
        write_oscal(replace(compliance_model, run=replace(RUN, time=time)), directory)
    timestamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+00:00|Z)")
    for name in (COMPONENT_DEFINITION, ASSESSMENT_PLAN, ASSESSMENT_RESULTS):
        a, b = (timestamp.sub("<time>", (d / name).read_text()) for d in (first, second))
        assert a == b, name
    uuids = re.findall(r'"uuid": "([0-9a-f-]{36})"', (first / ASSESSMENT_RESULTS).read_text())
    assert len(uuids) == len(set(uuids)), "every uuid names one thing"
    assert json.loads((first / ASSESSMENT_RESULTS).read_text())["assessment-results"]["results"][0]["start"]


def test_a_failing_control_is_not_satisfied(compliance_model: ComplianceModel, tmp_path: Path) -> None:
    failing = replace(
        compliance_model,
        evaluations=[
            replace(e, status=Status.NON_COMPLIANT) if e.rule == "NIST.800.53.R5-S3BucketSSLRequestsOnly" else e
            for e in compliance_model.evaluations
        ],
        run=RUN,
    )
    from compliance.model import controls_from

    failing = replace(failing, controls=controls_from(failing.rules, failing.evaluations))
    write_oscal(failing, tmp_path)
    results = AssessmentResults.oscal_read(tmp_path / ASSESSMENT_RESULTS)
    assert results is not None
    states = {f.target.target_id: _value(f.target.status.state) for f in results.results[0].findings or []}
    assert states["sc-8.1_obj"] == "not-satisfied"
