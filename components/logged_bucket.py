"""A CMK-encrypted bucket whose every access is logged to a companion bucket."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import (
    AccessLogged,
    Check,
    EncryptedAtRest,
    EncryptedWithCmk,
    KeptAtLeast,
    NotPublic,
    RetainedOnDelete,
    TlsOnly,
    Versioned,
)

# Parts of a failed multipart upload are stored, billed and invisible; every bucket drops them after a week.
_ABORT_INCOMPLETE_UPLOADS = s3.LifecycleRule(
    id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(7)
)


# How long an access-log bucket keeps its records unless the caller asks for longer (more than a year).
DEFAULT_ACCESS_LOG_RETENTION_DAYS = 400


class LoggedBucket(Construct):
    """A private, TLS-only, versioned bucket encrypted with a CMK, with S3 server access logs (AU-2, AU-9, SC-28(1)).

    Both buckets hold evidence (audit records, the pipeline's artifacts and reports),
    so both are retained when their stack is deleted, in every environment (AU-9,
    AU-11); only the first create's rollback removes them, so a retry does not find
    them in the way. The access-log bucket uses S3-managed keys: server access logging
    cannot deliver to a KMS-encrypted bucket. Neither bucket replicates to a second
    region; the caller says why that is acceptable for what it stores
    (`replication_reason`). The encryption key must be retained too, or the records it
    encrypts become unreadable. Object Lock is on for the main bucket (AU-9; Control Tower's
    CT.S3.PR.9 and Config's s3-bucket-default-lock-enabled ask for it), unless the service
    that writes to it refuses a locked bucket (`unlocked_reason`); `object_lock_retention_days`
    gives it a governance-mode default retention. The access-log bucket has no Object Lock:
    S3 refuses a bucket with Object Lock as a destination of server access logs (S3 User
    Guide, "Object Lock considerations"), so it keeps every version, current and noncurrent,
    for `access_log_retention_days` instead. Object-level events go to EventBridge.
    `bucket_name` only where another region's stack must name the bucket
    (`cdk.PhysicalName.GENERATE_IF_NEEDED`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        replication_reason: str,
        log_prefix: str,
        lifecycle_rules: list[s3.LifecycleRule] | None = None,
        access_log_retention_days: int = DEFAULT_ACCESS_LOG_RETENTION_DAYS,
        object_lock_retention_days: int | None = None,
        unlocked_reason: str | None = None,
        bucket_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = self._access_log_bucket(access_log_retention_days)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            # Object Lock can only be switched on, never off; on without a default retention it locks nothing
            # until a retention is set, and it is what Control Tower's CT.S3.PR.9 asks of every bucket.
            object_lock_enabled=True if unlocked_reason is None else None,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=[*(lifecycle_rules or []), _ABORT_INCOMPLETE_UPLOADS],
            object_lock_default_retention=(
                s3.ObjectLockRetention.governance(cdk.Duration.days(object_lock_retention_days))
                if object_lock_retention_days
                else None
            ),
            **_private(),
        )
        for bucket in (self.bucket, self.access_logs):
            # Object-level events (a deleted audit record, say) reach EventBridge, where rules can alert on them;
            # the property, not the CDK's notifications custom resource, so no function is added.
            bucket.node.default_child.add_property_override(  # type: ignore[union-attr]
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        self._acknowledge_access_log_bucket(access_log_retention_days)
        self._acknowledge(replication_reason, access_log_retention_days)
        if unlocked_reason is not None:
            _acknowledge_unlocked(
                self.bucket, unlocked_reason, [Versioned(), RetainedOnDelete(), TlsOnly(), NotPublic(), AccessLogged()]
            )

    def _access_log_bucket(self, retention_days: int) -> s3.Bucket:
        """S3-managed keys and no Object Lock: a bucket S3 server access logging can deliver to."""
        kept = cdk.Duration.days(retention_days)
        return s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            # A replaced or deleted record stays as long as a current one, then goes too.
            lifecycle_rules=[s3.LifecycleRule(expiration=kept, noncurrent_version_expiration=kept)],
            **_private(),
        )

    def _acknowledge(self, replication_reason: str, access_log_retention_days: int) -> None:
        acknowledge(
            self.bucket.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            reason=replication_reason,
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[Versioned(), RetainedOnDelete(), TlsOnly(), EncryptedWithCmk(), AccessLogged(), NotPublic()],
            controls=["CP-9", "CP-6"],
            review_by="2027-09-30",
        )
        acknowledge(
            self.access_logs.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            reason=(
                "Access records stay in the region of the bucket they describe; copying them to a second region "
                "is the organisation's log-archive decision, made outside this app."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[Versioned(), RetainedOnDelete(), TlsOnly(), NotPublic(), KeptAtLeast(access_log_retention_days)],
            controls=["AU-9", "CP-9"],
            review_by="2027-09-30",
        )
        acknowledge(
            self.access_logs.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            reason=(
                "S3 server access logging can deliver only to buckets encrypted with S3-managed keys (SSE-S3); "
                "the bucket holds only access-log records."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[EncryptedAtRest(), TlsOnly(), NotPublic(), Versioned()],
            controls=["SC-28(1)", "AU-9"],
            review_by="2027-09-30",
        )

    def _acknowledge_access_log_bucket(self, access_log_retention_days: int) -> None:
        _acknowledge_unlocked(
            self.access_logs,
            "S3 refuses a bucket with Object Lock as the destination of server access logs (S3 User Guide, Object "
            "Lock considerations: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html); "
            "this bucket receives only its companion bucket's access records, which only S3's logging service writes.",
            [Versioned(), RetainedOnDelete(), TlsOnly(), NotPublic(), KeptAtLeast(access_log_retention_days)],
        )
        acknowledge(
            self.access_logs.node.default_child,  # type: ignore[arg-type]
            "ControlTower::CT.S3.PR.2",
            reason=(
                "This bucket receives the server access logs of its companion bucket; logging it in turn would need "
                "another log bucket without end, and only the S3 logging service writes to it."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[NotPublic(), TlsOnly(), Versioned(), RetainedOnDelete()],
            controls=["AU-2", "AU-9"],
            review_by="2027-09-30",
        )
        acknowledge(
            self.access_logs.node.default_child,  # type: ignore[arg-type]
            "ControlTower::CT.S3.PR.10",
            reason=(
                "S3 server access logging can deliver only to buckets encrypted with S3-managed keys (SSE-S3); "
                "the bucket holds only access-log records."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[EncryptedAtRest(), TlsOnly(), NotPublic(), Versioned()],
            controls=["SC-28(1)", "AU-9"],
            review_by="2027-09-30",
        )


def _private() -> dict[str, Any]:
    """What both buckets share: TLS only, versioned, private, owned by the bucket owner, retained."""
    return {
        "enforce_ssl": True,
        "versioned": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "removal_policy": cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    }


def _acknowledge_unlocked(bucket: s3.Bucket, reason: str, checks: list[Check]) -> None:
    """Acknowledge CT.S3.PR.9 and its Config twin (s3-bucket-default-lock-enabled) on a bucket without Object Lock."""
    for finding in ("ControlTower::CT.S3.PR.9", "Preflight-S3ObjectLock[disabled]"):
        acknowledge(
            bucket.node.default_child,  # type: ignore[arg-type]
            finding,
            reason=reason,
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=checks,
            controls=["AU-9", "AU-11"],
            review_by="2027-09-30",
        )
