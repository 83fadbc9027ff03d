"""The account baseline: runtime controls where config switches them on, and only there."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
from aws_cdk.assertions import Capture, Match, Template

from app import cdk_context
from compliance.runtime import config_rules, conformance_pack_template
from config import AppConfig
from config.schema import AccountBaseline
from stacks import BaselineStack
from stages import MonitoringStage
from tests.conftest import StackArtifact

# What each switch of `account_baseline` deploys.
SERVICE_TYPES = {
    "cloudtrail": "AWS::CloudTrail::Trail",
    "config": "AWS::Config::ConformancePack",
    "security_hub": "AWS::SecurityHub::Standard",
    "guardduty": "AWS::GuardDuty::Detector",
}


def _deploys(template: Template, resource_type: str, expected: bool) -> None:
    if expected:
        template.has_resource(resource_type, {})
    else:
        template.resource_count_is(resource_type, 0)  # switched off: none at all


def test_baseline_deploys_exactly_the_services_switched_on(
    fixture_config: AppConfig, stacks: dict[str, StackArtifact]
) -> None:
    kinds = set()
    for env in fixture_config.environments:
        on = env.account_baseline.services
        kinds.add(frozenset(on))
        artifact = stacks.get(f"Pipeline/{env.stage_id}/Baseline")
        assert (artifact is not None) == bool(on), env.name
        if artifact is None:
            continue
        for service, resource_type in SERVICE_TYPES.items():
            _deploys(artifact.template, resource_type, service in on)
        _deploys(artifact.template, "AWS::S3::Bucket", bool(on & {"cloudtrail", "config"}))
    assert len(kinds) >= 3, "the fixture covers all, some and none of the services"


def test_the_full_baseline_is_hardened(fixture_config: AppConfig, stack: Callable[[str, str], StackArtifact]) -> None:
    env = next(e for e in fixture_config.environments if len(e.account_baseline.services) == len(SERVICE_TYPES))
    template = stack(env.stage_id, "Baseline").template
    selectors = Capture()
    template.has_resource_properties(
        "AWS::CloudTrail::Trail",
        {
            "IsMultiRegionTrail": True,
            "EnableLogFileValidation": True,
            "KMSKeyId": Match.any_value(),
            "CloudWatchLogsLogGroupArn": Match.any_value(),
            "EventSelectors": selectors,
        },
    )
    # Every bucket's object-level events, as the pack's cloudtrail-s3-dataevents-enabled asks.
    data = [s for s in selectors.as_array() if s.get("DataResources")]
    assert [r["Type"] for s in data for r in s["DataResources"]] == ["AWS::S3::Object"]
    assert all(s.get("ReadWriteType", "All") == "All" for s in data)
    body = Capture()
    template.has_resource_properties("AWS::Config::ConformancePack", {"TemplateBody": body})
    assert len(json.loads(body.as_string())["Resources"]) == len(config_rules())  # every rule of the pack
    # AWS allows one configuration recorder, one delivery channel and one detector per account and region.
    for singleton in ("AWS::Config::ConfigurationRecorder", "AWS::Config::DeliveryChannel", "AWS::GuardDuty::Detector"):
        template.resource_count_is(singleton, 1)
    template.has_resource_properties(
        "AWS::SecurityHub::Standard", {"StandardsArn": Match.string_like_regexp(r"standards/nist-800-53/v/5\.0\.0$")}
    )


def test_conformance_pack_carries_the_packs_default_parameters() -> None:
    body = json.loads(conformance_pack_template())["Resources"]
    keys_rotated = body["AccessKeysRotated"]["Properties"]
    assert keys_rotated["Source"] == {"Owner": "AWS", "SourceIdentifier": "ACCESS_KEYS_ROTATED"}
    assert keys_rotated["InputParameters"] == {"maxAccessKeyAge": "90"}


def test_audit_key_lets_cloudtrail_and_logs_use_it(
    fixture_config: AppConfig, stack: Callable[[str, str], StackArtifact]
) -> None:
    env = next(e for e in fixture_config.environments if "cloudtrail" in e.account_baseline.services)
    statements = Capture()
    stack(env.stage_id, "Baseline").template.has_resource_properties(
        "AWS::KMS::Key", {"KeyPolicy": Match.object_like({"Statement": statements})}
    )
    sids = {s.get("Sid") for s in statements.as_array()}
    assert {"AllowCloudTrailToEncryptTrailsOfThisAccount", "AllowCloudWatchLogsOfThisAccountAndRegion"} <= sids


def test_no_baseline_where_config_switches_it_off(fixture_config: AppConfig, tmp_path: Path) -> None:
    environment = fixture_config.environment("dev").model_copy(update={"account_baseline": AccountBaseline()})
    stage = MonitoringStage(
        cdk.App(outdir=str(tmp_path)), "Dev", config=environment, image_directory=Path("service").resolve()
    )
    assert stage.baseline is None
    assert stage.node.try_find_child("Baseline") is None


def test_audit_records_are_retained_in_every_stage(stacks: dict[str, StackArtifact]) -> None:
    # Audit records outlive the workload whatever protect_data says: the bucket pair, its key, the trail's logs.
    baselines = [s for path, s in stacks.items() if path.endswith("/Baseline")]
    kept = {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"}
    complete = 0
    for baseline in baselines:
        present = {kind for kind in kept if baseline.template.find_resources(kind)}
        complete += present == kept
        for kind in sorted(present):
            baseline.template.all_resources(
                kind, {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}
            )
    assert complete, "a stage of the fixture configuration records a trail"


def test_config_delivers_to_a_bucket_it_accepts_after_the_recorder_exists(fixture_config: AppConfig) -> None:
    # AWS Config refuses a delivery bucket with Object Lock, and a delivery channel needs its recorder first.
    env = next(e for e in fixture_config.environments if "config" in e.account_baseline.services)
    stack = BaselineStack(
        cdk.App(context=cdk_context()),
        "Baseline",
        config=env,
        env=cdk.Environment(account=env.account, region=env.region),
    )
    template = Template.from_stack(stack).to_json()["Resources"]
    (channel,) = [r for r in template.values() if r["Type"] == "AWS::Config::DeliveryChannel"]
    (recorder,) = [k for k, r in template.items() if r["Type"] == "AWS::Config::ConfigurationRecorder"]
    assert recorder in channel["DependsOn"]
    delivered_to = template[channel["Properties"]["S3BucketName"]["Ref"]]["Properties"]
    assert "ObjectLockEnabled" not in delivered_to
    assert "ObjectLockConfiguration" not in delivered_to
    (trail,) = [r for r in template.values() if r["Type"] == "AWS::CloudTrail::Trail"]
    audit = template[trail["Properties"]["S3BucketName"]["Ref"]]["Properties"]
    assert audit["ObjectLockEnabled"] is True  # the audit bucket keeps its write-once retention
