"""Every item of the failure report this project was born from, asserted on every stage's templates.

Each test is numbered after the failure it guards against (see the README's "Why").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from config import AppConfig, aws_facts
from stacks.data import POSTGRES_LOG_EXPORTS
from tests.conftest import STAGES, StackArtifact, env_of, resources_of


@pytest.mark.parametrize("stage", STAGES)
def test_1_postgres_version_is_the_configured_current_one(
    stage: str, stack: Callable[[str, str], StackArtifact], fixture_config: AppConfig
) -> None:
    (db,) = resources_of(stack(stage, "Data").template_json, "AWS::RDS::DBInstance").values()
    version = db["Properties"]["EngineVersion"]
    assert db["Properties"]["Engine"] == "postgres"
    assert version == env_of(stage).database.engine_version
    assert version in aws_facts.rds_engine_versions("postgres").current


@pytest.mark.parametrize("stage", STAGES)
def test_2_telemetry_key_lets_cloudwatch_logs_of_this_account_and_region_use_it(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    keys = stack(stage, "Keys").template_json
    statements = [
        s
        for key in resources_of(keys, "AWS::KMS::Key").values()
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowCloudWatchLogsOfThisAccountAndRegion"
    ]
    assert len(statements) == 1
    (grant,) = statements
    # The regional principal, with the partition's URL suffix (amazonaws.com is not universal).
    assert grant["Principal"]["Service"] == {
        "Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}]]
    }
    assert {"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"} <= set(
        grant["Action"]
    )
    condition = grant["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":*"],
        ]
    }


@pytest.mark.parametrize("stage", STAGES)
def test_2_literal_arns_are_only_ever_of_the_environments_own_partition(
    stage: str, stacks: dict[str, StackArtifact], fixture_config: AppConfig
) -> None:
    # The CDK writes a partition literally only where it derives it from the stack's region;
    # a hand-written 'arn:aws:' would show up here as soon as a stage moves to GovCloud.
    partition = env_of(stage).partition
    for artifact in stacks.values():
        if artifact.path.startswith(f"Pipeline/{stage}/"):
            found = set(re.findall(r'"arn:([a-z-]+):', json.dumps(artifact.template_json["Resources"])))
            assert found <= {partition}, (artifact.path, found)


@pytest.mark.parametrize("stage", STAGES)
def test_2_every_log_group_is_encrypted_with_the_telemetry_key(stage: str, stacks: dict[str, StackArtifact]) -> None:
    groups = [
        (s.path, g)
        for s in stacks.values()
        if s.path.startswith(f"Pipeline/{stage}/")
        for g in resources_of(s.template_json, "AWS::Logs::LogGroup").values()
    ]
    assert len(groups) >= 8
    for path, group in groups:
        assert "KmsKeyId" in group["Properties"], path
        assert "RetentionInDays" in group["Properties"], path


@pytest.mark.parametrize("stage", STAGES)
def test_3_database_credentials_are_generated_with_the_database(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    data = stack(stage, "Data").template_json
    secrets = resources_of(data, "AWS::SecretsManager::Secret")
    generated = [s for s in secrets.values() if "GenerateSecretString" in s["Properties"]]
    assert len(generated) == len(secrets) == 1  # the database credentials; the cache uses IAM users
    assert all("KmsKeyId" in s["Properties"] for s in secrets.values())
    (rotation,) = resources_of(data, "AWS::SecretsManager::RotationSchedule").values()
    assert rotation["Properties"]["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    (db,) = resources_of(data, "AWS::RDS::DBInstance").values()
    # The password is resolved from the generated secret at deploy time; it is never in the template.
    assert "resolve:secretsmanager" in json.dumps(db["Properties"]["MasterUserPassword"])


@pytest.mark.parametrize("stage", STAGES)
def test_4_endpoints_are_plain_environment_and_the_task_holds_no_credential(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    service = stack(stage, "Service").template_json
    (task,) = resources_of(service, "AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    environment = {e["Name"] for e in container["Environment"]}
    assert {"KINESIS_STREAM", "DB_HOST", "DB_NAME", "DB_USER", "REDIS_HOST", "REDIS_USER", "ENVIRONMENT"} <= environment
    # It signs in with IAM tokens: no ECS secret, no password variable, no reference to any secret.
    assert "Secrets" not in container
    assert not any("PASSWORD" in name for name in environment)
    assert "secretsmanager" not in json.dumps(task).lower()
    assert not resources_of(service, "AWS::SecretsManager::Secret")


@pytest.mark.parametrize("stage", STAGES)
def test_5_container_insights_uses_the_current_setting(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    (cluster,) = resources_of(stack(stage, "Service").template_json, "AWS::ECS::Cluster").values()
    # The current setting (ClusterSettings through container_insights_v2), at the value Control Tower's CT.ECS.PR.2
    # accepts; the deprecated boolean fails the synth under JSII_DEPRECATED=fail.
    assert cluster["Properties"]["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]


@pytest.mark.parametrize("stage", STAGES)
def test_6_api_stage_is_traced_logged_and_behind_waf(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    service = stack(stage, "Service").template_json
    (api_stage,) = resources_of(service, "AWS::ApiGateway::Stage").values()
    props = api_stage["Properties"]
    assert props["TracingEnabled"] is True
    assert "AccessLogSetting" in props
    assert props["MethodSettings"][0]["LoggingLevel"] == "INFO"
    assert props["MethodSettings"][0]["DataTraceEnabled"] is False
    groups = resources_of(service, "AWS::Logs::LogGroup").values()
    execution_logs = [g for g in groups if "API-Gateway-Execution-Logs_" in json.dumps(g["Properties"])]
    assert len(execution_logs) == 1  # created here, so it is encrypted and retained
    assert len(resources_of(service, "AWS::WAFv2::WebACLAssociation")) == 1
    assert len(resources_of(service, "AWS::WAFv2::LoggingConfiguration")) == 1
    methods = resources_of(service, "AWS::ApiGateway::Method")
    assert methods
    assert all(m["Properties"]["AuthorizationType"] == "AWS_IAM" for m in methods.values())


@pytest.mark.parametrize("stage", STAGES)
def test_7_no_stream_or_stateful_resource_has_a_fixed_name(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    data = stack(stage, "Data").template_json
    (stream,) = resources_of(data, "AWS::Kinesis::Stream").values()
    assert "Name" not in stream["Properties"]
    assert stream["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS"
    for secret in resources_of(data, "AWS::SecretsManager::Secret").values():
        assert "Name" not in secret["Properties"]
    # Where a service demands a name (RDS log exports, WAF logging), it carries the stage and the
    # stack's own id, so neither another deployment nor a retained leftover can hold it.
    (db,) = resources_of(data, "AWS::RDS::DBInstance").values()
    named = [db["Properties"]["DBInstanceIdentifier"]]
    named += [
        g["Properties"]["LogGroupName"]
        for g in resources_of(data, "AWS::Logs::LogGroup").values()
        if "LogGroupName" in g["Properties"]
    ]
    service = stack(stage, "Service").template_json
    named += [
        g["Properties"]["LogGroupName"]
        for g in resources_of(service, "AWS::Logs::LogGroup").values()
        if "LogGroupName" in g["Properties"]
    ]
    # The instance, its log exports, WAF logs, API execution logs.
    assert len(named) == 1 + len(POSTGRES_LOG_EXPORTS) + 2
    for name in named:
        text = json.dumps(name)
        assert "AWS::StackId" in text or "Ref" in text, name
