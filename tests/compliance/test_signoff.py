"""The signed-off compliance baseline: what trips it, what does not, and how a reviewed change is recorded."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from compliance import signoff
from compliance.gate import baseline_failures
from compliance.model import AcknowledgmentKind, ComplianceModel, ControlStatus, control_id
from config import DEFAULT_CONFIG_PATH, load_config
from tests.synth_runs import RUN_DATE

COMMITTED = signoff.DEFAULT_PATH


def _without_rule(model: ComplianceModel, scope: str, control: str) -> ComplianceModel:
    """The model as if no rule citing `control` had been evaluated in `scope`."""
    citing = {r.rule for r in model.rules if any(control_id(label) == control for label in r.cited)}
    return replace(model, evaluations=[e for e in model.evaluations if not (e.scope == scope and e.rule in citing)])


def test_the_committed_baseline_covers_the_shipped_configurations_stages() -> None:
    # Whether it matches the shipped file's synth is checked where that synth runs (test_shipped_config).
    committed = json.loads(COMMITTED.read_text())
    assert committed["schema"] == signoff.SCHEMA
    assert set(committed["scopes"]) == {
        "Pipeline",
        *(e.stage_id for e in load_config(DEFAULT_CONFIG_PATH).environments),
    }


def test_a_removed_control_fails_the_gate_until_make_baseline_records_it(
    compliance_model: ComplianceModel, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"  # a copy: the committed file is never rewritten by a test
    signoff.write(compliance_model, baseline)
    scope = compliance_model.scopes[-1]
    evidenced = [
        control
        for control, status in signoff.snapshot(compliance_model)["scopes"][scope]["controls"].items()
        if status == ControlStatus.EVIDENCED
    ]
    control = evidenced[0]
    lost = _without_rule(compliance_model, scope, control)
    signoff.apply(lost, baseline, shown_as="compliance/baseline.json", today=RUN_DATE)
    expected = f"{scope}: {control} was evidenced at synth, is now not checked at synth"
    assert expected in lost.baseline_differences
    (failure,) = [f for f in baseline_failures(lost) if f"{scope}: {control} " in f.message]
    assert failure.line() == f"Baseline at compliance/baseline.json: {expected}"
    signoff.write(lost, baseline)  # what `make baseline` does
    again = replace(lost, baseline_differences=[])
    signoff.apply(again, baseline, shown_as="compliance/baseline.json", today=RUN_DATE)
    assert again.baseline_differences == []
    assert baseline_failures(again) == []


def test_added_widened_and_removed_acknowledgments(compliance_model: ComplianceModel) -> None:
    committed = signoff.snapshot(compliance_model)
    current = copy.deepcopy(committed)
    scope = compliance_model.scopes[-1]
    acks: dict[str, dict[str, Any]] = current["scopes"][scope]["acknowledgments"]
    first, second, third = sorted(acks)[:3]
    acks["AwsSolutions-IAM5[Resource::*] on Service/Everything"] = {
        "review_by": "2027-06-30",
        "resources": ["Service/Everything"],
    }
    acks[first]["resources"] = [*acks[first]["resources"], "Data/SomethingElse/Resource"]
    del acks[second]
    acks[third]["review_by"] = "2027-12-01"  # a later review is a change to review, as any other date is
    comparison = signoff.compare(committed, current)
    assert sorted(comparison.regressions) == sorted(
        [
            f"{scope}: acknowledgment of {first} widened to Data/SomethingElse/Resource",
            f"{scope}: new acknowledgment of AwsSolutions-IAM5[Resource::*] on Service/Everything",
            f"{scope}: acknowledgment of {third} is to be reviewed by 2027-12-01, not "
            f"{committed['scopes'][scope]['acknowledgments'][third]['review_by']}",
        ]
    )
    assert comparison.improvements == [f"{scope}: acknowledgment removed: {second}"]


def test_a_changed_kind_is_a_difference_to_review_and_unapproves_the_acknowledgment(
    compliance_model: ComplianceModel,
) -> None:
    committed = signoff.snapshot(compliance_model)
    scope = compliance_model.scopes[-1]
    operational = AcknowledgmentKind.OPERATIONAL_REQUIREMENT
    record = next(a for a in compliance_model.acknowledgments if a.scope == scope and a.kind is not operational)
    # Declared an operational requirement now: the real deviation it is, and a change a reviewer must see.
    declared = [replace(a, kind=operational) if a is record else a for a in compliance_model.acknowledgments]
    changed = replace(compliance_model, acknowledgments=declared)
    current = signoff.snapshot(changed)
    acks = current["scopes"][scope]["acknowledgments"]
    (name,) = [n for n in acks if acks[n]["kind"] != committed["scopes"][scope]["acknowledgments"][n]["kind"]]
    assert acks[name]["kind"] == "operational requirement"
    assert signoff.compare(committed, current).regressions == [
        f"{scope}: acknowledgment of {name} is of kind operational requirement, not {record.kind}"
    ]
    # The committed baseline approved it as the other kind: as this one it waits for a reviewer.
    signoff.approve(changed, committed, today=RUN_DATE)
    unapproved = [a for a in changed.acknowledgments if not a.approved and a.matched != 0]
    assert [(a.path, a.finding) for a in unapproved] == [(record.path, record.finding)]


def test_a_baseline_of_the_former_schema_is_recorded_again_before_it_approves_anything(
    compliance_model: ComplianceModel,
) -> None:
    current = signoff.snapshot(compliance_model)
    former = {**copy.deepcopy(current), "schema": "fedramp-monitoring/compliance-baseline/2"}
    (line,) = signoff.compare(former, current).regressions
    assert line == (
        "the baseline is of schema 'fedramp-monitoring/compliance-baseline/2'; this run records "
        "'fedramp-monitoring/compliance-baseline/3' (which adds each acknowledgment's kind): record it again "
        "(`make baseline`) and review the diff"
    )
    model = copy.deepcopy(compliance_model)
    signoff.approve(model, former, today=RUN_DATE)
    assert not any(a.approved for a in model.acknowledgments)


def test_adding_or_removing_an_environment_trips_it(compliance_model: ComplianceModel) -> None:
    committed = signoff.snapshot(compliance_model)
    fewer = copy.deepcopy(committed)
    removed = compliance_model.scopes[-1]
    del fewer["scopes"][removed]
    assert signoff.compare(committed, fewer).regressions == [
        f"{removed}: in the baseline but not in this run (an environment was removed)"
    ]
    assert signoff.compare(fewer, committed).regressions == [
        f"{removed}: in this run but not in the baseline (an environment was added)"
    ]


def _scope(controls: dict[str, str], inherited: dict[str, tuple[str, list[str]]] | None = None) -> dict[str, object]:
    """A hand-written scope of a baseline document: statuses, and service -> (provider, controls)."""
    scope: dict[str, object] = {"controls": controls, "acknowledgments": {}}
    if inherited:
        scope["inherited"] = {s: {"from": p, "controls": c} for s, (p, c) in inherited.items()}
    return scope


def _compare(old: dict[str, object], new: dict[str, object]) -> signoff.Comparison:
    return signoff.compare({"scopes": {"Prod": old}}, {"scopes": {"Prod": new}})


def test_into_or_out_of_inherited_and_a_provider_change_are_differences_to_review() -> None:
    evidenced = _scope({"au-7.1": "evidenced at synth", "si-7": "partial, deviation approved"})
    tower = _scope({"au-7.1": "inherited", "si-7": "inherited"}, {"cloudtrail": ("Control Tower", ["au-7.1", "si-7"])})
    assert _compare(evidenced, tower).regressions == [
        "Prod: cloudtrail is now inherited from Control Tower",
        "Prod: au-7.1 was evidenced at synth, is now inherited from Control Tower",
        "Prod: si-7 was partial, deviation approved, is now inherited from Control Tower",
    ]
    # Out of inherited, even to evidenced, is reviewed too: the landing zone no longer answers for it.
    back = _compare(tower, evidenced)
    assert back.regressions[0] == "Prod: cloudtrail was inherited from Control Tower, is no longer inherited"
    assert "Prod: au-7.1 was inherited from Control Tower, is now evidenced at synth" in back.regressions
    assert back.improvements == []
    org = _scope({"au-7.1": "inherited", "si-7": "inherited"}, {"cloudtrail": ("Org trail", ["au-7.1", "si-7"])})
    assert _compare(tower, org).regressions == [
        "Prod: cloudtrail was inherited from Control Tower, is now inherited from Org trail"
    ]
    assert _compare(tower, copy.deepcopy(tower)) == signoff.Comparison()


def test_a_control_two_inherited_services_give_names_both_providers() -> None:
    both = {"cloudtrail": ("Trail", ["cp-9.8"]), "config": ("Recorder", ["cp-9.8"])}
    comparison = _compare(_scope({}), _scope({"cp-9.8": "inherited"}, both))
    assert "Prod: cp-9.8 was not checked at synth, is now inherited from Trail and Recorder" in comparison.regressions


def test_a_provider_is_recorded_without_its_account_or_region() -> None:
    text = "AWS Control Tower organization trail (log archive account 999999999999, us-gov-west-1)"
    assert (
        signoff.deployment_neutral(text)
        == "AWS Control Tower organization trail (log archive account <account>, <region>)"
    )
    assert signoff.deployment_neutral("the Prod stage's trail") == "the Prod stage's trail"  # stage names stay


@pytest.mark.parametrize(
    ("text", "neutral"),
    [
        (
            "Pipeline/Dev/Service/Api/Api/DeploymentStage.dev/Resource",
            "Service/Api/Api/DeploymentStage.<stage>/Resource",
        ),
        ("Pipeline/Dev/Network/Vpc/DataSubnet3/Subnet", "Network/Vpc/DataSubnet<n>/Subnet"),
        (
            "AwsSolutions-IAM5[Resource::arn:aws-us-gov:execute-api:us-gov-west-1:720000000002:*/*/GET/health]",
            "AwsSolutions-IAM5[Resource::arn:<partition>:execute-api:<region>:<account>:*/*/GET/health]",
        ),
        (
            "AwsSolutions-IAM5[Resource::<AuditBucket7486E833.Arn>/*]",
            "AwsSolutions-IAM5[Resource::<AuditBucket<hash>.Arn>/*]",
        ),
        # A stage in another region than the pipeline brings a support stack named after that region.
        ("PipelineSupport-us-east-2/ReplicationBucket/Resource", "PipelineSupport-<region>/ReplicationBucket/Resource"),
        # Its bucket's generated name cuts the region short, by as much as the region's name is long.
        (
            "Preflight-RetainedPhysicalName[pipelinesupport-ap-southeeplicationbucket1a2b3c4d5e6f7a8b9c0d]",
            "Preflight-RetainedPhysicalName[pipelinesupport-<region>eplicationbucket<hash>]",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:aws-us-gov:s3:::pipelinesupport-us-gov-eaeplicationbucket1a2b3c4d5e6f/*]",
            "AwsSolutions-IAM5[Resource::arn:<partition>:s3:::pipelinesupport-<region>eplicationbucket<hash>/*]",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:aws:s3:::pipelinesupport-us-east-2replicationbucket1a2b3c4d5e6f/*]",
            "AwsSolutions-IAM5[Resource::arn:<partition>:s3:::pipelinesupport-<region>replicationbucket<hash>/*]",
        ),
        (
            "Pipeline/CodePipeline/Source/fixture-org_monitoring-fixture/CodePipelineActionRole/Resource",
            "Pipeline/CodePipeline/Source/<repository>/CodePipelineActionRole/Resource",
        ),
    ],
)
def test_neutral_paths_and_findings(text: str, neutral: str) -> None:
    assert signoff.neutral(text, "Dev") == neutral
