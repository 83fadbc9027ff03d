"""TrailS3DataEvents on plain templates: a baseline trail logs S3 data events of every bucket."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.preflight.trail_s3_data_events import trail_s3_data_events
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

_MANAGEMENT = {"IncludeManagementEvents": True, "ReadWriteType": "All"}
_EVERY_BUCKET = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::"]]}


def _trail(**properties: Any) -> dict[str, dict[str, Any]]:
    return {"Trail": resource("AWS::CloudTrail::Trail", {"IsLogging": True, "IsMultiRegionTrail": True, **properties})}


@pytest.mark.parametrize("value", ["arn:aws:s3", "arn:aws-us-gov:s3:::", _EVERY_BUCKET])
def test_a_selector_for_every_bucket_passes(value: Any) -> None:
    data = {"DataResources": [{"Type": "AWS::S3::Object", "Values": [value]}], "ReadWriteType": "All"}
    assert_passes(check(trail_s3_data_events, _trail(EventSelectors=[_MANAGEMENT, data]), "Trail"))


def test_an_advanced_selector_for_every_object_passes() -> None:
    selector = {
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        ]
    }
    assert_passes(check(trail_s3_data_events, _trail(AdvancedEventSelectors=[selector]), "Trail"))


def test_management_events_only_fail_with_what_to_call() -> None:
    verdict = check(trail_s3_data_events, _trail(EventSelectors=[_MANAGEMENT]), "Trail")
    assert_fails(verdict, "no-s3-data-events", "cloudtrail-s3-dataevents-enabled", "trail.log_all_s3_data_events()")


@pytest.mark.parametrize(
    "data",
    [
        {"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::one-bucket/"]}]},
        {"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}], "ReadWriteType": "WriteOnly"},
        {"DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}]},
    ],
)
def test_one_bucket_writes_only_or_other_data_do_not_count(data: dict[str, Any]) -> None:
    assert_fails(check(trail_s3_data_events, _trail(EventSelectors=[_MANAGEMENT, data]), "Trail"), "no-s3-data-events")


def test_an_advanced_selector_narrowed_to_some_buckets_does_not_count() -> None:
    selector = {
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::one-bucket/"]},
        ]
    }
    assert_fails(check(trail_s3_data_events, _trail(AdvancedEventSelectors=[selector]), "Trail"), "no-s3-data-events")


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(trail_s3_data_events, {"Bucket": resource("AWS::S3::Bucket")}, "Bucket"))
