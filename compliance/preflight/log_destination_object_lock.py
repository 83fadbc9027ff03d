"""LogDestinationObjectLock: a bucket that a service delivers logs to does not have S3 Object Lock that refuses it.

Two services write to a bucket of ours on their own schedule and refuse one with Object Lock, so the
delivery fails at deploy or silently afterwards:

- S3 server access logging: "S3 buckets with Object Lock can't be used as destination buckets for
  server access logs" (S3 User Guide, Object Lock considerations,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html). The rule reads the
  bucket named by another bucket's `LoggingConfiguration.DestinationBucketName`.
- AWS Config's delivery channel: "AWS Config does not support the delivery channel to an Amazon S3
  bucket where object lock is enabled" (CloudFormation reference, AWS::Config::DeliveryChannel,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-config-deliverychannel.html;
  the AWS Config developer guide, "Managing the delivery channel", names Object Lock with default
  retention). The rule reads the bucket named by a channel's `S3BucketName`.

Either one fails on `ObjectLockEnabled` or an `ObjectLockConfiguration` (a default retention). A bucket
named only by a literal name, or outside the app, is not followed.
"""

from __future__ import annotations

from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import TemplateIndex

BUCKET = "AWS::S3::Bucket"
# Who writes to a bucket, the property of theirs that names it, and the finding.
_WRITERS = (
    (BUCKET, ("LoggingConfiguration", "DestinationBucketName"), "server-access-logs"),
    ("AWS::Config::DeliveryChannel", ("S3BucketName",), "config-delivery"),
)
_WHY = {
    "server-access-logs": "S3 can't use a bucket with Object Lock as a destination for server access logs "
    "(S3 User Guide, Object Lock considerations)",
    "config-delivery": "AWS Config does not support a delivery channel to a bucket with Object Lock "
    "(CloudFormation reference, AWS::Config::DeliveryChannel)",
}


def log_destination_object_lock(resource: ResourceView, ctx: Context) -> Verdict:
    """A bucket that receives server access logs or Config deliveries has neither Object Lock nor default retention."""
    if resource.type != BUCKET:
        return Verdict.not_applicable()
    writers = _writers(resource, ctx.index)
    if not writers:
        return Verdict.not_applicable()
    props = resource.properties
    if props.get("ObjectLockEnabled") not in (True, "true") and not props.get("ObjectLockConfiguration"):
        return Verdict.ok()
    finding, writer = writers[0]
    return Verdict.fail(
        finding,
        f"{writer} delivers to this bucket, but {_WHY[finding]}; give the delivery a bucket without Object Lock "
        "(and acknowledge Control Tower's CT.S3.PR.9 there, with the checks that protect it instead)",
    )


def _writers(resource: ResourceView, index: TemplateIndex) -> list[tuple[str, str]]:
    """(finding, path) of each resource that delivers logs to `resource`."""
    found = []
    for writer_type, prop, finding in _WRITERS:
        for writer in index.referrers(resource, writer_type):
            value: Any = writer.properties
            for part in prop:
                value = value.get(part) if isinstance(value, dict) else None
            target = index.resolve(writer.stack, value)
            if target is not None and target.path == resource.path:
                found.append((finding, writer.path))
    return found


RULE = PreflightRule(
    "LogDestinationObjectLock",
    frozenset({BUCKET}),
    log_destination_object_lock,
    "A bucket with S3 Object Lock that receives S3 server access logs or AWS Config deliveries: S3 refuses it as a "
    "log destination (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html) and AWS "
    "Config does not support it (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
    "aws-resource-config-deliverychannel.html).",
    ("AU-9", "AU-12"),
    shortdesc=(
        "a bucket with S3 Object Lock (or a default retention) that receives S3 server access logs or AWS Config's "
        "deliveries, which S3 refuses and AWS Config does not support"
    ),
    source_url="https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html",
)
