"""AlarmActions on plain templates: an alarm has the actions the pack's Config rule requires."""

from __future__ import annotations

from typing import Any

from compliance.preflight.alarm_actions import CONFIG_RULE, alarm_actions
from compliance.runtime import pack_parameters
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

_TOPIC = [{"Ref": "Topic"}]


def _alarm(**properties: Any) -> dict[str, dict[str, Any]]:
    return {"Alarm": resource("AWS::CloudWatch::Alarm", {"Threshold": 1, **properties})}


def test_the_pack_requires_the_alarm_and_insufficient_data_actions() -> None:
    assert pack_parameters(CONFIG_RULE)["alarmActionRequired"] == "true"
    assert pack_parameters(CONFIG_RULE)["insufficientDataActionRequired"] == "true"


def test_an_alarm_with_the_required_actions_passes() -> None:
    verdict = check(alarm_actions, _alarm(AlarmActions=_TOPIC, InsufficientDataActions=_TOPIC), "Alarm")
    assert_passes(verdict)


def test_an_alarm_action_alone_is_enough_for_cdk_nag_but_not_for_the_pack() -> None:
    verdict = check(alarm_actions, _alarm(AlarmActions=_TOPIC, OKActions=_TOPIC), "Alarm")
    assert_fails(verdict, "InsufficientDataActions", "cloudwatch-alarm-action-check", "insufficient-data state")


def test_disabled_actions_fail() -> None:
    properties = {"AlarmActions": _TOPIC, "InsufficientDataActions": _TOPIC, "ActionsEnabled": False}
    assert_fails(check(alarm_actions, _alarm(**properties), "Alarm"), "ActionsEnabled")


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(alarm_actions, {"Topic": resource("AWS::SNS::Topic")}, "Topic"))
