"""LogRetentionFedRAMP on plain templates: a log group keeps its events as long as FedRAMP's AU-11 asks."""

from __future__ import annotations

import math
from typing import Any

from compliance.preflight.log_retention_fedramp import M_21_31_DAYS, SHORTEST_PERIOD_DAYS, log_retention_fedramp
from config.schema import LOG_RETENTION_DAYS, M_21_31_LOG_RETENTION_DAYS
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _group(**properties: Any) -> dict[str, dict[str, Any]]:
    return {"Logs": resource("AWS::Logs::LogGroup", properties)}


def test_thirty_months_is_twelve_active_and_eighteen_cold_and_cloudwatch_s_next_period_holds_it() -> None:
    assert math.ceil(30 * 365 / 12) == M_21_31_DAYS  # 912.5: a day short is not 30 months
    assert min(d for d in LOG_RETENTION_DAYS if d >= M_21_31_DAYS) == SHORTEST_PERIOD_DAYS
    # What the configuration asks of an environment that protects its data is what this rule passes.
    assert M_21_31_LOG_RETENTION_DAYS == M_21_31_DAYS


def test_thirty_months_or_more_or_never_expiring_passes() -> None:
    assert_passes(check(log_retention_fedramp, _group(RetentionInDays=SHORTEST_PERIOD_DAYS), "Logs"))
    assert_passes(check(log_retention_fedramp, _group(RetentionInDays=1827), "Logs"))
    assert_passes(check(log_retention_fedramp, _group(), "Logs"))


def test_aws_config_s_year_is_not_fedramp_s_retention() -> None:
    verdict = check(log_retention_fedramp, _group(RetentionInDays=731), "Logs")
    assert_fails(verdict, "731-days", "keeps its events 731 days", "913 days", "M-21-31", "1096 days")
    assert_fails(check(log_retention_fedramp, _group(RetentionInDays=365), "Logs"), "365-days", "AU-11")


def test_a_retention_synth_cannot_read_fails() -> None:
    verdict = check(log_retention_fedramp, _group(RetentionInDays={"Ref": "Days"}), "Logs")
    assert_fails(verdict, "unresolved", "write the number of days")


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(log_retention_fedramp, {"Bucket": resource("AWS::S3::Bucket")}, "Bucket"))
