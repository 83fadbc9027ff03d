"""EventBridgeKeyCondition on plain templates: EventBridge's grant on a topic's key carries no source condition."""

from __future__ import annotations

from typing import Any

from compliance.preflight.eventbridge_key_condition import eventbridge_key_condition
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

_ROOT = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::710000000001:root"}, "Action": "kms:*"}


def _events(condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        **extra,
    }
    return {**statement, "Condition": condition} if condition else statement


def _topic_key(*statements: dict[str, Any], topic: bool = True) -> dict[str, dict[str, Any]]:
    resources = {"Key": resource("AWS::KMS::Key", {"KeyPolicy": {"Statement": [_ROOT, *statements]}})}
    if topic:
        resources["Topic"] = resource("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}})
    return resources


def test_a_topic_key_tying_eventbridge_to_its_source_account_fails() -> None:
    condition = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    verdict = check(eventbridge_key_condition, _topic_key(_events(condition, Sid="Events")), "Key")
    assert_fails(verdict, "Events", "aws:SourceAccount", "not supported", "topic's policy")


def test_source_arn_and_org_id_fail_too_named_by_position_without_a_sid() -> None:
    for key in ("aws:SourceArn", "AWS:SourceOrgID"):
        verdict = check(eventbridge_key_condition, _topic_key(_events({"StringLike": {key: "x"}})), "Key")
        assert_fails(verdict, "statement0", key)


def test_a_topic_key_letting_eventbridge_publish_without_a_source_condition_passes() -> None:
    assert_passes(check(eventbridge_key_condition, _topic_key(_events(Sid="Events")), "Key"))


def test_keys_of_no_topic_or_without_an_eventbridge_grant_are_not_applicable() -> None:
    condition = {"StringEquals": {"aws:SourceArn": "arn:aws:events:us-west-2:710000000001:event-bus/bus"}}
    assert_not_applicable(check(eventbridge_key_condition, _topic_key(_events(condition), topic=False), "Key"))
    assert_not_applicable(check(eventbridge_key_condition, _topic_key(), "Key"))
