"""The signed-off compliance baseline: what trips it, what does not, and how a reviewed change is recorded."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import build_app
from compliance import signoff
from compliance.evaluation import evaluate
from compliance.gate import baseline_failures
from compliance.model import ComplianceModel, ControlStatus, Status
from config import DEFAULT_CONFIG_PATH, parse_config

COMMITTED = signoff.DEFAULT_PATH


def _without_rule(model: ComplianceModel, scope: str, control: str) -> ComplianceModel:
    """The model as if no rule evidencing `control` had been evaluated in `scope`."""
    (evidenced,) = [c for c in model.controls if c.control == control]
    return replace(
        model, evaluations=[e for e in model.evaluations if not (e.scope == scope and e.rule in evidenced.rules)]
    )


def test_the_committed_baseline_records_the_default_app(compliance_model: ComplianceModel) -> None:
    committed = json.loads(COMMITTED.read_text())
    comparison = signoff.compare(committed, signoff.snapshot(compliance_model))
    assert comparison.regressions == [], "run `make baseline` and review the diff"
    assert set(committed["scopes"]) == set(compliance_model.scopes)


def test_a_removed_control_fails_the_gate_until_make_baseline_records_it(
    compliance_model: ComplianceModel, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    shutil.copy(COMMITTED, baseline)
    scope = compliance_model.scopes[-1]
    evidenced = [
        control
        for control, status in signoff.snapshot(compliance_model)["scopes"][scope]["controls"].items()
        if status == ControlStatus.EVIDENCED
    ]
    control = next(
        cid
        for cid in evidenced
        if all(c.status is not ControlStatus.NOT_CHECKED for c in compliance_model.controls if c.control == cid)
    )
    lost = _without_rule(compliance_model, scope, control)
    signoff.apply(lost, baseline, shown_as="compliance/baseline.json")
    assert f"{scope}: {control} was evidenced at synth, is now not checked at synth" in lost.baseline_differences
    (failure,) = [f for f in baseline_failures(lost) if control in f.message]
    expected = f"{scope}: {control} was evidenced at synth, is now not checked at synth"
    assert failure.line() == f"Baseline at compliance/baseline.json: {expected}"
    signoff.write(lost, baseline)  # what `make baseline` does, on this copy
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


def _edited(raw: dict[str, Any]) -> dict[str, Any]:
    """The shipped configuration with every account, region, zone, size and e-mail a team would change."""
    edited = copy.deepcopy(raw)
    pipeline = edited["pipeline"]
    pipeline.update(
        account="999999999990",
        region="us-east-1",
        repository="another-org/monitoring",
        connection_arn="arn:aws:codeconnections:us-east-1:999999999990:connection/11111111-1111-4111-8111-111111111111",
        approval_emails=["approver@example.org"],
    )
    for number, environment in enumerate(edited["environments"].values(), start=1):
        environment.update(
            account=f"99999999999{number}",
            region="us-east-1",
            availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"],
            vpc_cidr=f"10.{50 + number}.0.0/16",
            alarm_emails=[f"oncall{number}@example.org"],
        )
        environment["database"]["allocated_storage_gib"] += 10
        environment["service"]["desired_count"] += 1
    return edited


def test_editing_accounts_regions_zones_sizes_and_emails_never_trips_it(
    compliance_model: ComplianceModel, tmp_path: Path
) -> None:
    config = parse_config(_edited(yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())), source="edited.yaml")
    app = build_app(config, outdir=str(tmp_path))
    app.synth()
    edited = evaluate(app, tmp_path, stages=[e.stage_id for e in config.environments])
    assert not [e for e in edited.evaluations if e.status is Status.NON_COMPLIANT]
    comparison = signoff.compare(signoff.snapshot(compliance_model), signoff.snapshot(edited))
    assert comparison.regressions == []
    assert comparison.improvements == []


@pytest.mark.parametrize(
    ("text", "neutral"),
    [
        (
            "Pipeline/Dev/Service/Api/Api/DeploymentStage.dev/Resource",
            "Service/Api/Api/DeploymentStage.<stage>/Resource",
        ),
        ("Pipeline/Dev/Network/Vpc/DataSubnet3/Subnet", "Network/Vpc/DataSubnet<n>/Subnet"),
        (
            "AwsSolutions-IAM5[Resource::arn:aws-us-gov:execute-api:us-gov-west-1:222222222222:*/*/GET/health]",
            "AwsSolutions-IAM5[Resource::arn:<partition>:execute-api:<region>:<account>:*/*/GET/health]",
        ),
        (
            "AwsSolutions-IAM5[Resource::<AuditBucket7486E833.Arn>/*]",
            "AwsSolutions-IAM5[Resource::<AuditBucket<hash>.Arn>/*]",
        ),
    ],
)
def test_neutral_paths_and_findings(text: str, neutral: str) -> None:
    assert signoff.neutral(text, "Dev") == neutral
