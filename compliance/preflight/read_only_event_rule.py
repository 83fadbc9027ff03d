"""ReadOnlyEventRule: a rule on read-only CloudTrail API calls is in the state that receives them.

EventBridge matches read-only management events delivered through CloudTrail (AssumeRole, and calls
that start with Get, Describe or List) only against rules in state
ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS; a rule in state ENABLED matches every event "except for
read-only AWS management events delivered through CloudTrail" (EventBridge user guide, Receiving
read-only management events from AWS services,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html).
Such a rule deploys and never fires. The page names STS GetFederationToken and GetSessionToken as
change events despite their verb, so they are not read-only here.
"""

from __future__ import annotations

from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict

ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
_API_CALL = "AWS API Call via CloudTrail"
_READ_ONLY_PREFIXES = ("Get", "Describe", "List")
_READ_ONLY_NAMES = frozenset({"AssumeRole"})
_CHANGE_EVENTS = frozenset({"GetFederationToken", "GetSessionToken"})


def read_only_event_rule(resource: ResourceView, ctx: Context) -> Verdict:
    """A rule whose pattern names read-only API calls is ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS."""
    if resource.type != "AWS::Events::Rule":
        return Verdict.not_applicable()
    pattern, state = resource.properties.get("EventPattern"), resource.properties.get("State", "ENABLED")
    read_only = _read_only_calls(pattern) if isinstance(pattern, dict) else []
    if not read_only or state == "DISABLED":
        return Verdict.not_applicable()
    if state == ALL_MANAGEMENT_EVENTS:
        return Verdict.ok()
    return Verdict.fail(
        read_only[0],
        f"the rule matches the read-only API call {read_only[0]}, which a rule in state {state} never receives "
        f"(EventBridge delivers read-only management events only to rules in state {ALL_MANAGEMENT_EVENTS}); set "
        "State to it",
    )


def _read_only_calls(pattern: dict[str, Any]) -> list[str]:
    """The read-only event names (or name prefixes) a CloudTrail API-call pattern matches."""
    if _API_CALL not in _list(pattern.get("detail-type")):
        return []
    detail = pattern.get("detail")
    names = _list(detail.get("eventName")) if isinstance(detail, dict) else []
    return [str(_name(n)) for n in names if _name(n) is not None and _read_only(str(_name(n)))]


def _name(value: Any) -> Any:
    """An event name as matched exactly, or the prefix of a `{"prefix": ...}` match; None otherwise."""
    if isinstance(value, str):
        return value
    return value.get("prefix") if isinstance(value, dict) and isinstance(value.get("prefix"), str) else None


def _read_only(name: str) -> bool:
    return name in _READ_ONLY_NAMES or (name.startswith(_READ_ONLY_PREFIXES) and name not in _CHANGE_EVENTS)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


RULE = PreflightRule(
    "ReadOnlyEventRule",
    frozenset({"AWS::Events::Rule"}),
    read_only_event_rule,
    "An EventBridge rule matching read-only CloudTrail API calls (AssumeRole, Get*, Describe*, List*) in state "
    "ENABLED, which never receives them: it needs ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS "
    "(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html).",
    ("SI-4", "AU-6"),
    shortdesc=(
        "an EventBridge rule on read-only CloudTrail API calls (`AssumeRole`, `Get*`, `Describe*`, `List*`) in "
        "state `ENABLED`, which never receives them (`ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` does)"
    ),
    source_url="https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html",
)
