"""The account's runtime controls, for accounts no landing zone already governs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_config as config_service
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_securityhub as securityhub
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import AssumableOnlyBy, GrantedOnlyOn, NotPublic, RetainedOnDelete, Versioned, WildcardGrantsOnly
from compliance.runtime import conformance_pack_template
from components import EncryptedLogGroup, EncryptionKey
from components.logged_bucket import DEFAULT_ACCESS_LOG_RETENTION_DAYS, LoggedBucket
from config import EnvironmentConfig, aws_facts
from stacks.base import WorkloadStack

# What a baseline deploys, and the CloudFormation type each one needs in the region.
SERVICES = {
    "cloudtrail": "AWS::CloudTrail::Trail",
    "config": "AWS::Config::ConformancePack",
    "security_hub": "AWS::SecurityHub::Standard",
    "guardduty": "AWS::GuardDuty::Detector",
}
# The constructs each service brings, by id under the stack: the audit key and bucket pair serve the trail and
# the recorder alike. compliance/data/inherited-controls.tsv names them; a test holds every resource to one.
CONSTRUCTS = {
    "cloudtrail": ("AuditKey", "Audit", "TrailLogs", "Trail"),
    "config": ("AuditKey", "Audit", "ConfigHistory", "ConfigRole", "Recorder", "Delivery", "FedRampModerate"),
    "security_hub": ("SecurityHub", "Nist80053Rev5"),
    "guardduty": ("GuardDuty",),
}
# Audit records cannot be deleted or overwritten for a year after they are written (AU-9, AU-11; OMB M-21-31's
# twelve months of active storage); governance mode, so a break-glass role with s3:BypassGovernanceRetention can.
AUDIT_OBJECT_LOCK_DAYS = 365
# Kept when the stack is deleted, except when its first create rolls back (nothing recorded yet).
AUDIT_RETENTION = cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE


class BaselineStack(WorkloadStack):
    """Continuous compliance of the account (AU-2, AU-6, AU-9, AU-12, CA-7, CM-8, RA-5, SI-4).

    A multi-region CloudTrail trail (KMS-encrypted, log file validation, S3 data
    events of every bucket, delivered to an encrypted CloudWatch Logs group); an AWS Config recorder with AWS's
    FedRAMP Moderate conformance pack (built from the pack's rule list); Security
    Hub with the NIST SP 800-53 Rev 5 standard; GuardDuty. These are account- and
    region-wide singletons: `account_baseline` switches each on or off, so a team
    leaves off what a landing zone or a delegated administrator already runs. A
    service switched on that the region does not offer is skipped, and `skipped`
    says which (the compliance report lists them).

    Audit records outlive the workload in every environment (AU-9, AU-11): the audit
    key, the audit bucket pair, Config's configuration-history bucket pair and the trail's
    log group are retained when the stack is deleted, whatever `protect_data` says. Config
    delivers to a bucket of its own without Object Lock, which it does not support. The audit
    bucket expires nothing; the buckets of S3 access records keep them `log_retention_days`
    with `protect_data` (OMB M-21-31's 30 months: the configuration refuses less), 400 days
    otherwise.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, config=config, **kwargs)
        wanted = config.account_baseline.services
        offered = {name for name in wanted if aws_facts.resource_type_offered(config.region, SERVICES[name])}
        self.deployed = frozenset(offered)
        self.skipped = wanted - self.deployed
        if offered & {"cloudtrail", "config"}:
            self._audit_records(offered)
        self._detectors(offered)

    def _audit_records(self, offered: set[str]) -> None:
        """The audit key and bucket, the trail and the Config recorder with its conformance pack."""
        key = EncryptionKey(
            self,
            "AuditKey",
            description=f"{self.config.stage_id} audit trail and configuration history",
            removal_policy=AUDIT_RETENTION,
            allow_cloudwatch_logs=True,
            allow_cloudtrail=True,
        ).key
        self.audit_bucket = self._audit_bucket(key)
        if "cloudtrail" in offered:
            self._trail(key)
        if "config" in offered:
            self._config(key)

    def _detectors(self, offered: set[str]) -> None:
        """Security Hub with the NIST 800-53 R5 standard, and GuardDuty, where switched on and offered."""
        if "security_hub" in offered:
            hub = securityhub.CfnHub(self, "SecurityHub", enable_default_standards=False)
            standard = securityhub.CfnStandard(
                self,
                "Nist80053Rev5",
                standards_arn=f"arn:{self.partition}:securityhub:{self.region}::standards/nist-800-53/v/5.0.0",
            )
            standard.node.add_dependency(hub)
        if "guardduty" in offered:
            guardduty.CfnDetector(
                self,
                "GuardDuty",
                enable=True,
                finding_publishing_frequency="FIFTEEN_MINUTES",
                # S3 protection: CloudTrail S3 data events analysed for threats (Control Tower CT.GUARDDUTY.PR.1).
                data_sources=guardduty.CfnDetector.CFNDataSourceConfigurationsProperty(
                    s3_logs=guardduty.CfnDetector.CFNS3LogsConfigurationProperty(enable=True)
                ),
            )

    @property
    def _access_log_retention_days(self) -> int:
        """S3 access records are logs too: with protect_data, kept as long as the environment's other logs."""
        config = self.config
        return max(DEFAULT_ACCESS_LOG_RETENTION_DAYS, config.log_retention_days if config.protect_data else 0)

    def _audit_bucket(self, key: Any) -> s3.Bucket:
        return LoggedBucket(
            self,
            "Audit",
            encryption_key=key,
            replication_reason=(
                "Audit records stay in the account's home region, where the FedRAMP boundary is documented; "
                "copying them to a second region is the organisation's log-archive decision."
            ),
            log_prefix="audit/",
            object_lock_retention_days=AUDIT_OBJECT_LOCK_DAYS,
            access_log_retention_days=self._access_log_retention_days,
        ).bucket

    def _trail(self, key: Any) -> None:
        trail_logs = EncryptedLogGroup(
            self,
            "TrailLogs",
            encryption_key=key,
            retention_days=self.config.log_retention_days,
            removal_policy=AUDIT_RETENTION,
        ).log_group
        trail = cloudtrail.Trail(
            self,
            "Trail",
            bucket=self.audit_bucket,
            encryption_key=key,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=trail_logs,
            management_events=cloudtrail.ReadWriteType.ALL,
        )
        # Object-level reads and writes of every bucket: AWS Config's cloudtrail-s3-dataevents-enabled in the
        # account's own FedRAMP pack asks for them (AU-2, AU-12).
        trail.log_all_s3_data_events()

    def _config(self, key: Any) -> None:
        """The Config recorder and its delivery to a bucket of its own, and AWS's FedRAMP Moderate conformance pack."""
        self.config_bucket = self._config_bucket(key)
        role = self._config_role(key)
        recorder = config_service.CfnConfigurationRecorder(
            self,
            "Recorder",
            role_arn=role.role_arn,
            recording_group=config_service.CfnConfigurationRecorder.RecordingGroupProperty(
                all_supported=True, include_global_resource_types=True
            ),
        )
        channel = config_service.CfnDeliveryChannel(
            self,
            "Delivery",
            s3_bucket_name=self.config_bucket.bucket_name,
            s3_key_prefix="config",
            s3_kms_key_arn=key.key_arn,
        )
        channel.node.add_dependency(role)
        # "Before you can create a delivery channel, you must create a configuration recorder" (CloudFormation
        # reference, AWS::Config::DeliveryChannel).
        channel.node.add_dependency(recorder)
        pack = config_service.CfnConformancePack(
            self,
            "FedRampModerate",
            conformance_pack_name=f"{self.config.name}-fedramp-moderate",
            template_body=conformance_pack_template(),
        )
        pack.node.add_dependency(recorder)
        pack.node.add_dependency(channel)
        cdk.Tags.of(pack).add("compliance:framework", "FedRAMP Moderate")

    def _config_bucket(self, key: Any) -> s3.Bucket:
        """Where Config delivers: a bucket pair of its own, since Config refuses a bucket with Object Lock."""
        return LoggedBucket(
            self,
            "ConfigHistory",
            encryption_key=key,
            replication_reason=(
                "Configuration history stays in the account's home region, where the FedRAMP boundary is documented; "
                "copying it to a second region is the organisation's log-archive decision."
            ),
            log_prefix="config-history/",
            access_log_retention_days=self._access_log_retention_days,
            unlocked_reason=(
                "AWS Config does not support a delivery channel to an S3 bucket where Object Lock is enabled "
                "(CloudFormation reference, AWS::Config::DeliveryChannel: https://docs.aws.amazon.com/"
                "AWSCloudFormation/latest/TemplateReference/aws-resource-config-deliverychannel.html; AWS Config "
                "developer guide, Managing the delivery channel), so configuration history has a bucket of its own "
                "beside the Object-Locked audit bucket, written only by the recorder's role."
            ),
        ).bucket

    def _config_role(self, key: Any) -> iam.Role:
        """The recorder's role: AWS's Config policy, and exactly what delivery needs."""
        role = iam.Role(
            self,
            "ConfigRole",
            assumed_by=iam.ServicePrincipal("config.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWS_ConfigRole")],
        )
        acknowledge(
            role.node.default_child,  # type: ignore[arg-type]
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWS_ConfigRole]",
            reason=(
                "AWS Config's recorder must read the configuration of every supported resource type; AWS's "
                "service-role policy is the documented grant and grows as Config supports new types."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[AssumableOnlyBy("config.amazonaws.com")],
            controls=["AC-6", "CM-8"],
            review_by="2027-11-30",
        )
        # Exactly what delivery needs: write under config/, read the bucket's ACL, encrypt with the key.
        prefix = f"config/AWSLogs/{cdk.Aws.ACCOUNT_ID}/*"  # the pseudo-parameter: the same finding in every stage
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self.config_bucket.arn_for_objects(prefix)])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:GetBucketAcl"], resources=[self.config_bucket.bucket_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn])
        )
        bucket_id = self.resolve(self.get_logical_id(self.config_bucket.node.default_child))  # type: ignore[arg-type]
        acknowledge(
            role.node.find_child("DefaultPolicy").node.default_child,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/config/AWSLogs/<AWS::AccountId>/*]",
            reason=(
                "AWS Config writes one object per delivery under a key it chooses; the grant is limited to the "
                "config/AWSLogs/<account>/ prefix of the configuration-history bucket, and the role only writes "
                "there, never reads."
            ),
            kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
            checks=[
                WildcardGrantsOnly(("s3:PutObject",), resource="<ref>/*"),
                GrantedOnlyOn(("s3:PutObject",)),
                Versioned(),
                NotPublic(),
                RetainedOnDelete(on="AWS::S3::Bucket"),
            ],
            controls=["AC-6", "AU-9"],
            review_by="2027-03-31",
        )
        return role
