"""The signed-off compliance baseline: what trips it, what does not, and how a reviewed change is recorded."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest

from compliance import signoff
from compliance.gate import baseline_failures
from compliance.model import ComplianceModel, ControlStatus, control_id
from config import DEFAULT_CONFIG_PATH, load_config

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
    signoff.apply(lost, baseline, shown_as="compliance/baseline.json")
    expected = f"{scope}: {control} was evidenced at synth, is now not checked at synth"
    assert expected in lost.baseline_differences
    (failure,) = [f for f in baseline_failures(lost) if f"{scope}: {control} " in f.message]
    assert failure.line() == f"Baseline at compliance/baseline.json: {expected}"
    signoff.write(lost, baseline)  # what `make baseline` does
    again = replace(lost, baseline_differences=[])
    signoff.apply(again, baseline, shown_as="compliance/baseline.json")
    assert again.baseline_differences == []
    assert baseline_failures(again) == []


def test_added_widened_and_removed_acknowledgments(compliance_model: ComplianceModel) -> None:
    committed = signoff.snapshot(compliance_model)
    current = copy.deepcopy(committed)
    scope = compliance_model.scopes[-1]
    acks: dict[str, list[str]] = current["scopes"][scope]["acknowledgments"]
    first, second = sorted(acks)[:2]
    acks["AwsSolutions-IAM5[Resource::*] on Service/Everything"] = ["Service/Everything"]
    acks[first] = [*acks[first], "Data/SomethingElse/Resource"]
    del acks[second]
    comparison = signoff.compare(committed, current)
    assert comparison.regressions == [
        f"{scope}: acknowledgment of {first} widened to Data/SomethingElse/Resource",
        f"{scope}: new acknowledgment of AwsSolutions-IAM5[Resource::*] on Service/Everything",
    ]
    assert comparison.improvements == [f"{scope}: acknowledgment removed: {second}"]


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
