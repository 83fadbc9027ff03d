"""S3ObjectLock: a bucket has S3 Object Lock enabled.

AWS Config's `s3-bucket-default-lock-enabled`, in the FedRAMP Moderate pack the Baseline
deploys (no retention mode given), is NON_COMPLIANT for a bucket without Object Lock. Object
Lock cannot be turned off once on and constrains what the bucket can hold (S3 server access
logging cannot deliver to a bucket with a default retention), so each bucket either enables it
or carries an acknowledgment that says why its objects are protected otherwise.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict


def s3_object_lock(resource: ResourceView, ctx: Context) -> Verdict:
    """The bucket enables Object Lock."""
    if resource.type != "AWS::S3::Bucket":
        return Verdict.not_applicable()
    if resource.properties.get("ObjectLockEnabled") is True:
        return Verdict.ok()
    return Verdict.fail(
        "disabled",
        "the bucket does not enable S3 Object Lock, so AWS Config's s3-bucket-default-lock-enabled in the account's "
        "FedRAMP Moderate pack reports it NON_COMPLIANT; enable it (object_lock_enabled=True, with a default "
        "retention where records must be write-once) or acknowledge how the bucket's objects are protected instead",
    )


RULE = PreflightRule(
    "S3ObjectLock",
    frozenset({"AWS::S3::Bucket"}),
    s3_object_lock,
    "A bucket without S3 Object Lock is NON_COMPLIANT with the account baseline's s3-bucket-default-lock-enabled.",
    ("AU-9", "SI-12"),
    shortdesc="a bucket without S3 Object Lock",
)
