"""Stateful resources: prod data survives stack deletion, and logical IDs never move."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import StackArtifact, resources_of

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
        for logical_id, resource in stack(stage, name).template_json["Resources"].items():
            if resource["Type"] in STATEFUL_TYPES:
                snapshots = resource["Type"] in snapshot
                assert resource.get("DeletionPolicy") == ("Snapshot" if snapshots else "RetainExceptOnCreate"), (
                    name,
                    logical_id,
                )
                assert resource.get("UpdateReplacePolicy") == ("Snapshot" if snapshots else "Retain"), (
                    name,
                    logical_id,
                )


@pytest.mark.parametrize("stage", ["Staging", "Prod"])
def test_protected_stages_have_deletion_and_termination_protection(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    data = stack(stage, "Data")
    # Termination protection is turned on by the pipeline after each deploy (tests/pipeline/test_pipeline.py):
    # CDK Pipelines ignores the stack property, so the stack does not promise it.
    assert data.termination_protection is False
    (db,) = resources_of(data.template_json, "AWS::RDS::DBInstance").values()
    assert db["Properties"]["DeletionProtection"] is True
    assert db["Properties"]["MultiAZ"] is True
    assert db["Properties"]["DeleteAutomatedBackups"] is False
    (cache,) = resources_of(data.template_json, "AWS::ElastiCache::ReplicationGroup").values()
    assert cache["Properties"]["MultiAZEnabled"] is True
    assert cache["Properties"]["AutomaticFailoverEnabled"] is True
    assert cache["Properties"]["SnapshotRetentionLimit"] >= 15


def test_dev_can_be_torn_down(stack: Callable[[str, str], StackArtifact]) -> None:
    data = stack("Dev", "Data")
    assert data.termination_protection is False
    (db,) = resources_of(data.template_json, "AWS::RDS::DBInstance").values()
    assert db["DeletionPolicy"] == "Delete"
    assert db["Properties"]["DeletionProtection"] is False


@pytest.mark.parametrize("stage", ["Dev", "Staging", "Prod"])
def test_database_is_encrypted_authenticated_and_observed(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    data = stack(stage, "Data").template_json
    (db,) = resources_of(data, "AWS::RDS::DBInstance").values()
    props = db["Properties"]
    assert props["StorageEncrypted"] is True
    assert "KmsKeyId" in props
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["PubliclyAccessible"] is False
    assert set(props["EnableCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    assert props["MonitoringInterval"] == 60
    assert props["EnablePerformanceInsights"] is True
    assert "PerformanceInsightsKMSKeyId" in props
    assert props["Port"] != "5432"
    (params,) = resources_of(data, "AWS::RDS::DBParameterGroup").values()
    assert params["Properties"]["Parameters"]["rds.force_ssl"] == "1"
    (cache,) = resources_of(data, "AWS::ElastiCache::ReplicationGroup").values()
    assert cache["Properties"]["TransitEncryptionEnabled"] is True
    assert cache["Properties"]["AtRestEncryptionEnabled"] is True
    assert "KmsKeyId" in cache["Properties"]
    assert "AuthToken" not in cache["Properties"]  # IAM-authenticated users instead of a shared token
    assert len(cache["Properties"]["UserGroupIds"]) == 1
    (user,) = resources_of(data, "AWS::ElastiCache::User").values()  # Valkey groups need no default user
    assert user["Properties"]["AuthenticationMode"] == {"Type": "iam"}
    assert user["Properties"]["UserId"] == user["Properties"]["UserName"]
    assert "-@dangerous" in user["Properties"]["AccessString"]
    assert len(resources_of(data, "AWS::Backup::BackupSelection")) == 1
