"""AlarmActions: every alarm has the actions the account baseline's Config rule asks for.

AWS Config's `cloudwatch-alarm-action-check`, with the parameters the FedRAMP Moderate pack
sets (alarmActionRequired, insufficientDataActionRequired, okActionRequired), reads an alarm's
actions. cdk-nag's CloudWatchAlarmAction asks only for one action of any kind, so an alarm can
pass the synth packs and fail the account's own baseline; this rule reads the pack's
parameters and asks for the same actions.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.runtime import pack_parameters

CONFIG_RULE = "CLOUDWATCH_ALARM_ACTION_CHECK"
_ACTIONS = {
    "alarmActionRequired": "AlarmActions",
    "insufficientDataActionRequired": "InsufficientDataActions",
    "okActionRequired": "OKActions",
}


def alarm_actions(resource: ResourceView, ctx: Context) -> Verdict:
    """The alarm is enabled and has every kind of action the pack requires."""
    if resource.type != "AWS::CloudWatch::Alarm":
        return Verdict.not_applicable()
    parameters = pack_parameters(CONFIG_RULE)
    required = [prop for parameter, prop in _ACTIONS.items() if parameters.get(parameter, "false") == "true"]
    missing = [prop for prop in required if not resource.properties.get(prop)]
    if resource.properties.get("ActionsEnabled") is False:
        missing.insert(0, "ActionsEnabled")
    if not missing:
        return Verdict.ok()
    return Verdict.fail(
        "+".join(missing),
        f"the alarm lacks {', '.join(missing)}, which AWS Config's cloudwatch-alarm-action-check requires with the "
        f"account baseline's FedRAMP Moderate parameters ({', '.join(required)}); send the alarm and its "
        "insufficient-data state to the stage's alarm topic",
    )


RULE = PreflightRule(
    "AlarmActions",
    frozenset({"AWS::CloudWatch::Alarm"}),
    alarm_actions,
    "An alarm without the actions the account baseline's cloudwatch-alarm-action-check requires is NON_COMPLIANT "
    "with the pack the baseline deploys, and its state change reaches nobody.",
    ("SI-4", "IR-6"),
    shortdesc=(
        "an alarm without the alarm and insufficient-data actions the pack's parameters require (cdk-nag asks for "
        "any one action)"
    ),
)
