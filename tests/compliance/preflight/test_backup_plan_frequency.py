"""BackupPlanFrequency on plain templates: a plan has a rule as frequent and long-kept as the pack asks."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.preflight.backup_plan_frequency import backup_plan_frequency, schedule_interval_hours
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _plan(*rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    plan = {"BackupPlan": {"BackupPlanName": "plan", "BackupPlanRule": list(rules)}}
    return {"Plan": resource("AWS::Backup::BackupPlan", plan)}


def _rule(schedule: str, days: int | None) -> dict[str, Any]:
    lifecycle = {"Lifecycle": {"DeleteAfterDays": days}} if days is not None else {}
    return {"RuleName": "r", "TargetBackupVault": "v", "ScheduleExpression": schedule, **lifecycle}


def test_a_daily_rule_kept_35_days_passes_beside_longer_ones() -> None:
    plan = _plan(_rule("cron(0 5 ? * SAT *)", 90), _rule("cron(0 5 * * ? *)", 35))
    assert_passes(check(backup_plan_frequency, plan, "Plan"))
    assert_passes(check(backup_plan_frequency, _plan(_rule("rate(12 hours)", None)), "Plan"))


def test_weekly_only_or_too_short_fails_with_the_packs_values() -> None:
    for plan in (_plan(_rule("cron(0 5 ? * SAT *)", 90)), _plan(_rule("cron(0 5 * * ? *)", 7))):
        verdict = check(backup_plan_frequency, plan, "Plan")
        assert_fails(verdict, "every-24h-35d", "every 24 hours", "at least 35 days", "a daily rule")


@pytest.mark.parametrize(
    ("expression", "hours"),
    [
        ("cron(0 5 * * ? *)", 24.0),
        ("cron(0 * * * ? *)", 1.0),
        ("cron(0 */6 * * ? *)", 6.0),
        ("cron(0 2,14 * * ? *)", 12.0),
        ("cron(0 5 ? * SAT *)", None),
        ("cron(0 5 1 * ? *)", None),
        ("rate(1 day)", 24.0),
        ("rate(30 minutes)", 0.5),
        ("every day", None),
    ],
)
def test_schedule_intervals(expression: str, hours: float | None) -> None:
    assert schedule_interval_hours(expression) == hours


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(backup_plan_frequency, {"Vault": resource("AWS::Backup::BackupVault")}, "Vault"))
