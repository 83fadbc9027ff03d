"""LoggedBucket: the access-log bucket is one S3 server access logging can deliver to, and keeps what it holds."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from app import cdk_context
from compliance import acknowledgments_in
from components import LoggedBucket

RETENTION_DAYS = 400


def _template(**kwargs: Any) -> tuple[Template, LoggedBucket]:
    stack = cdk.Stack(cdk.App(context=cdk_context()), "Stack")
    bucket = LoggedBucket(
        stack,
        "Store",
        encryption_key=kms.Key(stack, "Key"),
        replication_reason="The records are rebuilt from the source commit on every run of the pipeline.",
        log_prefix="store/",
        access_log_retention_days=RETENTION_DAYS,
        **kwargs,
    )
    return Template.from_stack(stack), bucket


@pytest.fixture(scope="module")
def store() -> tuple[Template, LoggedBucket]:
    return _template()


def _bucket(template: Template, store: LoggedBucket, name: str) -> dict[str, Any]:
    construct = store.access_logs if name == "access_logs" else store.bucket
    logical_id = cdk.Stack.of(store).resolve(construct.node.default_child.logical_id)  # type: ignore[union-attr]
    found: dict[str, Any] = template.to_json()["Resources"][logical_id]
    return found


def test_access_logs_go_to_a_bucket_without_object_lock(store: tuple[Template, LoggedBucket]) -> None:
    # S3 refuses a bucket with Object Lock as a server access log destination.
    template, bucket = store
    access_logs = _bucket(template, bucket, "access_logs")["Properties"]
    assert "ObjectLockEnabled" not in access_logs
    assert "ObjectLockConfiguration" not in access_logs
    assert _bucket(template, bucket, "bucket")["Properties"]["ObjectLockEnabled"] is True


def test_access_log_records_expire_current_and_noncurrent_alike(store: tuple[Template, LoggedBucket]) -> None:
    template, bucket = store
    rules = _bucket(template, bucket, "access_logs")["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = rules
    assert rule["ExpirationInDays"] == RETENTION_DAYS
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == RETENTION_DAYS


def test_the_unlocked_access_log_bucket_is_acknowledged_with_its_checks(store: tuple[Template, LoggedBucket]) -> None:
    _, bucket = store
    path = bucket.access_logs.node.default_child.node.path  # type: ignore[union-attr]
    found = {a.finding: a for a in acknowledgments_in(bucket) if a.path == path}
    for finding in ("ControlTower::CT.S3.PR.9", "Preflight-S3ObjectLock[disabled]"):
        assert "object-lock-managing" in found[finding].reason
        assert {c.name for c in found[finding].checks} >= {"Versioned", "RetainedOnDelete", "TlsOnly", "NotPublic"}


def test_a_bucket_a_service_refuses_locked_goes_without_object_lock_and_says_why() -> None:
    template, bucket = _template(unlocked_reason="AWS Config refuses to deliver to a bucket with Object Lock enabled.")
    assert "ObjectLockEnabled" not in _bucket(template, bucket, "bucket")["Properties"]
    path = bucket.bucket.node.default_child.node.path  # type: ignore[union-attr]
    findings = {a.finding for a in acknowledgments_in(bucket) if a.path == path}
    assert {"ControlTower::CT.S3.PR.9", "Preflight-S3ObjectLock[disabled]"} <= findings
