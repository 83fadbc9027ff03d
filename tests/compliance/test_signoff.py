"""The signed-off compliance baseline: what trips it, what does not, and how a reviewed change is recorded."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import build_app
from compliance import signoff
from compliance.evaluation import evaluate
from compliance.gate import baseline_failures
from compliance.model import ComplianceModel, ControlStatus, Status, control_id
from config import DEFAULT_CONFIG_PATH, aws_facts, load_config, parse_config
from tests.conftest import LAYOUTS

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


# Each region of the fixture moves to another of the same partition (a permutation keeps shared accounts legal).
_REGIONS = {"us-east-1": "us-west-2", "us-west-2": "us-east-2", "us-east-2": "us-east-1"}


def _edited(raw: dict[str, Any]) -> dict[str, Any]:
    """A configuration with every account, region, zone, size and e-mail a team would change, changed."""
    edited = copy.deepcopy(raw)
    accounts: dict[str, str] = {}

    def account(old: str) -> str:
        return accounts.setdefault(old, f"{900000000000 + len(accounts) + 1:012d}")

    pipeline = edited["pipeline"]
    pipeline["connection_arn"] = pipeline["connection_arn"].replace(pipeline["region"], _REGIONS[pipeline["region"]])
    pipeline["connection_arn"] = pipeline["connection_arn"].replace(pipeline["account"], account(pipeline["account"]))
    pipeline.update(
        account=account(pipeline["account"]),
        region=_REGIONS[pipeline["region"]],
        repository="another-org/monitoring",
        approval_emails=["approver@another.example"],
    )
    for name, environment in edited["environments"].items():
        region = _REGIONS[environment["region"]]
        zones = aws_facts.availability_zones()[region]
        environment.update(
            account=account(environment["account"]),
            region=region,
            availability_zones=list(zones[: max(2, min(3, len(environment["availability_zones"]) + 1))]),
            alarm_emails=[f"{name}@another.example"],
        )
        environment["database"]["allocated_storage_gib"] += 10
        environment["service"]["desired_count"] += 1
    return edited


def test_editing_accounts_regions_zones_sizes_and_emails_never_trips_it(
    compliance_model: ComplianceModel, tmp_path: Path
) -> None:
    raw = yaml.safe_load(LAYOUTS.read_text())
    assert {e["region"] for e in raw["environments"].values()} | {raw["pipeline"]["region"]} <= set(_REGIONS)
    config = parse_config(_edited(raw), source="edited.yaml")
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
            "AwsSolutions-IAM5[Resource::arn:aws-us-gov:execute-api:us-gov-west-1:720000000002:*/*/GET/health]",
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
