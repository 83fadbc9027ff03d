"""A customer-managed KMS key that the services using it are allowed to use."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import PublishConfinedToAccount, ServiceGrantsOnly

# What a service needs of the key to publish to an SNS topic encrypted with it.
_PUBLISH_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
EVENTBRIDGE_SID = "AllowEventBridgeToPublishToEncryptedTopics"
# What CloudWatch Logs needs to encrypt and read a log group's data with a CMK.
_LOGS_ACTIONS = [
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
]


class EncryptionKey(Construct):
    """A rotated customer-managed key (SC-12, SC-13, SC-28(1)).

    With `allow_eventbridge`, EventBridge may use the key to publish to topics it encrypts,
    without a source condition in the key policy, which EventBridge does not support there
    (the acknowledgment's checks hold the grant to publishing and the topic to this account).
    With `allow_cloudwatch_logs`, the key policy lets the regional CloudWatch Logs
    service principal use the key, but only for log groups of this account and
    region (the `kms:EncryptionContext:aws:logs:arn` condition). Without that
    statement CloudWatch Logs refuses to create an encrypted log group ("The
    specified KMS key does not exist or is not allowed to be used"). Every ARN and
    principal is built from the stack's partition, region, account and URL-suffix
    tokens, so the same policy is valid in GovCloud.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        removal_policy: cdk.RemovalPolicy,
        allow_cloudwatch_logs: bool = False,
        allow_cloudwatch_alarms: bool = False,
        allow_eventbridge: bool = False,
        allow_cloudtrail: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=description,
            enable_key_rotation=True,
            rotation_period=cdk.Duration.days(365),
            removal_policy=removal_policy,
            pending_window=cdk.Duration.days(30),
        )
        if allow_cloudwatch_logs:
            self._allow_cloudwatch_logs()
        if allow_cloudtrail:
            self._allow_cloudtrail()
        if allow_eventbridge:
            # EventBridge rules publish pipeline events to SNS topics encrypted with this key. No aws:SourceAccount:
            # the SNS guide says the source keys are not supported in the key policy for EventBridge-to-encrypted
            # topics, and every publish would fail; the topic's own policy carries it.
            self._allow_publishing_to_encrypted_topics(EVENTBRIDGE_SID, "events", confined=False)
            self._acknowledge_unconfined_eventbridge()
        if allow_cloudwatch_alarms:
            # Alarms publish to SNS topics encrypted with this key.
            self._allow_publishing_to_encrypted_topics("AllowCloudWatchAlarmsToPublishToEncryptedTopics", "cloudwatch")

    def _allow_cloudwatch_logs(self) -> None:
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccountAndRegion",
                principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}")],
                actions=_LOGS_ACTIONS,
                resources=["*"],
                conditions={
                    "ArnLike": {
                        # Pseudo-parameters, not the CDK's literal partition: the template
                        # reads the same in every partition and region it is deployed to.
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:*"
                        )
                    }
                },
            )
        )

    def _allow_cloudtrail(self) -> None:
        # Without these, CloudTrail refuses to create a trail that encrypts with the key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToEncryptTrailsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": (
                            f"arn:{cdk.Aws.PARTITION}:cloudtrail:*:{cdk.Aws.ACCOUNT_ID}:trail/*"
                        )
                    }
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToDescribeTheKey",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )

    def _allow_publishing_to_encrypted_topics(self, sid: str, service: str, *, confined: bool = True) -> None:
        """A service (of this account, where `confined`) publishes to SNS topics encrypted with this key."""
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(f"{service}.amazonaws.com")],
                actions=list(_PUBLISH_ACTIONS),
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}} if confined else None,
            )
        )

    def _acknowledge_unconfined_eventbridge(self) -> None:
        acknowledge(
            self.key.node.default_child,  # type: ignore[arg-type]
            f"Preflight-ServicePrincipalCondition[{EVENTBRIDGE_SID}:events.amazonaws.com]",
            reason=(
                "EventBridge cannot publish to an encrypted SNS topic when the key policy ties its grant with "
                "aws:SourceAccount, aws:SourceArn or aws:SourceOrgID: the SNS developer guide says these are not "
                "supported for EventBridge-to-encrypted topics (https://docs.aws.amazon.com/sns/latest/dg/"
                "sns-key-management.html#compatibility-with-aws-services). EventBridge may only encrypt and decrypt "
                "messages with the key, and only a topic's policy decides whose rule may publish to it."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[
                ServiceGrantsOnly(service="events.amazonaws.com", actions=_PUBLISH_ACTIONS),
                PublishConfinedToAccount(service="events.amazonaws.com"),
            ],
            controls=["AC-3", "AC-6"],
            review_by="2027-09-30",
        )


# Control Tower's CT.KMS.PR.3 hook accepts exactly this statement (Deny, Principal "*", kms:CreateGrant,
# Resource "*", only BoolIfExists with both keys "false").
GRANTS_ONLY_FOR_AWS_RESOURCES_SID = "DenyGrantsExceptForAwsResources"


def deny_grants_except_for_aws_resources(key: kms.Key) -> None:
    """Lets only AWS services create grants on `key` (AC-3, AC-6; Control Tower CT.KMS.PR.3).

    RDS, ElastiCache and AWS Backup create grants on the data key for the resources they
    encrypt, with `kms:GrantIsForAWSResource` true; no principal of ours ever needs a grant
    of its own, so a grant anyone else creates would be a way around the key policy.
    `harden_resource_policies` adds it to every key of a stage or stack, generated ones
    as ours.
    """
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=GRANTS_ONLY_FOR_AWS_RESOURCES_SID,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        )
    )
