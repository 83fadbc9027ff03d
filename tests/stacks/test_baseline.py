"""The account baseline: runtime controls where config switches them on, and only there."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest

from compliance.runtime import config_rules, conformance_pack_template
from config import AppConfig
from stages import MonitoringStage
from tests.conftest import StackArtifact, resources_of


@pytest.mark.parametrize("stage", ["Dev", "Staging", "Prod"])
def test_baseline_deploys_trail_config_security_hub_and_guardduty(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    template = stack(stage, "Baseline").template_json
    (trail,) = resources_of(template, "AWS::CloudTrail::Trail").values()
    props = trail["Properties"]
    assert props["IsMultiRegionTrail"] is True
    assert props["EnableLogFileValidation"] is True
    assert "KMSKeyId" in props
    assert "CloudWatchLogsLogGroupArn" in props
    (pack,) = resources_of(template, "AWS::Config::ConformancePack").values()
    body = json.loads(pack["Properties"]["TemplateBody"])
    assert len(body["Resources"]) == len(config_rules()) == 129
    assert len(resources_of(template, "AWS::Config::ConfigurationRecorder")) == 1
    assert len(resources_of(template, "AWS::Config::DeliveryChannel")) == 1
    (standard,) = resources_of(template, "AWS::SecurityHub::Standard").values()
    assert "standards/nist-800-53/v/5.0.0" in json.dumps(standard["Properties"]["StandardsArn"])
    assert len(resources_of(template, "AWS::GuardDuty::Detector")) == 1


def test_conformance_pack_carries_the_packs_default_parameters() -> None:
    body = json.loads(conformance_pack_template())["Resources"]
    keys_rotated = body["AccessKeysRotated"]["Properties"]
    assert keys_rotated["Source"] == {"Owner": "AWS", "SourceIdentifier": "ACCESS_KEYS_ROTATED"}
    assert keys_rotated["InputParameters"] == {"maxAccessKeyAge": "90"}


def test_audit_key_lets_cloudtrail_and_logs_use_it(stack: Callable[[str, str], StackArtifact]) -> None:
    (key,) = resources_of(stack("Prod", "Baseline").template_json, "AWS::KMS::Key").values()
    sids = {s.get("Sid") for s in key["Properties"]["KeyPolicy"]["Statement"]}
    assert {"AllowCloudTrailToEncryptTrailsOfThisAccount", "AllowCloudWatchLogsOfThisAccountAndRegion"} <= sids


def test_no_baseline_where_config_switches_it_off(default_config: AppConfig, tmp_path: Path) -> None:
    environment = default_config.environment("dev").model_copy(update={"account_baseline": False})
    stage = MonitoringStage(
        cdk.App(outdir=str(tmp_path)), "Dev", config=environment, image_directory=Path("service").resolve()
    )
    assert stage.baseline is None
    assert stage.node.try_find_child("Baseline") is None


def test_audit_records_are_retained_in_every_stage(stacks: dict[str, StackArtifact]) -> None:
    # Audit records outlive the workload whatever protect_data says: the bucket pair, its key, the trail's logs.
    baselines = [s for path, s in stacks.items() if path.endswith("/Baseline")]
    assert baselines, "the default config switches the account baseline on"
    kept = {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"}
    for baseline in baselines:
        audit = {k: r for k, r in baseline.template_json["Resources"].items() if r["Type"] in kept}
        assert {r["Type"] for r in audit.values()} == kept, baseline.path
        for logical_id, resource in audit.items():
            assert resource.get("DeletionPolicy") == "RetainExceptOnCreate", (baseline.path, logical_id)
            assert resource.get("UpdateReplacePolicy") == "Retain", (baseline.path, logical_id)
