"""BackupPlanFrequency: a backup plan has a rule as frequent and as long-kept as the account baseline asks.

AWS Config's `backup-plan-min-frequency-and-min-retention-check`, with the FedRAMP Moderate
pack's parameters (requiredFrequencyValue, requiredFrequencyUnit, requiredRetentionDays),
passes a plan when one of its rules creates recovery points at least that often and keeps
them at least that long. Frequency is read from the rule's schedule: `rate(...)`, or a
`cron(...)` that runs every day (every hour of it, a step of hours, a list of hours, or one).
A cron that runs on some days only is taken as less often than daily.
"""

from __future__ import annotations

import itertools
import re

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.runtime import pack_parameters

CONFIG_RULE = "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_HOURS = {"minute": 1 / 60, "minutes": 1 / 60, "hour": 1, "hours": 1, "day": 24, "days": 24}


def backup_plan_frequency(resource: ResourceView, ctx: Context) -> Verdict:
    """Some rule of the plan backs up at least as often, and keeps its recovery points as long, as the pack asks."""
    if resource.type != "AWS::Backup::BackupPlan":
        return Verdict.not_applicable()
    parameters = pack_parameters(CONFIG_RULE)
    unit = parameters.get("requiredFrequencyUnit", "days")
    required_hours = int(parameters.get("requiredFrequencyValue", "1")) * (24 if unit == "days" else 1)
    required_days = int(parameters.get("requiredRetentionDays", "35"))
    rules = (resource.properties.get("BackupPlan", {}) or {}).get("BackupPlanRule", []) or []
    for rule in rules:
        interval = schedule_interval_hours(str(rule.get("ScheduleExpression", "")))
        kept = (rule.get("Lifecycle") or {}).get("DeleteAfterDays")
        if interval is not None and interval <= required_hours and (kept is None or kept >= required_days):
            return Verdict.ok()
    return Verdict.fail(
        f"every-{required_hours}h-{required_days}d",
        f"no rule of the backup plan creates recovery points at least every {required_hours} hours and keeps them "
        f"at least {required_days} days, as AWS Config's backup-plan-min-frequency-and-min-retention-check asks in "
        "the account's FedRAMP Moderate pack; add a daily rule with DeleteAfterDays of at least "
        f"{required_days}",
    )


def schedule_interval_hours(expression: str) -> float | None:
    """The longest gap between two runs of a backup schedule, in hours; None for runs on some days only."""
    rate = _RATE.match(expression.strip())
    if rate:
        return int(rate.group(1)) * _HOURS[rate.group(2)]
    cron = _CRON.match(expression.strip())
    if not cron:
        return None
    fields = cron.group(1).split()
    if len(fields) != 6:
        return None
    _minute, hour, day_of_month, month, day_of_week, _year = fields
    if day_of_month not in ("*", "?") or day_of_week not in ("*", "?") or month != "*":
        return None
    if hour == "*":
        return 1.0
    step = re.fullmatch(r"(\*|\d+)/(\d+)", hour)
    if step:
        return float(step.group(2))
    if re.fullmatch(r"\d+(,\d+)*", hour):
        hours = sorted({int(h) for h in hour.split(",")})
        gaps = [b - a for a, b in itertools.pairwise(hours)] + [24 - hours[-1] + hours[0]]
        return float(max(gaps))
    return None


RULE = PreflightRule(
    "BackupPlanFrequency",
    frozenset({"AWS::Backup::BackupPlan"}),
    backup_plan_frequency,
    "A backup plan without a rule as frequent and as long-kept as the account baseline's "
    "backup-plan-min-frequency-and-min-retention-check asks is NON_COMPLIANT with the pack the baseline deploys.",
    ("CP-9",),
    shortdesc="a backup plan with no rule at least daily and kept 35 days",
)
