"""Claims about where data is kept.

S3 buckets, log groups, streams, databases and caches, and their encryption, retention and backups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from compliance.assembly import ResourceView
from compliance.claims.engine import (
    BUCKET,
    CACHE,
    DATABASE,
    KEY,
    LOAD_BALANCER,
    LOG_GROUP,
    SECRET,
    STAGE,
    STREAM,
    TOPIC,
    Check,
    as_list,
    is_true,
    statements,
)
from compliance.references import TemplateIndex, intrinsics, render


@dataclass(frozen=True)
class Versioned(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET,)
    shortdesc: ClassVar[str] = "versioning enabled"
    controls: ClassVar[tuple[str, ...]] = ("CP-9", "CP-10")

    @property
    def predicate(self) -> str:
        return "is versioned"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        status = resource.properties.get("VersioningConfiguration", {}).get("Status", "absent")
        return status == "Enabled", f"VersioningConfiguration.Status is {status}"


@dataclass(frozen=True)
class RetainedOnDelete(Check):
    """DeletionPolicy Retain, or RetainExceptOnCreate (kept unless the stack's very first create rolls back)."""

    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, KEY, LOG_GROUP, STREAM, SECRET, "AWS::CodeBuild::ReportGroup")
    shortdesc: ClassVar[str] = "DeletionPolicy Retain or RetainExceptOnCreate"
    controls: ClassVar[tuple[str, ...]] = ("CP-9", "SI-12")

    @property
    def predicate(self) -> str:
        return "is retained when its stack is deleted"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        policy = resource.deletion_policy
        return policy in ("Retain", "RetainExceptOnCreate"), f"DeletionPolicy is {policy}"


@dataclass(frozen=True)
class TlsOnly(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, TOPIC, CACHE, DATABASE)
    shortdesc: ClassVar[str] = (
        "the resource's own policy denies `aws:SecureTransport: false` (or TLS is required by the cache or "
        "the database's parameter group)"
    )
    controls: ClassVar[tuple[str, ...]] = ("SC-8", "SC-8(1)")

    @property
    def predicate(self) -> str:
        return "refuses connections without TLS"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        if resource.type == CACHE:
            enabled, mode = (
                is_true(props.get("TransitEncryptionEnabled")),
                props.get("TransitEncryptionMode", "required"),
            )
            return enabled and mode == "required", f"TransitEncryptionEnabled {enabled}, mode {mode}"
        if resource.type == DATABASE:
            group = index.resolve(resource.stack, props.get("DBParameterGroupName"))
            value = group.properties.get("Parameters", {}).get("rds.force_ssl") if group is not None else None
            return str(value) == "1", f"rds.force_ssl is {value}"
        policy_type, key = (
            ("AWS::S3::BucketPolicy", "Bucket") if resource.type == BUCKET else ("AWS::SNS::TopicPolicy", "Topics")
        )
        for policy in index.referrers(resource, policy_type):
            # The policy must be this resource's own, not one that merely names it in a condition.
            governed = [index.resolve(policy.stack, v) for v in as_list(policy.properties.get(key))]
            if not any(g is not None and g.path == resource.path for g in governed):
                continue
            for statement in statements(policy.properties.get("PolicyDocument")):
                condition = statement.get("Condition", {}).get("Bool", {})
                if statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false":
                    return True, f"{policy.path} denies requests where aws:SecureTransport is false"
        return False, "no resource policy denies requests without TLS (aws:SecureTransport false)"


_KEY_PROPERTY = {
    STREAM: ("StreamEncryption", "KeyId"),
    LOG_GROUP: ("KmsKeyId",),
    TOPIC: ("KmsMasterKeyId",),
    CACHE: ("KmsKeyId",),
    DATABASE: ("KmsKeyId",),
    SECRET: ("KmsKeyId",),
}


def _key_reference(resource: ResourceView) -> Any:
    if resource.type == BUCKET:
        rules = resource.properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        for rule in as_list(rules):
            default = rule.get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                return default.get("KMSMasterKeyID")
        return None
    value: Any = resource.properties
    for part in _KEY_PROPERTY.get(resource.type, ("KmsKeyId",)):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass(frozen=True)
class EncryptedWithCmk(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, STREAM, LOG_GROUP, TOPIC, CACHE, DATABASE, SECRET)
    shortdesc: ClassVar[str] = "the key is a KMS key of this app"
    controls: ClassVar[tuple[str, ...]] = ("SC-12", "SC-28")

    @property
    def predicate(self) -> str:
        return "is encrypted with a customer-managed KMS key of this app"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        reference = _key_reference(resource)
        key = None
        # The key itself, or an ARN built around a reference to it or to its alias (an alias names its key).
        for target in (index.resolve(resource.stack, v) for v in intrinsics(reference)):
            if target is not None and target.type == "AWS::KMS::Alias":
                target = index.resolve(target.stack, target.properties.get("TargetKeyId"))
            if target is not None and target.type == KEY:
                key = target
                break
        if key is None:
            return False, f"encryption key is {render(reference) if reference is not None else 'absent'}"
        return True, f"encrypted with {key.path}"


@dataclass(frozen=True)
class EncryptedAtRest(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET,)
    shortdesc: ClassVar[str] = "default encryption on"
    controls: ClassVar[tuple[str, ...]] = ("SC-28",)

    @property
    def predicate(self) -> str:
        return "encrypts every object at rest by default"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        rules = resource.properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        algorithms = [r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in as_list(rules)]
        found = [a for a in algorithms if a]
        return bool(found), f"default encryption {', '.join(found) or 'absent'}"


@dataclass(frozen=True)
class AccessLogged(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, STAGE)
    shortdesc: ClassVar[str] = "S3 server access logs or API access logs"
    controls: ClassVar[tuple[str, ...]] = ("AU-2", "AU-12")

    @property
    def predicate(self) -> str:
        return "logs every access"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        if resource.type == STAGE:
            destination = resource.properties.get("AccessLogSetting", {}).get("DestinationArn")
            target = index.resolve(resource.stack, destination) if destination is not None else None
            where = target.path if target is not None else render(destination) if destination else ""
            return bool(destination), f"access logs to {where}" if destination else "no AccessLogSetting"
        destination = resource.properties.get("LoggingConfiguration", {}).get("DestinationBucketName")
        target = index.resolve(resource.stack, destination) if destination is not None else None
        if destination is None:
            return False, "no LoggingConfiguration"
        return True, f"server access logs to {target.path if target is not None else render(destination)}"


@dataclass(frozen=True)
class NotPublic(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, DATABASE, LOAD_BALANCER)
    shortdesc: ClassVar[str] = "public access blocked, internal scheme, not publicly accessible"
    controls: ClassVar[tuple[str, ...]] = ("AC-3", "AC-4", "SC-7")

    @property
    def predicate(self) -> str:
        return "is not reachable from the internet"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        if resource.type == DATABASE:
            public = is_true(props.get("PubliclyAccessible"))
            return not public, f"PubliclyAccessible is {public}"
        if resource.type == LOAD_BALANCER:
            scheme = props.get("Scheme", "internet-facing")
            return scheme == "internal", f"Scheme is {scheme}"
        block = props.get("PublicAccessBlockConfiguration", {})
        settings = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        missing = [s for s in settings if not is_true(block.get(s))]
        return (
            not missing,
            f"public access block missing {', '.join(missing)}" if missing else "all public access blocked",
        )


@dataclass(frozen=True)
class KeptAtLeast(Check):
    """Records are kept at least `days` days: log retention, or the bucket's earliest expiration."""

    days: int = 365
    subject_types: ClassVar[tuple[str, ...]] = (LOG_GROUP, BUCKET)
    shortdesc: ClassVar[str] = "log retention or object expiry of at least `days`"
    controls: ClassVar[tuple[str, ...]] = ("AU-11", "SI-12")

    @property
    def predicate(self) -> str:
        return f"keeps its records at least {self.days} days"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        if resource.type == LOG_GROUP:
            retention = props.get("RetentionInDays")
            if retention is None:
                return True, "RetentionInDays absent (kept indefinitely)"
            return int(retention) >= self.days, f"RetentionInDays is {retention}"
        rules = as_list(props.get("LifecycleConfiguration", {}).get("Rules"))
        expirations = [
            int(r["ExpirationInDays"]) for r in rules if r.get("Status") != "Disabled" and "ExpirationInDays" in r
        ]
        if not expirations:
            return True, "no expiration rule (kept indefinitely)"
        return min(expirations) >= self.days, f"objects expire after {min(expirations)} days"


@dataclass(frozen=True)
class BackedUp(Check):
    subject_types: ClassVar[tuple[str, ...]] = (DATABASE, CACHE, "AWS::DynamoDB::Table", "AWS::EFS::FileSystem")
    shortdesc: ClassVar[str] = "an AWS Backup plan selects it"
    controls: ClassVar[tuple[str, ...]] = ("CP-9",)

    @property
    def predicate(self) -> str:
        return "has recovery points: an AWS Backup plan selects it, or it keeps automatic daily snapshots"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        if resource.type == CACHE:
            days = int(resource.properties.get("SnapshotRetentionLimit", 0) or 0)
            return days > 0, f"SnapshotRetentionLimit is {days}"
        for selection in index.referrers(resource, "AWS::Backup::BackupSelection"):
            plan = index.resolve(selection.stack, selection.properties.get("BackupPlanId"))
            rules = as_list(plan.properties.get("BackupPlan", {}).get("BackupPlanRule")) if plan is not None else []
            if rules:
                names = ", ".join(str(r.get("RuleName")) for r in rules)
                return True, f"{selection.path} in {plan.path if plan else '?'} (rules: {names})"
        return False, "no AWS Backup selection names it"
