"""LogGroupRetention on plain templates: a log group keeps its events at least the pack's year."""

from __future__ import annotations

from typing import Any

from compliance.preflight.log_group_retention import MINIMUM_DAYS, log_group_retention
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _group(**properties: Any) -> dict[str, dict[str, Any]]:
    return {"Logs": resource("AWS::Logs::LogGroup", properties)}


def test_a_year_or_more_or_never_expiring_passes() -> None:
    assert_passes(check(log_group_retention, _group(RetentionInDays=MINIMUM_DAYS), "Logs"))
    assert_passes(check(log_group_retention, _group(RetentionInDays=1827), "Logs"))
    assert_passes(check(log_group_retention, _group(), "Logs"))


def test_a_shorter_retention_fails_with_its_days_in_the_finding() -> None:
    verdict = check(log_group_retention, _group(RetentionInDays=90), "Logs")
    assert_fails(verdict, "90-days", "keeps its events 90 days", "cw-loggroup-retention-period-check", "365 days")


def test_a_retention_synth_cannot_read_fails() -> None:
    verdict = check(log_group_retention, _group(RetentionInDays={"Ref": "Days"}), "Logs")
    assert_fails(verdict, "unresolved", "write the number of days")


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(log_group_retention, {"Bucket": resource("AWS::S3::Bucket")}, "Bucket"))
