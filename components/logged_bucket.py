"""A CMK-encrypted bucket whose every access is logged to a companion bucket."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from compliance import acknowledge
from compliance.checks import (
    AccessLogged,
    EncryptedAtRest,
    EncryptedWithCmk,
    KeptAtLeast,
    NotPublic,
    RetainedOnDelete,
    TlsOnly,
    Versioned,
)


class LoggedBucket(Construct):
    """A private, TLS-only, versioned bucket encrypted with a CMK, with S3 server access logs (AU-2, AU-9, SC-28(1)).

    Both buckets hold evidence (audit records, the pipeline's artifacts and reports),
    so both are retained when their stack is deleted, in every environment (AU-9,
    AU-11); only the first create's rollback removes them, so a retry does not find
    them in the way. The access-log bucket uses S3-managed keys: server access logging
    cannot deliver to a KMS-encrypted bucket. Neither bucket replicates to a second
    region; the caller says why that is acceptable for what it stores
    (`replication_reason`). Neither enables S3 Object Lock, which AWS Config's
    s3-bucket-default-lock-enabled in the account baseline asks for: each says why (the
    compliance report lists what that leaves NON_COMPLIANT). The encryption key must be
    retained too, or the records it encrypts become unreadable. `bucket_name` only where
    another region's stack must name the bucket (`cdk.PhysicalName.GENERATE_IF_NEEDED`).
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
        access_log_retention_days: int = 400,
        bucket_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        private: dict[str, Any] = {
            "enforce_ssl": True,
            "versioned": True,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "removal_policy": cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        }
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(access_log_retention_days))],
            **private,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=lifecycle_rules,
            **private,
        )
        acknowledge(
            self.bucket.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            reason=replication_reason,
            checks=[Versioned(), RetainedOnDelete(), TlsOnly(), EncryptedWithCmk(), AccessLogged(), NotPublic()],
            controls=["CP-9", "CP-6"],
        )
        acknowledge(
            self.access_logs.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            reason=(
                "Access records stay in the region of the bucket they describe; copying them to a second region "
                "is the organisation's log-archive decision, made outside this app."
            ),
            checks=[Versioned(), RetainedOnDelete(), TlsOnly(), NotPublic(), KeptAtLeast(access_log_retention_days)],
            controls=["AU-9", "CP-9"],
        )
        acknowledge(
            self.bucket.node.default_child,  # type: ignore[arg-type]
            "Preflight-S3ObjectLock[disabled]",
            reason=(
                "S3 Object Lock cannot be turned off once enabled and keeps locked versions past any lifecycle; "
                "whether these records must be write-once is the organisation's records decision, made outside this "
                "app. Until then no overwrite or delete loses an object: every earlier version stays recoverable."
            ),
            checks=[Versioned(), RetainedOnDelete(), TlsOnly(), EncryptedWithCmk(), AccessLogged(), NotPublic()],
            controls=["AU-9", "CP-9"],
        )
        acknowledge(
            self.access_logs.node.default_child,  # type: ignore[arg-type]
            "Preflight-S3ObjectLock[disabled]",
            reason=(
                "S3 server access logging cannot deliver to a bucket with an Object Lock default retention, the "
                "form that would make each record write-once; the bucket holds only access-log records, and every "
                "overwritten or deleted one stays recoverable as an earlier version."
            ),
            checks=[Versioned(), RetainedOnDelete(), TlsOnly(), NotPublic(), KeptAtLeast(access_log_retention_days)],
            controls=["AU-9"],
        )
        acknowledge(
            self.access_logs.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            reason=(
                "S3 server access logging can deliver only to buckets encrypted with S3-managed keys (SSE-S3); "
                "the bucket holds only access-log records."
            ),
            checks=[EncryptedAtRest(), TlsOnly(), NotPublic(), Versioned()],
            controls=["SC-28(1)", "AU-9"],
        )
