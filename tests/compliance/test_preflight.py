"""Preflight: each failure of the failure report, rebuilt on a fixture stack, fails with its one-line message.

One fixture app holds a broken and a fixed version of each failure; it is synthesized once.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from compliance import Finding, findings, register_packs
from compliance.packs import CONTEXT
from components import EncryptionKey

ENV = cdk.Environment(account="123456789012", region="us-west-2")


def _vpc(scope: Construct) -> ec2.Vpc:
    return ec2.Vpc(
        scope,
        "Vpc",
        availability_zones=["us-west-2a", "us-west-2b"],
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="Data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
        restrict_default_security_group=True,
    )


def _postgres(scope: Construct, version: str, instance_class: str = "t4g.medium") -> None:
    rds.DatabaseInstance(
        scope,
        "Database",
        engine=rds.DatabaseInstanceEngine.postgres(
            version=rds.PostgresEngineVersion.of(version, version.split(".")[0])
        ),
        instance_type=ec2.InstanceType(instance_class),
        vpc=_vpc(scope),
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        credentials=rds.Credentials.from_generated_secret("dbadmin"),
    )


def _task_with_secrets(scope: Construct, secrets: dict[str, ecs.Secret]) -> None:
    task = ecs.FargateTaskDefinition(scope, "Task")
    task.add_container(
        "App",
        image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.12-slim"),
        memory_limit_mib=512,
        secrets=secrets,
    )


def _generated_secret(scope: Construct) -> secretsmanager.Secret:
    return secretsmanager.Secret(
        scope,
        "Credentials",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template='{"username": "app"}', generate_string_key="password"
        ),
    )


class FixtureStage(cdk.Stage):
    """Broken and fixed variants of every failure in the report, one stack each."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id, env=ENV)
        # 1. PostgreSQL version RDS no longer offers (the report's 15.4, and its expired fix 15.8).
        _postgres(cdk.Stack(self, "DeprecatedPostgres"), "15.4")
        _postgres(cdk.Stack(self, "ExpiredFixPostgres"), "15.8")
        _postgres(cdk.Stack(self, "CurrentPostgres"), "17.9")
        _postgres(cdk.Stack(self, "ClassWithoutVersion"), "17.9", instance_class="m1.small")
        # 2. A key without the CloudWatch Logs grant.
        plain = cdk.Stack(self, "KeyWithoutLogsGrant")
        # Kept as FedRAMP's AU-11 asks (Preflight-LogRetentionFedRAMP), so the key policy is the only finding.
        three_years = logs.RetentionDays.THREE_YEARS
        logs.LogGroup(
            plain, "Logs", encryption_key=kms.Key(plain, "Key", enable_key_rotation=True), retention=three_years
        )
        granted = cdk.Stack(self, "KeyWithLogsGrant")
        key = EncryptionKey(
            granted, "Key", description="fixture", removal_policy=cdk.RemovalPolicy.DESTROY, allow_cloudwatch_logs=True
        ).key
        logs.LogGroup(granted, "Logs", encryption_key=key, retention=three_years)
        # 3. A secret that exists only in somebody's account.
        imported = cdk.Stack(self, "ImportedSecret")
        external = secretsmanager.Secret.from_secret_name_v2(imported, "External", "monitoring-db-credentials")
        _task_with_secrets(imported, {"DB_PASSWORD": ecs.Secret.from_secrets_manager(external, "password")})
        parameter = cdk.Stack(self, "ImportedParameter")
        _task_with_secrets(
            parameter,
            {
                "API_TOKEN": ecs.Secret.from_ssm_parameter(
                    ssm.StringParameter.from_secure_string_parameter_attributes(
                        parameter, "Token", parameter_name="/monitoring/api-token"
                    )
                )
            },
        )
        # 4. A host passed as a secret, and a key the secret does not hold.
        host = cdk.Stack(self, "HostAsSecret")
        _task_with_secrets(host, {"DB_HOST": ecs.Secret.from_secrets_manager(_generated_secret(host), "username")})
        missing = cdk.Stack(self, "MissingSecretKey")
        _task_with_secrets(
            missing, {"DB_PASSWORD": ecs.Secret.from_secrets_manager(_generated_secret(missing), "passwd")}
        )
        right = cdk.Stack(self, "CredentialsAsSecrets")
        credentials = _generated_secret(right)
        _task_with_secrets(
            right,
            {
                "DB_USERNAME": ecs.Secret.from_secrets_manager(credentials, "username"),
                "DB_PASSWORD": ecs.Secret.from_secrets_manager(credentials, "password"),
            },
        )
        # 7. A hard-coded stream name, and one derived from the stage.
        kinesis.Stream(cdk.Stack(self, "FixedStreamName"), "Stream", stream_name="monitoring-events")
        kinesis.Stream(cdk.Stack(self, "StageStreamName"), "Stream", stream_name="fixture-monitoring-events")
        kinesis.Stream(cdk.Stack(self, "GeneratedStreamName"), "Stream")
        # ElastiCache at a version it does not offer.
        elasticache.CfnReplicationGroup(
            cdk.Stack(self, "OldValkey"),
            "Cache",
            replication_group_description="fixture",
            engine="valkey",
            engine_version="6.2",
            cache_node_type="cache.t4g.small",
        )


class DeclaredPrerequisiteStage(cdk.Stage):
    """A stage that reads an external secret its configuration declares as a prerequisite."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id, env=ENV)
        stack = cdk.Stack(self, "ImportedSecret")
        external = secretsmanager.Secret.from_secret_name_v2(stack, "External", "monitoring-db-credentials")
        _task_with_secrets(stack, {"DB_PASSWORD": ecs.Secret.from_secrets_manager(external, "password")})


@pytest.fixture(scope="module")
def preflight_findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    outdir = tmp_path_factory.mktemp("preflight")
    app = cdk.App(outdir=str(outdir), context=CONTEXT)
    FixtureStage(app, "Fixture")
    DeclaredPrerequisiteStage(app, "Declared")
    register_packs(app, external_prerequisites={"Declared": ["monitoring-db-credentials"]})
    app.synth()
    return [f for f in findings(Path(outdir)) if f.rule.startswith("Preflight-")]


def _in(found: list[Finding], stack: str) -> list[Finding]:
    return [f for f in found if f.path.startswith(f"Fixture/{stack}/")]


def test_deprecated_postgres_fails_with_current_versions_to_use(preflight_findings: list[Finding]) -> None:
    for stack, version in (("DeprecatedPostgres", "15.4"), ("ExpiredFixPostgres", "15.8")):
        (finding,) = _in(preflight_findings, stack)
        assert finding.rule == f"Preflight-RDSEngineVersion[postgres-{version}]"
        assert finding.message.startswith(
            f"postgres {version} is deprecated for new instances in us-west-2; use one of "
        )
        assert finding.line() == f"{finding.rule} at Fixture/{stack}/Database/Resource: {finding.message}"


def test_current_postgres_passes(preflight_findings: list[Finding]) -> None:
    assert _in(preflight_findings, "CurrentPostgres") == []


def test_instance_class_must_run_the_version(preflight_findings: list[Finding]) -> None:
    (finding,) = _in(preflight_findings, "ClassWithoutVersion")
    assert finding.message.startswith(
        "db.m1.small does not run postgres 17.9; use a class such as db.m6i.large, db.m7g.large"
    )


def test_key_without_logs_grant_fails_and_the_granted_key_passes(preflight_findings: list[Finding]) -> None:
    (finding,) = _in(preflight_findings, "KeyWithoutLogsGrant")
    assert finding.rule == "Preflight-LogsKeyPolicy[no-logs-grant]"
    assert "allow_cloudwatch_logs=True" in finding.message
    assert _in(preflight_findings, "KeyWithLogsGrant") == []


def test_secret_or_parameter_from_outside_the_app_fails(preflight_findings: list[Finding]) -> None:
    rules = {f.rule for f in _in(preflight_findings, "ImportedSecret")}
    assert "Preflight-SelfContainedStage[monitoring-db-credentials]" in rules
    parameter = _in(preflight_findings, "ImportedParameter")
    assert parameter
    assert all(f.rule == "Preflight-SelfContainedStage[/monitoring/api-token]" for f in parameter)
    assert all("external_prerequisites" in f.message for f in parameter)


def test_host_as_secret_and_missing_key_fail_and_credentials_pass(preflight_findings: list[Finding]) -> None:
    (host,) = _in(preflight_findings, "HostAsSecret")
    assert host.rule == "Preflight-ContainerSecrets[DB_HOST]"
    assert "plain environment variable" in host.message
    (missing,) = _in(preflight_findings, "MissingSecretKey")
    assert "reads the key 'passwd', which the secret does not contain (its keys: password, username)" in missing.message
    assert _in(preflight_findings, "CredentialsAsSecrets") == []


def test_fixed_stream_name_fails_and_stage_derived_or_generated_names_pass(preflight_findings: list[Finding]) -> None:
    (finding,) = [f for f in _in(preflight_findings, "FixedStreamName") if "UniquePhysicalName" in f.rule]
    assert finding.rule == "Preflight-UniquePhysicalName[monitoring-events]"
    assert "'fixture-monitoring-events'" in finding.message
    assert [f for f in _in(preflight_findings, "StageStreamName") if "UniquePhysicalName" in f.rule] == []
    assert _in(preflight_findings, "GeneratedStreamName") == []


def test_a_retained_stage_derived_name_still_collides_on_the_next_create(preflight_findings: list[Finding]) -> None:
    # Carrying the stage keeps two deployments apart, not a re-created stack from the stream it retained.
    (finding,) = [f for f in _in(preflight_findings, "StageStreamName") if "RetainedPhysicalName" in f.rule]
    assert finding.rule == "Preflight-RetainedPhysicalName[fixture-monitoring-events]"
    assert "derive the name from the stack id" in finding.message


def test_elasticache_version_it_does_not_offer_fails(preflight_findings: list[Finding]) -> None:
    (finding,) = _in(preflight_findings, "OldValkey")
    assert finding.rule == "Preflight-ElastiCacheEngineVersion[valkey-6.2]"


def test_a_declared_external_prerequisite_is_allowed(preflight_findings: list[Finding]) -> None:
    assert [f for f in preflight_findings if f.path.startswith("Declared/")] == []
