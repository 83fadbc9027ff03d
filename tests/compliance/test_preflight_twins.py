"""The Preflight twins of the account baseline's Config rules, on what CDK constructs synthesize: broken and fixed.

Each pair is one construct written the way that leaves the account NON_COMPLIANT with its own
FedRAMP Moderate pack, and the way this app writes it. One fixture app, synthesized once.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from compliance import Finding, findings, register_packs
from compliance.packs import CONTEXT

ENV = cdk.Environment(account="123456789012", region="us-west-2")
IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"


def _trail(scope: Construct, *, data_events: bool) -> None:
    trail = cloudtrail.Trail(scope, "Trail", is_multi_region_trail=True, send_to_cloud_watch_logs=False)
    if data_events:
        trail.log_all_s3_data_events()


def _task(scope: Construct, *, container_limit: bool) -> None:
    task = ecs.FargateTaskDefinition(scope, "Task", cpu=256, memory_limit_mib=512)
    task.add_container(
        "App", image=ecs.ContainerImage.from_registry(IMAGE), memory_limit_mib=512 if container_limit else None
    )


def _vpc(scope: Construct, *, restricted: bool) -> None:
    ec2.Vpc(
        scope,
        "Vpc",
        availability_zones=["us-west-2a", "us-west-2b"],
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="Data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
        restrict_default_security_group=restricted,
    )


class TwinStage(cdk.Stage):
    """Broken and fixed variants of what the twins read, one stack each."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id, env=ENV)
        _trail(cdk.Stack(self, "TrailWithoutDataEvents"), data_events=False)
        _trail(cdk.Stack(self, "TrailWithDataEvents"), data_events=True)
        _task(cdk.Stack(self, "TaskLimitOnly"), container_limit=False)
        _task(cdk.Stack(self, "ContainerLimit"), container_limit=True)
        _vpc(cdk.Stack(self, "OpenDefaultGroup"), restricted=False)
        _vpc(cdk.Stack(self, "ClosedDefaultGroup"), restricted=True)
        logs.LogGroup(cdk.Stack(self, "QuarterLogs"), "Logs", retention=logs.RetentionDays.THREE_MONTHS)
        logs.LogGroup(cdk.Stack(self, "YearLogs"), "Logs", retention=logs.RetentionDays.ONE_YEAR)
        s3.Bucket(cdk.Stack(self, "UnlockedBucket"), "Bucket")
        s3.Bucket(cdk.Stack(self, "LockedBucket"), "Bucket", object_lock_enabled=True)


@pytest.fixture(scope="module")
def twin_findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    outdir = tmp_path_factory.mktemp("twins")
    app = cdk.App(outdir=str(outdir), context=CONTEXT)
    TwinStage(app, "Twins")
    register_packs(app)
    app.synth()
    return [f for f in findings(Path(outdir)) if f.rule.startswith("Preflight-")]


def _rules_in(found: list[Finding], stack: str) -> set[str]:
    return {f.rule for f in found if f.path.startswith(f"Twins/{stack}/")}


@pytest.mark.parametrize(
    ("broken", "fixed", "finding"),
    [
        ("TrailWithoutDataEvents", "TrailWithDataEvents", "Preflight-TrailS3DataEvents[no-s3-data-events]"),
        ("TaskLimitOnly", "ContainerLimit", "Preflight-ContainerMemoryLimit[App]"),
        ("OpenDefaultGroup", "ClosedDefaultGroup", "Preflight-DefaultSecurityGroupClosed[open]"),
        ("QuarterLogs", "YearLogs", "Preflight-LogGroupRetention[90-days]"),
        ("UnlockedBucket", "LockedBucket", "Preflight-S3ObjectLock[disabled]"),
    ],
)
def test_the_broken_variant_fails_its_twin_and_the_fixed_one_passes(
    twin_findings: list[Finding], broken: str, fixed: str, finding: str
) -> None:
    assert finding in _rules_in(twin_findings, broken)
    assert finding not in _rules_in(twin_findings, fixed)


def test_a_trail_multi_region_by_default_passes_its_twin(twin_findings: list[Finding]) -> None:
    for stack in ("TrailWithoutDataEvents", "TrailWithDataEvents"):
        assert not any("MultiRegionTrail" in rule for rule in _rules_in(twin_findings, stack))
