"""MultiRegionTrail on plain templates: a baseline trail records every region's management events."""

from __future__ import annotations

from typing import Any

from compliance.preflight.multi_region_trail import multi_region_trail
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _trail(**properties: Any) -> dict[str, dict[str, Any]]:
    return {"Trail": resource("AWS::CloudTrail::Trail", {"IsLogging": True, **properties})}


def test_a_multi_region_trail_of_all_management_events_passes() -> None:
    selectors = [{"IncludeManagementEvents": True, "ReadWriteType": "All"}]
    assert_passes(check(multi_region_trail, _trail(IsMultiRegionTrail=True, EventSelectors=selectors), "Trail"))
    assert_passes(check(multi_region_trail, _trail(IsMultiRegionTrail=True), "Trail"))


def test_a_single_region_trail_fails_with_what_to_set() -> None:
    verdict = check(multi_region_trail, _trail(IsMultiRegionTrail=False), "Trail")
    assert_fails(verdict, "single-region", "IsMultiRegionTrail is not true", "is_multi_region_trail=True")


def test_write_only_or_excluded_management_events_fail() -> None:
    for selector in (
        {"IncludeManagementEvents": True, "ReadWriteType": "WriteOnly"},
        {"IncludeManagementEvents": True, "ReadWriteType": "All", "ExcludeManagementEventSources": ["kms"]},
        {"IncludeManagementEvents": False, "ReadWriteType": "All"},
    ):
        verdict = check(multi_region_trail, _trail(IsMultiRegionTrail=True, EventSelectors=[selector]), "Trail")
        assert_fails(verdict, "management-events", "management_events=ReadWriteType.ALL")


def test_a_trail_that_is_not_logging_fails() -> None:
    verdict = check(multi_region_trail, _trail(IsMultiRegionTrail=True, IsLogging=False), "Trail")
    assert_fails(verdict, "management-events", "IsLogging is false")


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(multi_region_trail, {"Bucket": resource("AWS::S3::Bucket")}, "Bucket"))
