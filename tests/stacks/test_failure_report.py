"""Every item of the failure report this project was born from, asserted on every stage's templates.

Each test is numbered after the failure it guards against (see "Why" in docs/compliance.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from aws_cdk.assertions import Capture, Match, Matcher, Template

from config import AppConfig, aws_facts
from stacks.data import POSTGRES_LOG_EXPORTS
from tests.conftest import STAGES, StackArtifact, env_of


@pytest.mark.parametrize("stage", STAGES)
def test_1_postgres_version_is_the_configured_current_one(
    stage: str, stack: Callable[[str, str], StackArtifact], fixture_config: AppConfig
) -> None:
    version = env_of(stage).database.engine_version
    stack(stage, "Data").template.all_resources_properties(
        "AWS::RDS::DBInstance", {"Engine": "postgres", "EngineVersion": version}
    )
    assert version in aws_facts.rds_engine_versions("postgres").current


def _statement(**pattern: object) -> Matcher:
    """A key policy with a statement like `pattern`, among others."""
    return Match.object_like({"Statement": Match.array_with([Match.object_like(pattern)])})


@pytest.mark.parametrize("stage", STAGES)
def test_2_telemetry_key_lets_cloudwatch_logs_of_this_account_and_region_use_it(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    keys = stack(stage, "Keys").template
    sid = "AllowCloudWatchLogsOfThisAccountAndRegion"
    granting = keys.find_resources("AWS::KMS::Key", {"Properties": {"KeyPolicy": _statement(Sid=sid)}})
    assert len(granting) == 1  # the telemetry key; the data key gives CloudWatch Logs nothing
    actions = Capture()
    keys.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": _statement(
                Sid=sid,
                # The regional principal, with the partition's URL suffix (amazonaws.com is not universal).
                Principal={
                    "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}]]}
                },
                Action=actions,
                Condition={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":logs:",
                                    {"Ref": "AWS::Region"},
                                    ":",
                                    {"Ref": "AWS::AccountId"},
                                    ":*",
                                ],
                            ]
                        }
                    }
                },
            )
        },
    )
    assert {"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"} <= set(
        actions.as_array()
    )


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
    logging = [
        s.template
        for s in stacks.values()
        if s.path.startswith(f"Pipeline/{stage}/") and s.template.find_resources("AWS::Logs::LogGroup")
    ]
    assert logging
    for template in logging:
        template.all_resources_properties(
            "AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": Match.any_value()}
        )


@pytest.mark.parametrize("stage", STAGES)
def test_3_database_credentials_are_generated_with_the_database(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    data = stack(stage, "Data").template
    # One secret, the database credentials: the cache signs in with IAM users.
    data.resource_count_is("AWS::SecretsManager::Secret", 1)
    data.has_resource_properties(
        "AWS::SecretsManager::Secret", {"GenerateSecretString": Match.any_value(), "KmsKeyId": Match.any_value()}
    )
    data.has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        {"RotationRules": Match.object_like({"ScheduleExpression": "rate(30 days)"})},
    )
    # The password is resolved from the generated secret at deploy time; it is never in the template.
    data.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "MasterUserPassword": {
                "Fn::Join": ["", Match.array_with([Match.string_like_regexp("resolve:secretsmanager")])]
            }
        },
    )


@pytest.mark.parametrize("stage", STAGES)
def test_4_endpoints_are_plain_environment_and_the_task_holds_no_credential(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    service = stack(stage, "Service").template
    variables = Capture()
    # It signs in with IAM tokens: no ECS secret, no password variable, no reference to any secret.
    service.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {"ContainerDefinitions": [Match.object_like({"Environment": variables, "Secrets": Match.absent()})]},
    )
    environment = {e["Name"] for e in variables.as_array()}
    assert {"KINESIS_STREAM", "DB_HOST", "DB_NAME", "DB_USER", "REDIS_HOST", "REDIS_USER", "ENVIRONMENT"} <= environment
    assert not any("PASSWORD" in name for name in environment)
    for task in service.find_resources("AWS::ECS::TaskDefinition").values():
        assert "secretsmanager" not in json.dumps(task).lower()
    service.resource_count_is("AWS::SecretsManager::Secret", 0)


@pytest.mark.parametrize("stage", STAGES)
def test_5_container_insights_uses_the_current_setting(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    # The current setting (ClusterSettings through container_insights_v2), at the value Control Tower's CT.ECS.PR.2
    # accepts; the deprecated boolean fails the synth under JSII_DEPRECATED=fail.
    stack(stage, "Service").template.all_resources_properties(
        "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}
    )


@pytest.mark.parametrize("stage", STAGES)
def test_6_api_stage_is_traced_logged_and_behind_waf(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    service = stack(stage, "Service").template
    service.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": Match.any_value(),
            "MethodSettings": Match.array_with(
                [Match.object_like({"LoggingLevel": "INFO", "DataTraceEnabled": False})]
            ),
        },
    )
    # The execution log group is created here, so it is encrypted and retained.
    service.has_resource_properties(
        "AWS::Logs::LogGroup", {"LogGroupName": {"Fn::Join": ["", Match.array_with(["API-Gateway-Execution-Logs_"])]}}
    )
    service.has_resource("AWS::WAFv2::WebACLAssociation", {})
    service.has_resource("AWS::WAFv2::LoggingConfiguration", {})
    service.all_resources_properties("AWS::ApiGateway::Method", {"AuthorizationType": "AWS_IAM"})


def _names(template: Template, resource_type: str, name: str) -> list[object]:
    """The `name` property of each `resource_type` that sets one."""
    found = template.find_resources(resource_type, {"Properties": {name: Match.any_value()}})
    return [r["Properties"][name] for r in found.values()]


@pytest.mark.parametrize("stage", STAGES)
def test_7_no_stream_or_stateful_resource_has_a_fixed_name(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    data, service = stack(stage, "Data").template, stack(stage, "Service").template
    data.all_resources_properties(
        "AWS::Kinesis::Stream",
        {"Name": Match.absent(), "StreamEncryption": Match.object_like({"EncryptionType": "KMS"})},
    )
    data.all_resources_properties("AWS::SecretsManager::Secret", {"Name": Match.absent()})
    # Where a service demands a name (RDS log exports, WAF logging), it carries the stage and the
    # stack's own id, so neither another deployment nor a retained leftover can hold it.
    instances = _names(data, "AWS::RDS::DBInstance", "DBInstanceIdentifier")
    groups = _names(data, "AWS::Logs::LogGroup", "LogGroupName") + _names(
        service, "AWS::Logs::LogGroup", "LogGroupName"
    )
    assert instances
    assert len(groups) >= len(POSTGRES_LOG_EXPORTS) + 2  # the log exports, WAF logs, API execution logs at least
    for name in instances + groups:
        text = json.dumps(name)
        assert "AWS::StackId" in text or "Ref" in text, name
