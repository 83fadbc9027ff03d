"""LogGroupRetention: a log group keeps its records at least as long as the account baseline asks.

AWS Config's `cw-loggroup-retention-period-check`, in the FedRAMP Moderate pack the Baseline
deploys, passes no parameter, so the rule's default applies: a log group is NON_COMPLIANT when
it keeps its events less than 365 days (a group that never expires them passes). cdk-nag's
CloudWatchLogGroupRetentionPeriod asks only that a retention be set, which a shorter one does.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render

# The rule's MinRetentionTime when none is given (AWS Config developer guide, cw-loggroup-retention-period-check).
MINIMUM_DAYS = 365


def retention_at_least(resource: ResourceView, minimum_days: int, *, asks: str, advice: str) -> Verdict:
    """A log group never expires its events, or keeps them at least `minimum_days`; `asks` names who asks for that
    ("AWS Config's cw-loggroup-retention-period-check"), `advice` ends the message of a shorter one."""
    if resource.type != "AWS::Logs::LogGroup":
        return Verdict.not_applicable()
    days = resource.properties.get("RetentionInDays")
    if days is None:
        return Verdict.ok()
    if not isinstance(days, int):
        return Verdict.fail(
            "unresolved",
            f"the log group's retention ({render(days)}) is not known at synth; {asks} asks for at least "
            f"{minimum_days} days: write the number of days",
        )
    if days >= minimum_days:
        return Verdict.ok()
    return Verdict.fail(f"{days}-days", f"the log group keeps its events {days} days, less than the {advice}")


def log_group_retention(resource: ResourceView, ctx: Context) -> Verdict:
    """The log group never expires its events, or keeps them at least MINIMUM_DAYS."""
    return retention_at_least(
        resource,
        MINIMUM_DAYS,
        asks="AWS Config's cw-loggroup-retention-period-check",
        advice=f"{MINIMUM_DAYS} days AWS Config's cw-loggroup-retention-period-check asks for in the account's "
        f"FedRAMP Moderate pack; keep them at least {MINIMUM_DAYS} days (log_retention_days), or acknowledge why "
        "this environment keeps them shorter",
    )


RULE = PreflightRule(
    "LogGroupRetention",
    frozenset({"AWS::Logs::LogGroup"}),
    log_group_retention,
    f"A log group that keeps its events less than {MINIMUM_DAYS} days is NON_COMPLIANT with AWS Config's "
    "cw-loggroup-retention-period-check, a rule of the pack the account baseline deploys.",
    ("AU-11",),
    shortdesc=f"a log group kept less than the rule's default {MINIMUM_DAYS} days (cdk-nag asks only for a retention)",
)
