"""The OSCAL package of a synth: it loads back with compliance-trestle, agrees with controls.csv, and accumulates.

Every document is read with trestle's models (generated from NIST's OSCAL 1.2.1 schemas), and every one
written here, in each variation (approved and failing controls, GovCloud, runs of an edited tree), is
valid and byte for byte what trestle writes of it (`compliance.oscal.validation`): the synth writes them
without trestle. The SSP skeleton goes through `trestle author ssp-assemble`; two runs' results merge
into one.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from trestle.oscal.assessment_plan import AssessmentPlan
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.component import ComponentDefinition
from trestle.oscal.poam import PlanOfActionAndMilestones
from trestle.oscal.ssp import SystemSecurityPlan

from compliance import mapping
from compliance.assembly import REPORT_DIRECTORY
from compliance.evidence import write_evidence
from compliance.identity import system_description
from compliance.model import (
    UNCOMMITTED,
    AcknowledgmentKind,
    CheckResult,
    ComplianceModel,
    ControlStatus,
    Person,
    RunIdentity,
    Status,
    baseline,
    controls_from,
)
from compliance.oscal import (
    ASSESSMENT_PLAN,
    ASSESSMENT_RESULTS,
    BASELINE_PROFILE,
    COMPONENT_DEFINITION,
    POAM,
    SYSTEM_SECURITY_PLAN,
    assessment_results,
    write_oscal,
)
from compliance.oscal.base import FEDRAMP_NS, NS, OUTCOMES, oscal_json
from compliance.oscal.merge import MergeError, merge_results
from compliance.oscal.validation import problems
from config.schema import AppConfig
from scripts import merge_results as merge_script

CONTROL_ID = re.compile(r"^[a-z]{2}-\d+(\.\d+)?$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DOCUMENTS = (COMPONENT_DEFINITION, SYSTEM_SECURITY_PLAN, ASSESSMENT_PLAN, ASSESSMENT_RESULTS, POAM)


@pytest.fixture(scope="module")
def run(fixture_config: AppConfig) -> RunIdentity:
    return RunIdentity(
        commit="1" * 40,
        commit_source="git",
        config_file="tests/fixture.yaml",
        config_sha256="e" * 64,
        pipeline_account=fixture_config.pipeline.account,
        pipeline_region=fixture_config.pipeline.region,
        stages={e.stage_id: f"{e.account} {e.region}" for e in fixture_config.environments},
        tools={"aws-cdk-lib": "2", "cdk-nag": "3", "Control Tower rules": "0", "cfn-lint": "1"},
        time="2026-01-01T00:00:00Z",
        system=system_description(fixture_config.system),
    )


@pytest.fixture(scope="module")
def model(compliance_model: ComplianceModel, run: RunIdentity) -> ComplianceModel:
    return replace(compliance_model, run=run)


@pytest.fixture(scope="module")
def written(assembly_dir: Path, model: ComplianceModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The evidence of a copy of the session's assembly (templates and manifests; no assets), as a synth writes it."""
    assembly = tmp_path_factory.mktemp("oscal") / "cdk.out"
    shutil.copytree(assembly_dir, assembly, ignore=shutil.ignore_patterns("asset.*"))
    write_evidence(model, assembly / REPORT_DIRECTORY)
    return assembly / REPORT_DIRECTORY


@pytest.fixture(scope="module")
def controls(written: Path) -> dict[str, dict[str, str]]:
    return {r["control"]: r for r in csv.DictReader((written / "controls.csv").read_text().splitlines())}


def _json(path: Path) -> dict[str, Any]:
    (document,) = json.loads(path.read_text()).values()
    assert isinstance(document, dict)
    return document


def _value(item: object) -> str:
    """The text of an OSCAL token or enum, whichever of trestle's wrappers holds it."""
    while hasattr(item, "root"):
        item = item.root
    return str(getattr(item, "value", item))


def _props(item: object, name: str) -> list[str]:
    return [p.value for p in (getattr(item, "props", None) or []) if p.name == name]


def _dict_props(item: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in item.get("props", []) if p["name"] == name]


def _uuids(node: object, key: str = "uuid") -> Iterator[tuple[str, str]]:
    """(key, value) of every uuid and uuid reference (`*-uuid`) in a JSON document."""
    if isinstance(node, dict):
        for name, value in node.items():
            if isinstance(value, str) and (name == "uuid" or name.endswith("-uuid")):
                yield name, value
            else:
                yield from _uuids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _uuids(value)


def test_every_document_loads_with_trestle(written: Path) -> None:
    kinds = (ComponentDefinition, SystemSecurityPlan, AssessmentPlan, AssessmentResults, PlanOfActionAndMilestones)
    for name, kind in zip(DOCUMENTS, kinds, strict=True):
        assert isinstance(kind.oscal_read(written / name), kind), name


def test_every_document_is_valid_and_byte_for_byte_what_trestle_writes_of_it(written: Path) -> None:
    assert problems(written) == []


def test_validation_names_a_document_trestle_refuses_or_would_write_otherwise(written: Path, tmp_path: Path) -> None:
    for name in DOCUMENTS:
        shutil.copy(written / name, tmp_path / name)
    (root,) = json.loads((tmp_path / COMPONENT_DEFINITION).read_text()).items()
    (tmp_path / COMPONENT_DEFINITION).write_text(json.dumps({root[0]: {**root[1], "uuid": "not-a-uuid"}}))
    plan = json.loads((tmp_path / ASSESSMENT_PLAN).read_text())
    (tmp_path / ASSESSMENT_PLAN).write_text(json.dumps(plan, indent=4) + "\n")  # valid, but not as trestle writes it
    (tmp_path / SYSTEM_SECURITY_PLAN).unlink()

    found = problems(tmp_path)

    assert [line.split(":")[0] for line in found] == [COMPONENT_DEFINITION, SYSTEM_SECURITY_PLAN, ASSESSMENT_PLAN]
    assert "not valid OSCAL" in found[0]
    assert found[1] == f"{SYSTEM_SECURITY_PLAN}: missing"
    assert "not byte for byte" in found[2]


def test_a_property_value_oscal_would_refuse_fails_as_the_document_is_built(model: ComplianceModel) -> None:
    ack = next(a for a in model.acknowledgments if a.controls)
    padded = replace(ack, controls=(*ack.controls, "AC-6 "))
    with pytest.raises(ValueError, match="OSCAL property nist-control: 'AC-6 '"):
        assessment_results(replace(model, acknowledgments=[padded]))


def test_the_evidence_manifest_lists_every_document(written: Path) -> None:
    listed = json.loads((written / "manifest.json").read_text())["files"]
    assert {f"{REPORT_DIRECTORY}/{name}" for name in DOCUMENTS} <= set(listed)


def test_uuids_are_version_4_and_each_names_one_thing(written: Path) -> None:
    """trestle's authoring models accept version 4 only (trestle/core/generic_oscal.py); OSCAL wants uniqueness."""
    for name in DOCUMENTS:
        document = json.loads((written / name).read_text())
        found = list(_uuids(document))
        assert found, name
        assert [v for _, v in found if not UUID4.match(v)] == [], name
        defined = Counter(v for k, v in found if k == "uuid")
        assert [u for u, n in defined.items() if n > 1] == [], name


def test_component_definition_implements_what_synth_evidences(
    written: Path, controls: dict[str, dict[str, str]], model: ComplianceModel
) -> None:
    # The rules the reviewed mapping says evidence each control: a citation alone implements nothing.
    evidencing: dict[str, set[str]] = {}
    for rule in model.rules:
        for target in mapping.evidence().get(rule.rule, ()):
            evidencing.setdefault(mapping.control_of(target), set()).add(rule.rule)
    definition = ComponentDefinition.oscal_read(written / COMPONENT_DEFINITION)
    assert definition is not None
    components = {c.title: c for c in definition.components or []}
    assert set(components) == {"Pipeline", "Workload"}
    statuses = {s.value: o.implementation for s, o in OUTCOMES.items()}
    for component in components.values():
        (implementation,) = component.control_implementations or []
        assert implementation.source == BASELINE_PROFILE.href
        for requirement in implementation.implemented_requirements:
            assert CONTROL_ID.match(requirement.control_id), requirement.control_id
            status = controls[requirement.control_id]["status"]
            origination = _props(requirement, "control-origination")
            rules = set(_props(requirement, "rule"))
            # What this app implements has its rules, resources and status; a control a stage only inherits none.
            assert bool(rules) == ("sp-system" in origination), requirement.control_id
            assert set(origination) <= {"sp-system", "inherited"}, requirement.control_id
            assert rules <= evidencing.get(requirement.control_id, set()), requirement.control_id
            assert bool(_props(requirement, "resource")) == bool(rules), requirement.control_id
            assert _props(requirement, "implementation-status") == ([statuses[status]] if rules else [])
    assert "sc-28.1" in {
        r.control_id for c in components.values() for r in c.control_implementations[0].implemented_requirements
    }


def test_assessment_results_agree_with_controls_csv(
    written: Path, controls: dict[str, dict[str, str]], model: ComplianceModel
) -> None:
    results = AssessmentResults.oscal_read(written / ASSESSMENT_RESULTS)
    assert results is not None
    assert results.import_ap.href == ASSESSMENT_PLAN
    (result,) = results.results
    outcomes = {s.value: o for s, o in OUTCOMES.items()}
    assessed = {k: r for k, r in controls.items() if r["status"] in outcomes}
    findings = {f.target.target_id.removesuffix("_obj"): f for f in result.findings or []}
    assert set(findings) == set(assessed)
    tools = {c.uuid: c.title for c in result.local_definitions.assessment_assets.components}
    for control, finding in findings.items():
        status = assessed[control]["status"]
        assert _props(finding, "synth-status") == [status]
        assert _value(finding.target.status.state) == outcomes[status].state
        assert _value(finding.target.status.reason) == outcomes[status].reason
        assert {a.actor_uuid for o in finding.origins for a in o.actors} <= set(tools)
        (related,) = finding.related_observations or []
        (observation,) = [o for o in result.observations or [] if o.uuid == related.observation_uuid]
        assert [_value(m) for m in observation.methods] == ["EXAMINE"]
        # A control only deviations stand behind names no resource of a passing rule.
        assert set(_props(observation, "resource")) == set(filter(None, assessed[control]["resources"].split("; ")))
        if assessed[control]["deviations"]:
            assert len(finding.related_risks or []) == len(assessed[control]["deviations"].split("; ")), control
    # A control with a deviation is not satisfied: its deviations wait for an approval nobody has recorded.
    assert "not-satisfied" in {_value(f.target.status.state) for f in findings.values()}
    risks = result.risks or []
    assert len(risks) == len(model.acknowledgments)
    risk_ids = {r.uuid for r in risks}
    assert all(a.risk_uuid in risk_ids for f in findings.values() for a in f.related_risks or [])
    for risk in risks:
        assert _value(risk.status) == "deviation-requested"
        assert risk.statement.startswith("Compensating control, checked at synth:")
        assert all(" holds on " in m.description for m in risk.mitigating_factors)
        facets = {f.name: f.value for c in risk.characterizations for f in c.facets}
        assert facets == {"likelihood": "low", "impact": "moderate", "risk": "low"}
        assert {_value(r.lifecycle) for r in risk.remediations} == {"recommendation", "planned"}
    assert {tools[a.actor_uuid] for r in risks for o in r.origins for a in o.actors} >= {"cdk-nag"}


def test_relevant_evidence_is_the_templates_as_the_manifest_hashes_them(written: Path) -> None:
    listed = json.loads((written / "manifest.json").read_text())["files"]
    document = _json(written / ASSESSMENT_RESULTS)
    resources = {r["uuid"]: r for r in document["back-matter"]["resources"]}
    templates = {path for path in listed if path.endswith(".template.json")}
    hashed = {r["rlinks"][0]["href"]: r["rlinks"][0].get("hashes", [{}])[0].get("value") for r in resources.values()}
    assert templates <= set(hashed)
    assert all(hashed[path] == listed[path] for path in templates | {"validation-report.json"})
    assert hashed[f"{REPORT_DIRECTORY}/manifest.json"] is None  # it hashes the results: they cannot hash it
    for observation in document["results"][0]["observations"]:
        named = [e["href"].removeprefix("#") for e in observation["relevant-evidence"]]
        assert set(named) <= set(resources), observation["title"]
        shown = {resources[u]["rlinks"][0]["href"] for u in named}
        assert f"{REPORT_DIRECTORY}/manifest.json" in shown
        assert shown & templates, observation["title"]


def test_the_plan_imports_the_ssp_and_examines_both_components(
    written: Path, controls: dict[str, dict[str, str]]
) -> None:
    plan = AssessmentPlan.oscal_read(written / ASSESSMENT_PLAN)
    assert plan is not None
    assert plan.import_ssp.href == SYSTEM_SECURITY_PLAN
    (selection,) = plan.reviewed_controls.control_selections
    assert [c.control_id for c in selection.include_controls] == list(controls)
    (activity,) = plan.local_definitions.activities
    assert _props(activity, "method") == ["EXAMINE"]
    ssp = _json(written / SYSTEM_SECURITY_PLAN)
    components = {c["uuid"]: c["title"] for c in ssp["system-implementation"]["components"]}
    (subjects,) = plan.assessment_subjects
    assert {components[s.subject_uuid] for s in subjects.include_subjects} == {"Pipeline", "Workload"}


def test_the_ssp_skeleton_holds_the_system_boundary_and_every_control(
    written: Path, controls: dict[str, dict[str, str]], run: RunIdentity
) -> None:
    ssp = _json(written / SYSTEM_SECURITY_PLAN)
    assert ssp["import-profile"]["href"] == BASELINE_PROFILE.href
    (profile,) = ssp["back-matter"]["resources"]
    assert profile["rlinks"][0]["hashes"] == [{"algorithm": "SHA-256", "value": BASELINE_PROFILE.sha256}]
    boundary = ssp["system-characteristics"]["authorization-boundary"]["description"]
    places = {(run.pipeline_account, run.pipeline_region), *(tuple(v.split()) for v in run.stages.values())}
    inventory = ssp["system-implementation"]["inventory-items"]
    found = {
        (
            next(p["value"] for p in i["props"] if p["name"] == "aws-account"),
            next(p["value"] for p in i["props"] if p["name"] == "aws-region"),
        )
        for i in inventory
    }
    assert found == places
    assert all(stage in boundary for stage in run.stages)
    (leveraged,) = ssp["system-implementation"]["leveraged-authorizations"]
    assert leveraged["title"] == "AWS commercial regions"
    components = {c["title"]: c for c in ssp["system-implementation"]["components"]}
    assert {"This System", "Pipeline", "Workload", "AWS commercial regions", "AWS S3", "AWS KMS"} <= set(components)
    for component in components.values():
        pointing = [p["value"] for p in component.get("props", []) if p["name"] == "leveraged-authorization-uuid"]
        assert pointing in ([], [leveraged["uuid"]]), component["title"]
    requirements = {r["control-id"]: r for r in ssp["control-implementation"]["implemented-requirements"]}
    assert list(requirements) == list(controls)
    titles = {c["uuid"]: title for title, c in components.items()}
    outcomes = {s.value: o.implementation for s, o in OUTCOMES.items()}
    for control, row in controls.items():
        parts = {titles[b["component-uuid"]]: b for b in requirements[control]["by-components"]}
        assert set(parts) <= {"This System", "Pipeline", "Workload"}, control
        if row["status"] in outcomes:
            states = {b["implementation-status"]["state"] for b in parts.values() if "implementation-status" in b}
            assert states == {outcomes[row["status"]]}, control
        elif row["status"] == "not checked at synth":
            assert parts["This System"]["description"].startswith("REPLACE: "), control


def test_the_ssp_describes_the_system_as_the_configuration_does(
    written: Path, fixture_config: AppConfig, run: RunIdentity
) -> None:
    """Name, FedRAMP's id, information types and their high-water mark, the people named, AWS's package: from the
    configuration's `system` section; what it leaves out (here the authorizing official) stays for the team."""
    system = fixture_config.system
    assert system.fedramp_id
    assert system.aws_authorization is not None
    assert system.isso is not None
    assert system.system_owner is not None
    assert system.authorizing_official is None  # the fixture leaves one role to the team
    ssp = _json(written / SYSTEM_SECURITY_PLAN)
    characteristics = ssp["system-characteristics"]
    fedramp = {"identifier-type": "http://fedramp.gov/ns/oscal", "id": system.fedramp_id}
    assert characteristics["system-ids"] == [fedramp]
    assert (characteristics["system-name"], characteristics["system-name-short"]) == (system.name, system.short_name)
    assert characteristics["description"] == system.description
    assert characteristics["status"]["state"] == system.status
    types = characteristics["system-information"]["information-types"]
    assert [t["title"] for t in types] == [t.title for t in system.information_types]
    for written_type, configured in zip(types, system.information_types, strict=True):
        assert written_type["availability-impact"]["base"] == f"fips-199-{configured.availability}"
        ids = [i for c in written_type["categorizations"] for i in c["information-type-ids"]]
        assert ids == [configured.nist_800_60_id]
        assert written_type["availability-impact"]["selected"] == f"fips-199-{configured.availability}"
    order = ["low", "moderate"]
    for objective in ("confidentiality", "integrity", "availability"):
        highest = max((getattr(t, objective) for t in system.information_types), key=order.index)
        assert characteristics["security-impact-level"][f"security-objective-{objective}"] == f"fips-199-{highest}"
    parties = {p["uuid"]: p for p in ssp["metadata"]["parties"]}
    named = {
        r["role-id"]: [(parties[u]["name"], parties[u].get("email-addresses")) for u in r["party-uuids"]]
        for r in ssp["metadata"]["responsible-parties"]
    }
    assert named == {
        "system-owner": [(system.system_owner.name, [system.system_owner.email])],
        "authorizing-official": [("REPLACE: the Authorizing Official", None)],
        "information-system-security-officer": [(system.isso.name, [system.isso.email])],
    }
    levels = [getattr(t, o) for t in system.information_types for o in ("confidentiality", "integrity", "availability")]
    assert characteristics["security-sensitivity-level"] == f"fips-199-{max(levels, key=order.index)}"
    (leveraged,) = ssp["system-implementation"]["leveraged-authorizations"]
    assert _dict_props(leveraged, "leveraged-system-identifier") == [system.aws_authorization.package_id]
    assert leveraged["date-authorized"] == system.aws_authorization.date_authorized
    assert "REPLACE" not in json.dumps(characteristics["system-ids"]) + json.dumps(leveraged)


def test_an_ssp_without_a_system_section_marks_what_the_team_writes(model: ComplianceModel, tmp_path: Path) -> None:
    assert model.run is not None
    write_oscal(replace(model, run=replace(model.run, system=None)), tmp_path)
    ssp = _json(tmp_path / SYSTEM_SECURITY_PLAN)
    characteristics = ssp["system-characteristics"]
    assert [i["identifier-type"] for i in characteristics["system-ids"]] == ["https://ietf.org/rfc/rfc4122"]
    assert "REPLACE" in characteristics["description"]
    assert all("REPLACE" in t["description"] for t in characteristics["system-information"]["information-types"])
    parties = {p["uuid"]: p["name"] for p in ssp["metadata"]["parties"]}
    roles = {r["role-id"]: [parties[u] for u in r["party-uuids"]] for r in ssp["metadata"]["responsible-parties"]}
    assert roles == {
        "system-owner": ["REPLACE: the System Owner"],
        "authorizing-official": ["REPLACE: the Authorizing Official"],
        "information-system-security-officer": ["REPLACE: the Information System Security Officer"],
    }
    (leveraged,) = ssp["system-implementation"]["leveraged-authorizations"]
    assert _dict_props(leveraged, "leveraged-system-identifier") == ["REPLACE"]


def test_one_person_in_two_roles_is_one_party(model: ComplianceModel, tmp_path: Path) -> None:
    assert model.run is not None
    assert model.run.system is not None
    people = (
        Person("system-owner", "Pat Doe", "pat@fixture.example"),
        Person("information-system-security-officer", "Pat Doe", "pat@fixture.example"),
    )
    system = replace(model.run.system, people=people)
    write_oscal(replace(model, run=replace(model.run, system=system)), tmp_path)
    metadata = _json(tmp_path / SYSTEM_SECURITY_PLAN)["metadata"]
    pat = [p["uuid"] for p in metadata["parties"] if p["name"] == "Pat Doe"]
    assert len(pat) == 1
    roles = {r["role-id"]: r["party-uuids"] for r in metadata["responsible-parties"]}
    assert roles["system-owner"] == roles["information-system-security-officer"] == pat


def test_a_govcloud_configuration_leverages_govcloud(model: ComplianceModel, tmp_path: Path) -> None:
    assert model.run is not None
    gov = replace(model.run, pipeline_region="us-gov-west-1", stages={"Prod": "123456789012 us-gov-east-1"})
    write_oscal(replace(model, run=gov), tmp_path)
    ssp = _json(tmp_path / SYSTEM_SECURITY_PLAN)
    assert [a["title"] for a in ssp["system-implementation"]["leveraged-authorizations"]] == ["AWS GovCloud (US)"]
    assert problems(tmp_path) == []


def test_the_poam_holds_open_deviations_with_their_review_dates(model: ComplianceModel, tmp_path: Path) -> None:
    acks = [a for a in model.acknowledgments if a.matched != 0]
    approved, reviewed = acks[0], acks[1]
    changed = [
        replace(approved, approved=True),
        replace(reviewed, approved=False, review_by="2027-03-31"),
        *(replace(a, approved=False) for a in acks[2:]),
    ]
    write_oscal(replace(model, acknowledgments=changed), tmp_path)
    poam = PlanOfActionAndMilestones.oscal_read(tmp_path / POAM)
    assert poam is not None
    assert poam.import_ssp.href == SYSTEM_SECURITY_PLAN
    risks = {r.uuid: r for r in poam.risks}
    items = {i.title: i for i in poam.poam_items}
    # Every deviation stays on the POA&M, approved or not: approval accepts the risk, it does not close it.
    assert set(items) == {a.name for a in acks}
    for title, item in items.items():
        (related,) = item.related_risks
        expected = "deviation-approved" if title == approved.name else "deviation-requested"
        assert _value(risks[related.risk_uuid].status) == expected
    (due,) = items[f"{reviewed.finding} on {reviewed.path}"].related_risks
    risk = risks[due.risk_uuid]
    assert risk.deadline.isoformat() == "2027-03-31T00:00:00+00:00"
    (milestone,) = [t for r in risk.remediations for t in r.tasks or []]
    assert _value(milestone.type) == "milestone"
    assert milestone.timing.on_date.date.isoformat() == "2027-03-31T00:00:00+00:00"
    results = _json(tmp_path / ASSESSMENT_RESULTS)
    statuses = {r["title"]: r["status"] for r in results["results"][0]["risks"]}
    assert statuses[f"{approved.finding} on {approved.path}"] == "deviation-approved"
    assert problems(tmp_path) == []


def test_each_risk_names_its_kind_and_fedramp_s_deviation_request_never_approved_by_the_synth(
    model: ComplianceModel, tmp_path: Path
) -> None:
    """FedRAMP's POA&M guide 4.5: a false positive or an operational requirement (what a generated construct is too)
    is a request, pending once evidence supports it; its approval is the authorizing official's, not the baseline's
    sign-off, so the synth never writes it. A compensating control that does not hold leaves it investigating."""
    matched = [a for a in model.acknowledgments if a.matched != 0]
    first = {kind: next(a for a in matched if a.kind is kind) for kind in AcknowledgmentKind}
    broken = CheckResult(
        "Versioned",
        "the S3 bucket is versioned",
        first[AcknowledgmentKind.OPERATIONAL_REQUIREMENT].path,
        False,
        "absent",
    )
    cases = [
        (
            replace(first[AcknowledgmentKind.OPERATIONAL_REQUIREMENT], approved=True),
            "operational-requirement",
            "pending",
        ),
        (replace(first[AcknowledgmentKind.TOOL_FALSE_POSITIVE], approved=False), "false-positive", "pending"),
        (replace(first[AcknowledgmentKind.GENERATED_CONSTRUCT], approved=True), "operational-requirement", "pending"),
        (
            replace(first[AcknowledgmentKind.TOOL_FALSE_POSITIVE], approved=True, checks=(broken,)),
            "false-positive",
            "investigating",
        ),
    ]
    for ack, name, state in cases:
        write_oscal(replace(model, acknowledgments=[ack]), tmp_path)
        (risk,) = [r for r in _json(tmp_path / POAM)["risks"] if r["title"] == ack.name]
        props = [(p.get("ns"), p["name"], p["value"]) for p in risk["props"]]
        assert (NS, "acknowledgment-kind", ack.kind.value) in props
        requests = [
            (n, v) for ns, n, v in props if ns == FEDRAMP_NS and n in ("operational-requirement", "false-positive")
        ]
        assert requests == [(name, state)], ack.name


def test_a_failing_control_is_not_satisfied_and_its_finding_is_a_poam_item(
    model: ComplianceModel, tmp_path: Path
) -> None:
    # A rule the reviewed mapping says evidences a control (S3 bucket logging: AU-2, AU-12) fails everywhere.
    rule = "NIST.800.53.R5-S3BucketLoggingEnabled"
    assert mapping.evidence().get(rule)
    assert any(e.rule == rule for e in model.evaluations)
    failing = replace(
        model,
        evaluations=[
            replace(e, status=Status.NON_COMPLIANT, message="Enable logging.") if e.rule == rule else e
            for e in model.evaluations
        ],
    )
    failing = replace(
        failing,
        controls=controls_from(failing.rules, failing.evaluations, acknowledgments=failing.acknowledgments),
    )
    assert ControlStatus.FAILING in {c.status for c in failing.controls}
    write_oscal(failing, tmp_path)
    results = AssessmentResults.oscal_read(tmp_path / ASSESSMENT_RESULTS)
    assert results is not None
    (result,) = results.results
    states = {
        f.target.target_id: (_value(f.target.status.state), _value(f.target.status.reason)) for f in result.findings
    }
    assert ("not-satisfied", "fail") in states.values()
    open_risks = [r for r in result.risks if r.statement.startswith("Open at synth")]
    assert open_risks
    assert all(_value(r.status) == "open" for r in open_risks)
    assert all(r.remediations[0].description == "Enable logging." for r in open_risks)
    poam = _json(tmp_path / POAM)
    assert {r.uuid for r in open_risks} <= {i["related-risks"][0]["risk-uuid"] for i in poam["poam-items"]}
    assert problems(tmp_path) == []


def _identified(directory: Path) -> dict[str, set[str]]:
    """Document -> every uuid it defines."""
    return {n: {v for k, v in _uuids(json.loads((directory / n).read_text())) if k == "uuid"} for n in DOCUMENTS}


def test_runs_differ_in_their_own_uuids_and_share_their_subjects(model: ComplianceModel, tmp_path: Path) -> None:
    assert model.run is not None
    runs = {
        "first": model.run,
        "later": replace(model.run, time="2026-06-30T12:00:00Z"),
        "edited": replace(model.run, commit_source=UNCOMMITTED),
    }
    found = {}
    for name, identity in runs.items():
        (tmp_path / name).mkdir()
        write_oscal(replace(model, run=identity), tmp_path / name)
        found[name] = _identified(tmp_path / name)
        assert problems(tmp_path / name) == [], name
    first = _json(tmp_path / "first" / ASSESSMENT_RESULTS)
    per_run = {first["uuid"], first["results"][0]["uuid"], *(o["uuid"] for o in first["results"][0]["observations"])}
    for other in ("later", "edited"):
        assert not per_run & found[other][ASSESSMENT_RESULTS], other
        # Components, implemented requirements and POA&M items keep their identity from run to run.
        for name in (COMPONENT_DEFINITION, SYSTEM_SECURITY_PLAN):
            shared = found["first"][name] & found[other][name]
            assert len(shared) == len(found["first"][name]) - 1, (other, name)  # all but the document's own
    items = {i["uuid"] for i in _json(tmp_path / "first" / POAM)["poam-items"]}
    assert items == {i["uuid"] for i in _json(tmp_path / "edited" / POAM)["poam-items"]}
    assert _json(tmp_path / "edited" / ASSESSMENT_RESULTS)["metadata"]["version"] == f"{'1' * 40}+uncommitted"


def test_two_runs_merge_into_one_valid_results_document(model: ComplianceModel, tmp_path: Path) -> None:
    assert model.run is not None
    for name, time in (("a", "2026-01-01T00:00:00Z"), ("b", "2026-01-02T00:00:00Z")):
        (tmp_path / name).mkdir()
        document = assessment_results(replace(model, run=replace(model.run, time=time)))
        (tmp_path / name / ASSESSMENT_RESULTS).write_bytes(oscal_json(ASSESSMENT_RESULTS, document))
    a, b = (json.loads((tmp_path / n / ASSESSMENT_RESULTS).read_text()) for n in "ab")
    # Two runs in one document unmerged: every observation's uuid would be there twice.
    merged = merge_results(a, b)
    document = merged["assessment-results"]
    assert [r["start"][:10] for r in document["results"]] == ["2026-01-01", "2026-01-02"]
    assert AssessmentResults.model_validate(document)
    defined = Counter(v for k, v in _uuids(merged) if k == "uuid")
    assert [u for u, n in defined.items() if n > 1] == []
    assert merge_results(merged, b) == merged  # a run merged twice is there once
    tampered = json.loads(json.dumps(b))
    tampered["assessment-results"]["results"][0]["title"] = "another run under the same uuid"
    with pytest.raises(MergeError, match="differs"):
        merge_results(merged, tampered)
    output = tmp_path / "merged.json"
    assert (
        merge_script.main(
            [
                str(tmp_path / "a" / ASSESSMENT_RESULTS),
                str(tmp_path / "b" / ASSESSMENT_RESULTS),
                "--output",
                str(output),
            ]
        )
        == 0
    )
    assert len(_json(output)["results"]) == 2


def _trestle(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "trestle", *args]
    return subprocess.run(command, cwd=workspace, capture_output=True, text=True, timeout=300, check=False)


def _catalog_and_profile(controls: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A catalog of the baseline's controls (ids, titles, one statement each) and a profile of `controls`,
    standing in offline for NIST's catalog and GSA's profile, which the pinned profile imports by URL."""
    groups: dict[str, dict[str, Any]] = {}
    for row in baseline():
        parent = row.control.split(".")[0]
        family = groups.setdefault(row.family, {"id": parent.split("-")[0], "title": row.family, "controls": []})
        entry = {
            "id": row.control,
            "title": row.title.split(" | ")[-1],
            "parts": [{"id": f"{row.control}_smt", "name": "statement", "prose": row.title}],
        }
        if "." in row.control:
            next(c for c in family["controls"] if c["id"] == parent).setdefault("controls", []).append(entry)
        else:
            family["controls"].append(entry)
    metadata = {
        "title": BASELINE_PROFILE.title,
        "last-modified": "2026-01-01T00:00:00Z",
        "version": "1",
        "oscal-version": "1.2.1",
    }
    catalog = {
        "catalog": {
            "uuid": "7d9a5a35-8f5c-4d1e-9a53-3f1b2c5f0a11",
            "metadata": metadata,
            "groups": list(groups.values()),
        }
    }
    profile = {
        "profile": {
            "uuid": "0b1f3c9e-5a4d-4e2b-8c7f-6d5e4a3b2c10",
            "metadata": metadata,
            "imports": [
                {"href": "trestle://catalogs/baseline/catalog.json", "include-controls": [{"with-ids": controls}]}
            ],
        }
    }
    return catalog, profile


def test_trestle_assembles_an_ssp_from_the_skeleton_and_the_component_definition(
    written: Path, tmp_path: Path, fixture_config: AppConfig
) -> None:
    """`trestle author ssp-generate` then `ssp-assemble --name` the skeleton: what a team runs to author the SSP."""
    definition = _json(written / COMPONENT_DEFINITION)
    implemented = {
        r["control-id"]
        for c in definition["components"]
        for i in c.get("control-implementations", [])
        for r in i["implemented-requirements"]
    }
    assert _trestle(tmp_path, "init").returncode == 0
    # A few controls keep ssp-generate quick: what it writes and assemble reads is per control.
    catalog, profile = _catalog_and_profile(["ac-1", "sc-28.1", *sorted(implemented)[:4]])
    for kind, name, document in (("catalogs", "baseline", catalog), ("profiles", "fedramp", profile)):
        (tmp_path / kind / name).mkdir(parents=True)
        (tmp_path / kind / name / f"{kind[:-1]}.json").write_text(json.dumps(document))
    for folder, name in (
        ("component-definitions/app", COMPONENT_DEFINITION),
        ("system-security-plans/skeleton", SYSTEM_SECURITY_PLAN),
    ):
        (tmp_path / folder).mkdir(parents=True)
        shutil.copy(written / name, tmp_path / folder / name)
    generated = _trestle(tmp_path, "author", "ssp-generate", "-p", "fedramp", "-cd", "app", "-o", "markdown")
    assert generated.returncode == 0, generated.stderr
    assembled = _trestle(
        tmp_path, "author", "ssp-assemble", "-m", "markdown", "-cd", "app", "-n", "skeleton", "-o", "assembled"
    )
    assert assembled.returncode == 0, assembled.stderr
    ssp = SystemSecurityPlan.oscal_read(tmp_path / "system-security-plans" / "assembled" / SYSTEM_SECURITY_PLAN)
    assert ssp is not None
    assert ssp.system_characteristics.system_name == fixture_config.system.name
    titles = {c.uuid: c.title for c in ssp.system_implementation.components}
    assert {"This System", "Pipeline", "Workload", "AWS commercial regions"} <= set(titles.values())
    (requirement,) = [r for r in ssp.control_implementation.implemented_requirements if r.control_id == "sc-28.1"]
    states = {
        titles[b.component_uuid]: _value(b.implementation_status.state)
        for b in requirement.by_components
        if b.implementation_status is not None
    }
    assert {"Pipeline", "Workload"} <= set(states)
    assert {states["Pipeline"], states["Workload"]} <= {o.implementation for o in OUTCOMES.values()}
