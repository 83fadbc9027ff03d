"""S3ObjectLock on plain templates: a bucket enables S3 Object Lock, or says why not."""

from __future__ import annotations

from compliance.preflight.s3_object_lock import s3_object_lock
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def test_a_bucket_with_object_lock_passes() -> None:
    assert_passes(check(s3_object_lock, {"Bucket": resource("AWS::S3::Bucket", {"ObjectLockEnabled": True})}, "Bucket"))


def test_a_bucket_without_it_fails_with_both_ways_out() -> None:
    verdict = check(s3_object_lock, {"Bucket": resource("AWS::S3::Bucket", {"VersioningConfiguration": {}})}, "Bucket")
    assert_fails(verdict, "disabled", "s3-bucket-default-lock-enabled", "object_lock_enabled=True", "acknowledge")


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(s3_object_lock, {"Policy": resource("AWS::S3::BucketPolicy")}, "Policy"))
