"""A CloudWatch Logs group that is encrypted, retained and named by CloudFormation."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import KEY, EncryptedWithCmk, KeptAtLeast, ResolvedAtDeploy
from compliance.preflight.log_group_retention import MINIMUM_DAYS
from compliance.preflight.log_retention_fedramp import M_21_31_DAYS, SHORTEST_PERIOD_DAYS
from config.schema import LOG_RETENTION_DAYS


class EncryptedLogGroup(Construct):
    """A log group encrypted with a CMK and kept for the environment's retention (AU-9, AU-11, SC-28).

    The key must allow CloudWatch Logs (see `EncryptionKey(allow_cloudwatch_logs=True)`).
    `log_group_name` is only for the few services that demand a fixed name (RDS log
    exports, WAF logging); callers derive it from the stage so deployments never collide.
    A retention shorter than FedRAMP's AU-11 value (OMB M-21-31, 913 days) or the account
    baseline's year is acknowledged here, in the environments the configuration lets keep logs
    shorter (those that do not protect their data).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        retention_days: int,
        removal_policy: cdk.RemovalPolicy,
        log_group_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            encryption_key=encryption_key,
            retention=_retention(retention_days),
            removal_policy=removal_policy,
            log_group_name=log_group_name,
        )
        own_key = isinstance(encryption_key, kms.Key) and cdk.Stack.of(encryption_key) is cdk.Stack.of(self)
        if not own_key and cdk.Token.is_unresolved(encryption_key.key_arn):
            # A key of another stack (or referenced by its ARN from one): see the acknowledgment's reason.
            acknowledge(
                self.log_group.node.default_child,  # type: ignore[arg-type]
                "ControlTower::CT.CLOUDWATCH.PR.3",
                reason=(
                    "The log group is encrypted with a customer-managed key of another stack of its stage; the "
                    "synth-time rule reads only keys of the same template, while the Control Tower hook sees the "
                    "key's ARN, which CloudFormation resolves from the cross-stack reference before the hook runs."
                ),
                kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
                checks=[ResolvedAtDeploy(prop="KmsKeyId", to=KEY), EncryptedWithCmk()],
                controls=["AU-9", "SC-28(1)"],
                review_by="2027-11-30",
            )
        self._acknowledge_retention(retention_days)

    def _acknowledge_retention(self, retention_days: int) -> None:
        """A retention shorter than AWS Config's year or FedRAMP's AU-11 value: what the configuration allows."""
        for minimum_days, findings, asked_by, may in _RETENTION_ASKED:
            if retention_days >= minimum_days:
                continue
            for finding in findings:
                acknowledge(
                    self.log_group.node.default_child,  # type: ignore[arg-type]
                    finding.format(days=retention_days),
                    reason=(
                        f"This environment's configuration keeps its logs {retention_days} days (log_retention_days), "
                        f"less than the {minimum_days} days {asked_by}; {may}, because the configuration check "
                        f"refuses one that does and keeps its logs less than {SHORTEST_PERIOD_DAYS} days."
                    ),
                    kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
                    checks=[KeptAtLeast(retention_days), EncryptedWithCmk()],
                    controls=["AU-11"],
                    review_by="2027-06-30",
                )


# What asks for a longer retention than an environment without protect_data may keep: (its minimum in days, the
# findings it raises, who asks, who may keep less).
_RETENTION_ASKED = (
    (
        MINIMUM_DAYS,
        ("Preflight-LogGroupRetention[{days}-days]", "ControlTower::CT.CLOUDWATCH.PR.2"),
        "AWS Config's cw-loggroup-retention-period-check and Control Tower's CT.CLOUDWATCH.PR.2 ask for",
        "only an environment that does not protect its data may",
    ),
    (
        M_21_31_DAYS,
        ("Preflight-LogRetentionFedRAMP[{days}-days]",),
        "(12 months active and 18 months cold storage) FedRAMP's AU-11 asks for through OMB M-21-31",
        "only an environment that does not protect its data (protect_data: false) may",
    ),
)


def _retention(days: int) -> logs.RetentionDays:
    # jsii exposes the enum by name; CloudWatch's periods and the CDK's finite members share one order.
    finite = [m for m in logs.RetentionDays if m is not logs.RetentionDays.INFINITE]
    by_days = dict(zip(sorted(LOG_RETENTION_DAYS), finite, strict=True))
    return by_days[days]
