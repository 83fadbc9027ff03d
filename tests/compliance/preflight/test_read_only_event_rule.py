"""ReadOnlyEventRule on plain templates: a rule on read-only API calls is in the state that receives them."""

from __future__ import annotations

from typing import Any

from compliance.preflight.read_only_event_rule import read_only_event_rule
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _rule(names: list[Any], state: str | None = "ENABLED") -> dict[str, dict[str, Any]]:
    pattern = {
        "source": ["aws.sts"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["sts.amazonaws.com"], "eventName": names},
    }
    props: dict[str, Any] = {"EventPattern": pattern, "Targets": [{"Id": "t", "Arn": {"Ref": "Topic"}}]}
    if state is not None:
        props["State"] = state
    return {"Rule": resource("AWS::Events::Rule", props)}


def test_an_enabled_rule_on_assume_role_fails() -> None:
    verdict = check(read_only_event_rule, _rule(["AssumeRole"]), "Rule")
    assert_fails(verdict, "AssumeRole", "never receives", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


def test_get_describe_and_list_calls_and_prefixes_are_read_only_too() -> None:
    for name, finding in (("GetSecretValue", "GetSecretValue"), ({"prefix": "Describe"}, "Describe")):
        assert_fails(check(read_only_event_rule, _rule([name], state=None), "Rule"), finding)


def test_a_rule_that_receives_all_management_events_passes() -> None:
    state = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    assert_passes(check(read_only_event_rule, _rule(["AssumeRole"], state=state), "Rule"))


def test_rules_on_change_events_only_or_disabled_are_not_applicable() -> None:
    assert_not_applicable(check(read_only_event_rule, _rule(["UpdateStack", "GetSessionToken"]), "Rule"))
    assert_not_applicable(check(read_only_event_rule, _rule(["AssumeRole"], state="DISABLED"), "Rule"))
    schedule = resource("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)"})
    assert_not_applicable(check(read_only_event_rule, {"Rule": schedule}, "Rule"))
