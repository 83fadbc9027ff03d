"""ReservedConcurrency: a Lambda function reserves no concurrency in accounts this app does not size.

Lambda refuses a reservation that would leave fewer than the account's minimum unreserved
concurrency (100 where the account quota is the default 1,000). New accounts often start with a
total quota of 10, where any reservation fails: "Specified ReservedConcurrentExecutions for
function decreases account's UnreservedConcurrentExecution below its minimum value of [10]"
(Lambda developer guide, "Configuring reserved concurrency"). The app deploys into accounts whose
quotas it does not set, so a reservation is a deployment that fails in some of them.

A reservation of 0 (a function switched off) takes nothing from the account and is allowed.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render


def reserved_concurrency(resource: ResourceView, ctx: Context) -> Verdict:
    """A function does not reserve concurrency the account may not have."""
    reserved = resource.properties.get("ReservedConcurrentExecutions")
    if resource.type != "AWS::Lambda::Function" or reserved is None:
        return Verdict.not_applicable()
    if reserved == 0:
        return Verdict.ok()
    shown = render(reserved)
    return Verdict.fail(
        shown,
        f"the function reserves {shown} concurrent executions; Lambda refuses a reservation that leaves the "
        "account less than its minimum unreserved concurrency (100 by default, and new accounts often have a "
        "total quota of 10), and this app does not size the accounts it deploys into; remove the reservation "
        "and throttle at the caller, or set it per account in configuration where that account is sized for it "
        "(and acknowledge this finding there)",
    )


RULE = PreflightRule(
    "ReservedConcurrency",
    frozenset({"AWS::Lambda::Function"}),
    reserved_concurrency,
    "Lambda refuses a concurrency reservation that would leave the account less than its minimum unreserved "
    "concurrency, which depends on the account's quota.",
    ("CM-2", "SC-5"),
    shortdesc=(
        "a Lambda reservation, which an account we do not size refuses (Lambda keeps a minimum unreserved; new "
        "accounts often have a total of 10)"
    ),
)
