"""LogRetentionFedRAMP: a log group keeps its records as long as FedRAMP's AU-11 asks, not AWS Config's default.

FedRAMP's Rev 5 Moderate profile sets AU-11's retention (`au-11_odp`) to "a time period in
compliance with M-21-31"; OMB M-21-31 asks for 12 months of active storage and 18 months of cold
storage, 30 months in all (913 days): M-21-31, "Improving the Federal Government's Investigative and
Remediation Capabilities Related to Cybersecurity Incidents" (whitehouse.gov, August 2021), which
FedRAMP's AU-11 requirement links. CloudWatch Logs keeps a log group's events in one tier, so
its retention must hold the whole 30 months: the shortest period it offers that does is 1096
days. `Preflight-LogGroupRetention` judges AWS Config's 365-day default instead; this rule is the
one the control mapping (`data/control-evidence.tsv`) lets evidence AU-11.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.preflight.log_group_retention import retention_at_least

# 12 months of active and 18 of cold storage (OMB M-21-31, its retention requirement), in days: 30 * 365 / 12, up.
M_21_31_DAYS = 913
# The shortest CloudWatch Logs retention period that holds it (PutRetentionPolicy's allowed values).
SHORTEST_PERIOD_DAYS = 1096


def log_retention_fedramp(resource: ResourceView, ctx: Context) -> Verdict:
    """The log group never expires its events, or keeps them at least M_21_31_DAYS."""
    return retention_at_least(
        resource,
        M_21_31_DAYS,
        asks="FedRAMP's AU-11 (OMB M-21-31)",
        advice=f"{M_21_31_DAYS} days (12 months active and 18 months cold storage) FedRAMP's AU-11 asks for through "
        f"OMB M-21-31; keep them {SHORTEST_PERIOD_DAYS} days (log_retention_days), or acknowledge why this "
        "environment's logs are not records to retain",
    )


RULE = PreflightRule(
    "LogRetentionFedRAMP",
    frozenset({"AWS::Logs::LogGroup"}),
    log_retention_fedramp,
    f"A log group that keeps its events less than {M_21_31_DAYS} days does not meet FedRAMP's AU-11 retention, "
    "OMB M-21-31's 12 months of active and 18 months of cold storage.",
    ("AU-11", "SI-12"),
    shortdesc=(
        f"a log group kept less than FedRAMP's AU-11 retention (OMB M-21-31: 12 months active and 18 months cold, "
        f"{M_21_31_DAYS} days; CloudWatch Logs' next period is {SHORTEST_PERIOD_DAYS})"
    ),
)
