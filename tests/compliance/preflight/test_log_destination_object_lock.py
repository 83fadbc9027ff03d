"""LogDestinationObjectLock on plain templates: a log destination S3 and AWS Config can deliver to."""

from __future__ import annotations

from typing import Any

from compliance.preflight.log_destination_object_lock import log_destination_object_lock
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

_LOCKED = {"ObjectLockEnabled": True, "VersioningConfiguration": {"Status": "Enabled"}}
_RETENTION = {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Days": 1}}}}


def _logged_to(destination: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "Logs": resource("AWS::S3::Bucket", destination),
        "Store": resource(
            "AWS::S3::Bucket",
            {**_LOCKED, "LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}, "LogFilePrefix": "s/"}},
        ),
    }


def _config_delivers_to(destination: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "History": resource("AWS::S3::Bucket", destination),
        "Delivery": resource("AWS::Config::DeliveryChannel", {"S3BucketName": {"Ref": "History"}}),
    }


def test_an_access_log_destination_with_object_lock_fails() -> None:
    verdict = check(log_destination_object_lock, _logged_to(_LOCKED), "Logs")
    assert_fails(verdict, "server-access-logs", "server access logs", "without Object Lock", "CT.S3.PR.9")


def test_an_access_log_destination_without_object_lock_passes() -> None:
    assert_passes(check(log_destination_object_lock, _logged_to({"VersioningConfiguration": {}}), "Logs"))


def test_a_config_delivery_bucket_with_object_lock_or_default_retention_fails() -> None:
    for destination in (_LOCKED, _RETENTION):
        verdict = check(log_destination_object_lock, _config_delivers_to(destination), "History")
        assert_fails(verdict, "config-delivery", "AWS Config does not support", "AWS::Config::DeliveryChannel")


def test_a_config_delivery_bucket_without_object_lock_passes() -> None:
    assert_passes(check(log_destination_object_lock, _config_delivers_to({}), "History"))


def test_a_locked_bucket_no_service_delivers_to_is_not_applicable() -> None:
    # The bucket that is logged (not the destination) may keep its Object Lock.
    assert_not_applicable(check(log_destination_object_lock, _logged_to({}), "Store"))
    assert_not_applicable(check(log_destination_object_lock, {"Topic": resource("AWS::SNS::Topic")}, "Topic"))
