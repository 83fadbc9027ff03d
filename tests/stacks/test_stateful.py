"""Stateful resources: prod data survives stack deletion, and logical IDs never move."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Capture, Match, Template

from app import cdk_context
from config import AppConfig
from config.schema import ENVIRONMENT_NAME_MAX_LENGTH
from stacks import DataStack, KeysStack, NetworkStack
from stacks.data import RDS_IDENTIFIER_MAX_LENGTH
from tests.conftest import StackArtifact

# The contract with every deployed stack: renaming one of these logical IDs replaces the resource
# (a new, empty database, a new key that cannot decrypt the old data). Change it only with a migration.
STABLE_LOGICAL_IDS = {
    "Keys": {
        "DataKey2A0DE9E6": "AWS::KMS::Key",
        "TelemetryKeyDE5F081E": "AWS::KMS::Key",
    },
    "Data": {
        "DatabaseB269D8BB": "AWS::RDS::DBInstance",
        "Cache": "AWS::ElastiCache::ReplicationGroup",
        "EventStream271A91DB": "AWS::Kinesis::Stream",
        "CacheUsers": "AWS::ElastiCache::UserGroup",
        "DatabaseSecretAttachmentE5D1B020": "AWS::SecretsManager::SecretTargetAttachment",
        "BackupVault3A9C5852": "AWS::Backup::BackupVault",
        "DatabaseLogsPostgresqlLogGroupAEDA014F": "AWS::Logs::LogGroup",
    },
}
STATEFUL_TYPES = {
    "AWS::KMS::Key",
    "AWS::RDS::DBInstance",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::Kinesis::Stream",
    "AWS::SecretsManager::Secret",
    "AWS::Backup::BackupVault",
    "AWS::Logs::LogGroup",
}


@pytest.mark.parametrize("stage", ["Dev", "Staging", "Prod"])
@pytest.mark.parametrize("stack_name", sorted(STABLE_LOGICAL_IDS))
def test_stateful_logical_ids_are_stable(
    stage: str, stack_name: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    resources = stack(stage, stack_name).template_json["Resources"]
    for logical_id, resource_type in STABLE_LOGICAL_IDS[stack_name].items():
        assert logical_id in resources, f"{stage}/{stack_name}: {logical_id} moved"
        assert resources[logical_id]["Type"] == resource_type
    if stack_name == "Data":
        # The generated database secret's id embeds a hash of the stage's path; it is stable per stage.
        secret_ids = [k for k, v in resources.items() if v["Type"] == "AWS::SecretsManager::Secret"]
        assert f"Pipeline{stage}DataDatabaseSecret" in " ".join(secret_ids)


@pytest.mark.parametrize("stage", ["Staging", "Prod"])
def test_protected_stages_keep_their_data_when_stacks_are_deleted(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    # RetainExceptOnCreate: kept on delete and on replacement, but a first create that rolls back
    # leaves nothing behind to make the retry fail with "already exists".
    snapshot = {"AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup"}
    for name in ("Keys", "Data", "Network", "Service"):
        template = stack(stage, name).template
        for kind in sorted(STATEFUL_TYPES):
            if not template.find_resources(kind):
                continue
            policies = ("Snapshot", "Snapshot") if kind in snapshot else ("RetainExceptOnCreate", "Retain")
            template.all_resources(kind, {"DeletionPolicy": policies[0], "UpdateReplacePolicy": policies[1]})


@pytest.mark.parametrize("stage", ["Staging", "Prod"])
def test_protected_stages_have_deletion_and_termination_protection(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    data = stack(stage, "Data")
    # Termination protection is turned on by the pipeline after each deploy (tests/pipeline/test_pipeline.py):
    # CDK Pipelines ignores the stack property, so the stack does not promise it.
    assert data.termination_protection is False
    data.template.all_resources_properties(
        "AWS::RDS::DBInstance", {"DeletionProtection": True, "MultiAZ": True, "DeleteAutomatedBackups": False}
    )
    retention = Capture()
    data.template.all_resources_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {"MultiAZEnabled": True, "AutomaticFailoverEnabled": True, "SnapshotRetentionLimit": retention},
    )
    assert retention.as_number() >= 15


def test_dev_can_be_torn_down(stack: Callable[[str, str], StackArtifact]) -> None:
    data = stack("Dev", "Data")
    assert data.termination_protection is False
    data.template.all_resources(
        "AWS::RDS::DBInstance",
        {"DeletionPolicy": "Delete", "Properties": Match.object_like({"DeletionProtection": False})},
    )
    # AWS Backup deletes a vault only when it is empty: the stack leaves it behind instead of failing to delete,
    # and its recovery points expire after the baseline's minimum retention, not after years.
    data.template.all_resources("AWS::Backup::BackupVault", {"DeletionPolicy": "RetainExceptOnCreate"})
    (plan,) = data.template.find_resources("AWS::Backup::BackupPlan").values()
    rules = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rules
    assert max(rule["Lifecycle"]["DeleteAfterDays"] for rule in rules) <= 35


@pytest.mark.parametrize("stage", ["Dev", "Staging", "Prod"])
def test_database_is_encrypted_authenticated_and_observed(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    data = stack(stage, "Data").template
    exports, port = Capture(), Capture()
    data.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "StorageEncrypted": True,
            "KmsKeyId": Match.any_value(),
            "EnableIAMDatabaseAuthentication": True,
            "PubliclyAccessible": False,
            "EnableCloudwatchLogsExports": exports,
            "MonitoringInterval": 60,
            "EnablePerformanceInsights": True,
            "PerformanceInsightsKMSKeyId": Match.any_value(),
            "Port": port,
        },
    )
    assert set(exports.as_array()) == {"postgresql", "upgrade"}
    assert port.as_string() != "5432"
    data.has_resource_properties(
        "AWS::RDS::DBParameterGroup", {"Parameters": Match.object_like({"rds.force_ssl": "1"})}
    )
    data.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "TransitEncryptionEnabled": True,
            "AtRestEncryptionEnabled": True,
            "KmsKeyId": Match.any_value(),
            "AuthToken": Match.absent(),  # IAM-authenticated users instead of a shared token
            "UserGroupIds": [Match.any_value()],
        },
    )
    # One user, the service's: a Valkey user group needs no default user.
    data.resource_count_is("AWS::ElastiCache::User", 1)
    user = Capture()
    data.has_resource_properties(
        "AWS::ElastiCache::User",
        {
            "AuthenticationMode": {"Type": "iam"},
            "UserId": user,
            "AccessString": Match.string_like_regexp("-@dangerous"),
        },
    )
    data.has_resource_properties("AWS::ElastiCache::User", {"UserName": user.as_string()})
    (database,) = data.find_resources("AWS::RDS::DBInstance")
    data.has_resource_properties(
        "AWS::Backup::BackupSelection",
        {
            "BackupSelection": Match.object_like(
                {"Resources": [{"Fn::Join": ["", Match.array_with([{"Ref": database}])]}]}
            )
        },
    )


# A stack ARN as CloudFormation writes it: the stack's id is the UUID after the last slash.
STACK_ARN = "arn:aws:cloudformation:us-west-2:123456789012:stack/Long-Data/6a8f1c40-1234-11ef-9b2a-0a1b2c3d4e5f"


def _evaluated(value: Any) -> Any:
    """A resolved name with the stack id's intrinsics evaluated against `STACK_ARN`."""
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and argument == "AWS::StackId":
            return STACK_ARN
        if function == "Fn::Join":
            return argument[0].join(str(_evaluated(v)) for v in argument[1])
        if function == "Fn::Split":
            return str(_evaluated(argument[1])).split(argument[0])
        if function == "Fn::Select":
            return _evaluated(argument[1])[int(argument[0])]
    return value


def test_the_database_identifier_fits_the_longest_environment_name(fixture_config: AppConfig) -> None:
    # RDS allows 63 characters; the identifier carries the environment's name and its stack's id.
    base = fixture_config.environment("dev")
    env = base.model_copy(update={"name": "e" * ENVIRONMENT_NAME_MAX_LENGTH})
    app = cdk.App(context=cdk_context())
    where = cdk.Environment(account=env.account, region=env.region)
    keys = KeysStack(app, "Keys", config=env, env=where)
    network = NetworkStack(app, "Network", config=env, telemetry_key=keys.telemetry_key, env=where)
    data = DataStack(
        app, "Data", config=env, network=network, data_key=keys.data_key, telemetry_key=keys.telemetry_key, env=where
    )
    (database,) = Template.from_stack(data).find_resources("AWS::RDS::DBInstance").values()
    identifier = _evaluated(database["Properties"]["DBInstanceIdentifier"])
    assert identifier.startswith(f"{env.name}-postgres-")
    assert len(identifier) <= RDS_IDENTIFIER_MAX_LENGTH, identifier
