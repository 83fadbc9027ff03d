"""Stateful resources: the database and its master secret, the cache and its users, the event stream.

They live directly in this stack (built by its methods, not inside a reusable construct) so
that their logical IDs never move when code is refactored: a moved logical ID is a replaced
database. `tests/stacks/test_stateful.py` pins them.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import (
    KEY,
    AssumableOnlyBy,
    BackedUp,
    EncryptedWithCmk,
    IamAuthenticationRequired,
    KeyRotation,
    ResolvedAtDeploy,
    TlsOnly,
)
from compliance.preflight.backup_plan_frequency import CONFIG_RULE as BACKUP_PLAN_RULE
from compliance.runtime import pack_parameters
from components import EncryptedLogGroup
from components.database_user import DatabaseUser
from config import EnvironmentConfig
from config.schema import CacheEngine
from stacks.base import WorkloadStack
from stacks.network import NetworkStack

DATABASE_NAME = "monitoring"
DATABASE_USER = "dbadmin"
# The service's own user (IAM authentication only) and the schema its tables live in.
SERVICE_DATABASE_USER = "monitoring_service"
SERVICE_SCHEMA = "monitoring"
# The log types Control Tower's CT.RDS.PR.14 requires of PostgreSQL, and no other (AU-2, AU-12): it refuses
# `iam-db-auth-error` too. A failed IAM sign-in still reaches the postgresql log as a FATAL authentication error.
POSTGRES_LOG_EXPORTS = ("postgresql", "upgrade")
# "Must contain from 1 to 63 letters, numbers, or hyphens" (Amazon RDS API reference, CreateDBInstance,
# DBInstanceIdentifier).
RDS_IDENTIFIER_MAX_LENGTH = 63


class DataStack(WorkloadStack):
    """Database, cache and stream, encrypted with the data key (SC-8, SC-13, SC-28(1), CP-9, CP-10, IA-2, IA-5).

    - RDS PostgreSQL at a version validated against AWS's current list, with
      credentials generated at deploy time into a CMK-encrypted secret that is
      rotated every 30 days, IAM authentication, TLS enforced, every log type
      exported to encrypted log groups, enhanced monitoring and Performance
      Insights encrypted with the CMK, and daily, weekly and monthly backups to a
      CMK-encrypted vault. The service's own user (`DatabaseUser`) signs in with
      IAM tokens only; the master secret is for administration.
    - An ElastiCache replication group (Valkey or Redis OSS), TLS required and
      encrypted at rest with the CMK, with role-based access: the service's user
      signs in with IAM authentication, so there is no password or token to store
      or rotate (a Redis OSS group's required "default" user is switched off).
    - A Kinesis stream encrypted with the CMK. It has no physical name: a fixed
      name collides with the stream an earlier deployment left behind.

    With `protect_data`, the database has deletion protection, the pipeline turns on the
    stack's termination protection after each deploy, and the database, cache, stream,
    secrets, vault and log groups survive deletion (snapshot or retain). Without it, the
    stack deletes cleanly: the backup vault, which AWS Backup deletes only when empty, is
    left behind, and its recovery points expire after the account baseline's minimum.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        network: NetworkStack,
        data_key: kms.IKey,
        telemetry_key: kms.IKey,
        **kwargs: Any,
    ) -> None:
        # Termination protection is applied by the pipeline after each deploy (CDK Pipelines ignores the property).
        super().__init__(scope, construct_id, config=config, **kwargs)
        data_key = self.use_key(data_key, "DataKey")
        telemetry_key = self.use_key(telemetry_key, "TelemetryKey")
        self._database(network, data_key, telemetry_key)
        self._service_database_user(network, data_key, telemetry_key)
        self._literal_database_ports()
        self._acknowledge_database()
        self._backup_plan(data_key)
        self._cache(network.vpc, data_key, telemetry_key)
        self._stream(data_key)
        self._acknowledge_cache_and_stream()

    def _database(self, network: NetworkStack, data_key: kms.IKey, telemetry_key: kms.IKey) -> None:
        """The instance, its security group, its log groups, and its master secret, retained and rotated."""
        self.database_security_group = ec2.SecurityGroup(
            self, "DatabaseSecurityGroup", vpc=network.vpc, description="PostgreSQL", allow_all_outbound=False
        )
        identifier = self.unique_name(f"{self.config.name}-postgres", max_length=RDS_IDENTIFIER_MAX_LENGTH)
        log_groups = self._database_log_groups(identifier, telemetry_key)
        self.database = self._database_instance(network, identifier, data_key)
        for log_group in log_groups:
            self.database.node.add_dependency(log_group)
        secret = self.database.secret
        if secret is None:  # always set for generated credentials
            raise AssertionError("generated credentials produce a secret")
        self.database_secret: secretsmanager.ISecret = secret
        # `database.secret` is the attachment; the generated secret itself must also survive deletion.
        generated_secret = self.database.node.find_child("Secret")
        assert isinstance(generated_secret, rds.DatabaseSecret)
        generated_secret.apply_removal_policy(self.removal_policy)
        # No explicit endpoint: the interface endpoint's private DNS answers for the service's own name.
        self.database.add_rotation_single_user(
            automatically_after=cdk.Duration.days(30),
            vpc_subnets=network.application_subnets,
        )

    def _database_log_groups(self, identifier: str, telemetry_key: kms.IKey) -> list[logs.ILogGroup]:
        """RDS exports to log groups of a fixed name; creating them first lets us encrypt them and set their
        retention without a log-retention Lambda."""
        return [
            EncryptedLogGroup(
                self,
                f"DatabaseLogs{log_type.title().replace('-', '')}",
                encryption_key=telemetry_key,
                retention_days=self.config.log_retention_days,
                removal_policy=self.removal_policy,
                log_group_name=f"/aws/rds/instance/{identifier}/{log_type}",
            ).log_group
            for log_type in POSTGRES_LOG_EXPORTS
        ]

    def _database_instance(self, network: NetworkStack, identifier: str, data_key: kms.IKey) -> rds.DatabaseInstance:
        config, db = self.config, self.config.database
        engine = rds.DatabaseInstanceEngine.postgres(
            version=rds.PostgresEngineVersion.of(db.engine_version, db.engine_version.split(".")[0])
        )
        return rds.DatabaseInstance(
            self,
            "Database",
            engine=engine,
            instance_identifier=identifier,
            instance_type=ec2.InstanceType(db.instance_type.removeprefix("db.")),
            vpc=network.vpc,
            vpc_subnets=network.data_subnets,
            security_groups=[self.database_security_group],
            port=db.port,
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(DATABASE_USER, encryption_key=data_key),
            storage_encrypted=True,
            storage_encryption_key=data_key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=db.allocated_storage_gib,
            max_allocated_storage=db.max_allocated_storage_gib,
            multi_az=db.multi_az,
            backup_retention=cdk.Duration.days(db.backup_retention_days),
            copy_tags_to_snapshot=True,
            delete_automated_backups=not config.protect_data,
            deletion_protection=config.protect_data,
            removal_policy=self.snapshot_policy,
            iam_authentication=True,
            auto_minor_version_upgrade=True,
            publicly_accessible=False,
            cloudwatch_logs_exports=list(POSTGRES_LOG_EXPORTS),
            monitoring_interval=cdk.Duration.seconds(60),
            enable_performance_insights=True,
            performance_insight_encryption_key=data_key,
            parameters={
                "rds.force_ssl": "1",
                "log_connections": "1",
                "log_disconnections": "1",
            },
        )

    def _service_database_user(self, network: NetworkStack, data_key: kms.IKey, telemetry_key: kms.IKey) -> None:
        """The service signs in as its own user with IAM tokens; the master secret stays for administration."""
        self.service_database_user = DatabaseUser(
            self,
            "ServiceDatabaseUser",
            database=self.database,
            database_security_group=self.database_security_group,
            port=self.config.database.port,
            master_secret=self.database_secret,
            secret_key=data_key,
            user_name=SERVICE_DATABASE_USER,
            database_name=DATABASE_NAME,
            schema=SERVICE_SCHEMA,
            vpc=network.vpc,
            subnets=network.application_subnets,
            log_key=telemetry_key,
            log_retention_days=self.config.log_retention_days,
            removal_policy=self.removal_policy,
            partition=self.config.partition,
        )

    def _cache(self, vpc: ec2.IVpc, data_key: kms.IKey, telemetry_key: kms.IKey) -> None:
        """The replication group in the data subnets, its users, and its slow and engine logs."""
        config = self.config
        self.cache_security_group = ec2.SecurityGroup(
            self, "CacheSecurityGroup", vpc=vpc, description="ElastiCache", allow_all_outbound=False
        )
        user_group = self._cache_users()
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "CacheSubnets",
            description=f"{config.stage_id} cache data subnets",
            subnet_ids=vpc.select_subnets(subnet_group_name="Data").subnet_ids,
        )
        cache_logs = EncryptedLogGroup(
            self,
            "CacheLogs",
            encryption_key=telemetry_key,
            retention_days=config.log_retention_days,
            removal_policy=self.removal_policy,
        ).log_group
        cache = config.cache
        highly_available = cache.replicas > 0
        self.cache = elasticache.CfnReplicationGroup(
            self,
            "Cache",
            replication_group_description=f"{config.stage_id} monitoring cache",
            engine=cache.engine.value,
            engine_version=cache.engine_version,
            cache_node_type=cache.node_type,
            num_node_groups=1,
            replicas_per_node_group=cache.replicas,
            automatic_failover_enabled=highly_available,
            multi_az_enabled=highly_available,
            port=cache.port,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.cache_security_group.security_group_id],
            at_rest_encryption_enabled=True,
            kms_key_id=data_key.key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            user_group_ids=[user_group.ref],
            snapshot_retention_limit=cache.snapshot_retention_days,
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[
                _cache_log_delivery(log_type, cache_logs.log_group_name) for log_type in ("slow-log", "engine-log")
            ],
        )
        self.cache.apply_removal_policy(self.snapshot_policy)

    def _cache_users(self) -> elasticache.CfnUserGroup:
        """Role-based access with IAM authentication: the service signs in as its own user with a short-lived
        SigV4 token from its task role, so there is no static password to store or rotate."""
        engine = self.config.cache.engine
        user_prefix = f"{self.config.name}-monitoring"
        self.cache_user = elasticache.CfnUser(
            self,
            "CacheServiceUser",
            engine=engine.value,
            # IAM authentication requires the id and the name to be the same.
            user_id=f"{user_prefix}-service",
            user_name=f"{user_prefix}-service",
            access_string="on ~* +@all -@dangerous -@admin",
            authentication_mode={"Type": "iam"},
        )
        user_group = elasticache.CfnUserGroup(
            self,
            "CacheUsers",
            engine=engine.value,
            user_group_id=f"{user_prefix}-users",
            user_ids=[self.cache_user.ref],  # Ref: the user id, and the create order
        )
        if engine is CacheEngine.REDIS:
            # Redis OSS groups must hold a user named "default"; this one is switched off. Valkey groups
            # need none, and Valkey does not accept password-less users.
            disabled_default = elasticache.CfnUser(
                self,
                "CacheDefaultUser",
                engine=engine.value,
                user_id=f"{user_prefix}-default",
                user_name="default",
                access_string="off -@all",
                authentication_mode={"Type": "no-password-required"},
            )
            user_group.user_ids = [disabled_default.ref, self.cache_user.ref]
        return user_group

    def _stream(self, data_key: kms.IKey) -> None:
        stream = self.config.stream
        self.stream = kinesis.Stream(
            self,
            "EventStream",
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=data_key,
            stream_mode=kinesis.StreamMode.ON_DEMAND if stream.mode == "on-demand" else kinesis.StreamMode.PROVISIONED,
            shard_count=stream.shard_count,
            retention_period=cdk.Duration.hours(stream.retention_hours),
            removal_policy=self.removal_policy,
        )

    def _backup_plan(self, data_key: kms.IKey) -> None:
        """Recovery points of the database in a CMK-encrypted vault (CP-9, CP-10): daily, weekly and monthly kept
        five years where the stage protects its data, daily kept as long as the account baseline asks elsewhere."""
        # AWS Backup deletes a vault only once it holds no recovery points (AWS Backup developer guide, "Delete a
        # backup vault"), so every stage keeps its vault when the stack is deleted, and an unprotected stage's
        # recovery points expire soon after. Backup demands a vault name; it carries this stack's id, so a
        # re-created stack never collides with the vault an earlier one left behind.
        vault = backup.BackupVault(
            self,
            "BackupVault",
            backup_vault_name=self.short_unique_name(self.config.name),  # at most 20 + 13 of Backup's 50 characters
            encryption_key=data_key,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        if self.config.protect_data:
            plan = backup.BackupPlan.daily_weekly_monthly5_year_retention(self, "BackupPlan", backup_vault=vault)
        else:
            plan = backup.BackupPlan(
                self, "BackupPlan", backup_vault=vault, backup_plan_rules=[_daily_rule_the_baseline_asks_for()]
            )
        selection = plan.add_selection(
            "Database", resources=[backup.BackupResource.from_rds_database_instance(self.database)]
        )
        (backup_role,) = [c for c in selection.node.find_all() if isinstance(c, iam.CfnRole)]
        acknowledge(
            backup_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]",
            reason=(
                "AWS Backup's own service-role policy is the documented way to let the service snapshot the "
                "selected resources; AWS maintains it as the service adds resource types."
            ),
            kind=AcknowledgmentKind.GENERATED_CONSTRUCT,
            checks=[AssumableOnlyBy("backup.amazonaws.com")],
            controls=["AC-6", "CP-9"],
            review_by="2027-11-30",
        )

    def _literal_database_ports(self) -> None:
        """The CDK writes the rotation function's ingress rule with the instance's endpoint-port token;
        the configured port is the same number, written literally so the rule packs can evaluate it."""
        for construct in self.database_security_group.node.find_all():
            if isinstance(construct, ec2.CfnSecurityGroupIngress):
                construct.from_port = self.config.database.port
                construct.to_port = self.config.database.port

    def _acknowledge_database(self) -> None:
        config = self.config
        database = self.database.node.default_child
        assert database is not None
        acknowledge(
            self.database.node.find_child("MonitoringRole").node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
            reason=(
                "Enhanced monitoring needs RDS to write OS metrics to its own RDSOSMetrics log group; AWS's "
                "service-role policy grants exactly that and is maintained by AWS."
            ),
            kind=AcknowledgmentKind.GENERATED_CONSTRUCT,
            checks=[AssumableOnlyBy("monitoring.rds.amazonaws.com")],
            controls=["AC-6", "SI-4"],
            review_by="2027-11-30",
        )
        if not config.database.multi_az:
            for rule in ("AwsSolutions-RDS3", "NIST.800.53.R5-RDSMultiAZSupport", "ControlTower::CT.RDS.PR.1"):
                acknowledge(
                    database,
                    rule,
                    reason=(
                        f"{config.stage_id} is configured single-AZ (database.multi_az: false): it holds no "
                        "production data and a zone outage there affects no user. Every environment that "
                        "needs an approval is refused by the configuration check unless it is Multi-AZ."
                    ),
                    kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
                    checks=[BackedUp()],
                    controls=["CP-10", "SC-5"],
                    review_by="2027-06-30",
                )
        if not config.protect_data:
            for rule in (
                "AwsSolutions-RDS10",
                "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled",
                "ControlTower::CT.RDS.PR.13",
            ):
                acknowledge(
                    database,
                    rule,
                    reason=(
                        f"{config.stage_id} sets protect_data: false so the environment can be torn down and "
                        "rebuilt from code; it holds no production data. Every environment with an approval keeps "
                        "deletion protection and a final snapshot (the configuration check insists)."
                    ),
                    kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
                    checks=[BackedUp()],
                    controls=["CP-9", "CM-3"],
                    review_by="2027-06-30",
                )

    def _acknowledge_cache_and_stream(self) -> None:
        if self.config.cache.replicas == 0:
            acknowledge(
                self.cache,
                "AwsSolutions-AEC4",
                reason=(
                    f"{self.config.stage_id} runs its cache on one node (cache.replicas: 0): the cache holds only "
                    "values the service rebuilds from the database and the stream, and a zone outage there "
                    "affects no user. The configuration check refuses a cache without a replica for every "
                    "environment with approval, where Multi-AZ failover is on."
                ),
                kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
                checks=[BackedUp()],
                controls=["CP-10", "SC-5"],
                review_by="2027-06-30",
            )
        acknowledge(
            self.cache,
            "AwsSolutions-AEC6",
            reason=(
                "The rule looks for a static AUTH token; the cache instead uses role-based access control with "
                "IAM authentication, which replaces the shared token with per-principal, short-lived SigV4 "
                "credentials and needs no secret to rotate. Its user group holds only the service's user, which "
                "may not run admin or dangerous commands."
            ),
            kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
            checks=[IamAuthenticationRequired(), TlsOnly(), EncryptedWithCmk()],
            controls=["IA-2", "IA-5(1)", "AC-3"],
            review_by="2027-11-30",
        )
        acknowledge(
            self.stream.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-KDS3",
            reason=(
                "The stream is encrypted with the environment's customer-managed key rather than the AWS-managed "
                "aws/kinesis key, so key rotation, policy and deletion stay under the customer's control."
            ),
            # The rule reads the stream right (it does not use aws/kinesis) and asks, for cost, to use that key
            # unless compliance needs a customer-managed one: choosing one is a decision, not a misreading.
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[EncryptedWithCmk(), KeyRotation()],
            controls=["SC-12", "SC-28(1)"],
            review_by="2027-11-30",
        )
        self._acknowledge_keys_of_other_stacks()
        self._acknowledge_short_backup_retention()

    def _acknowledge_short_backup_retention(self) -> None:
        """Control Tower's CT.RDS.PR.8 asks for 7 days of automated backups; a configuration may keep fewer."""
        days = self.config.database.backup_retention_days
        if days >= 7:
            return
        acknowledge(
            self.database.node.default_child,  # type: ignore[arg-type]
            "ControlTower::CT.RDS.PR.8",
            reason=(
                f"{self.config.stage_id} keeps {days} days of automated backups (database.backup_retention_days), "
                "fewer than the 7 the control asks for; set 7 or more to comply. The stage's AWS Backup plan "
                "backs the database up besides."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[BackedUp()],
            controls=["CP-9"],
            review_by="2027-06-30",
        )

    def _acknowledge_keys_of_other_stacks(self) -> None:
        """The database and the stream name the key stack's data key, which the Control Tower hook sees resolved."""
        reason = (
            "The {what} is encrypted with the stage's customer-managed data key, which the key stack holds; the "
            "synth-time rule reads only keys of the same template, while the Control Tower hook sees the key's ARN, "
            "which CloudFormation resolves from the cross-stack reference before the hook runs."
        )
        for construct, finding, prop, what in (
            (self.database, "ControlTower::CT.RDS.PR.30", "KmsKeyId", "database"),
            (self.stream, "ControlTower::CT.KINESIS.PR.1", "StreamEncryption.KeyId", "stream"),
        ):
            acknowledge(
                construct.node.default_child,  # type: ignore[arg-type]
                finding,
                reason=reason.format(what=what),
                kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
                checks=[ResolvedAtDeploy(prop=prop, to=KEY), EncryptedWithCmk(), KeyRotation()],
                controls=["SC-12", "SC-28(1)"],
                review_by="2027-11-30",
            )


def _daily_rule_the_baseline_asks_for() -> backup.BackupPlanRule:
    """Daily recovery points, kept as long as the account baseline's backup-plan rule asks and no longer."""
    days = int(pack_parameters(BACKUP_PLAN_RULE).get("requiredRetentionDays", "35"))
    return backup.BackupPlanRule(
        rule_name="Daily",
        schedule_expression=events.Schedule.cron(minute="0", hour="5"),
        delete_after=cdk.Duration.days(days),
    )


def _cache_log_delivery(
    log_type: str, log_group_name: str
) -> elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty:
    """One of the cache's logs (slow-log, engine-log), as JSON to a CloudWatch Logs group."""
    return elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
        destination_type="cloudwatch-logs",
        log_format="json",
        log_type=log_type,
        destination_details=elasticache.CfnReplicationGroup.DestinationDetailsProperty(
            cloud_watch_logs_details=elasticache.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                log_group=log_group_name
            )
        ),
    )
