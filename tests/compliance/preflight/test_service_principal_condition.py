"""ServicePrincipalCondition on plain templates: a grant to an AWS service names whose resource may use it."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.preflight.service_principal_condition import service_principal_condition
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

_ACCOUNT_ROOT = {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::710000000001:root"]]}}
_LOGS = {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}]]}


def _statement(principal: Any, condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sns:Publish", "Resource": "*", **extra}
    return {**statement, "Condition": condition} if condition else statement


def _topic_policy(*statements: dict[str, Any]) -> dict[str, dict[str, Any]]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"Policy": resource("AWS::SNS::TopicPolicy", {"PolicyDocument": document, "Topics": [{"Ref": "Topic"}]})}


def _key(*statements: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"Key": resource("AWS::KMS::Key", {"KeyPolicy": {"Statement": list(statements)}})}


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}}},
        {"StringEquals": {"AWS:SourceOrgID": "o-abc123"}},
    ],
)
def test_a_service_grant_tied_to_this_account_or_resource_passes(condition: dict[str, Any]) -> None:
    policy = _topic_policy(_statement({"Service": "events.amazonaws.com"}, condition))
    assert_passes(check(service_principal_condition, policy, "Policy"))


def test_an_untied_service_grant_names_the_statement_and_principal() -> None:
    policy = _topic_policy(_statement(_ACCOUNT_ROOT), _statement({"Service": "events.amazonaws.com"}, Sid="1"))
    verdict = check(service_principal_condition, policy, "Policy")
    assert_fails(
        verdict,
        "1:events.amazonaws.com",
        "statement Sid '1' allows events.amazonaws.com",
        "add a condition naming the resource that acts for it (aws:SourceArn) or this account (aws:SourceAccount)",
    )


def test_a_statement_without_a_sid_is_named_by_its_index() -> None:
    bucket = resource(
        "AWS::S3::BucketPolicy",
        {"PolicyDocument": {"Statement": [_statement({"Service": ["cloudtrail.amazonaws.com"]})]}},
    )
    verdict = check(service_principal_condition, {"Policy": bucket}, "Policy")
    assert_fails(verdict, "statement0:cloudtrail.amazonaws.com", "statement Statement[0] allows cloudtrail")


def test_a_condition_that_does_not_tie_the_grant_is_not_enough() -> None:
    untied = _statement({"Service": "cloudtrail.amazonaws.com"}, {"StringEquals": {"s3:x-amz-acl": "bucket-owner"}})
    bucket = resource("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": [untied]}})
    assert_fails(
        check(service_principal_condition, {"Policy": bucket}, "Policy"), "statement0:cloudtrail.amazonaws.com"
    )
    null_test = _statement({"Service": "events.amazonaws.com"}, {"Null": {"aws:SourceArn": "false"}})
    assert_fails(
        check(service_principal_condition, _topic_policy(null_test), "Policy"), "statement0:events.amazonaws.com"
    )


def test_a_key_policy_may_tie_the_grant_by_encryption_context() -> None:
    logs = _statement(
        {"Service": _LOGS}, {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*:710000000001:*"}}
    )
    assert_passes(check(service_principal_condition, _key(_statement(_ACCOUNT_ROOT), logs), "Key"))


def test_an_untied_key_grant_to_a_joined_principal_suggests_the_encryption_context() -> None:
    verdict = check(service_principal_condition, _key(_statement({"Service": _LOGS}, Sid="Logs")), "Key")
    assert_fails(verdict, "Logs:logs.<AWS::Region>.<AWS::URLSuffix>", "or the service's kms:EncryptionContext key")


def test_encryption_context_ties_only_key_policies() -> None:
    context = {"StringLike": {"kms:EncryptionContext:aws:logs:arn": "*"}}
    policy = _topic_policy(_statement({"Service": "events.amazonaws.com"}, context))
    assert_fails(check(service_principal_condition, policy, "Policy"), "statement0:events.amazonaws.com")


def test_event_bus_policy_holds_a_single_statement() -> None:
    bus = resource(
        "AWS::Events::EventBusPolicy", {"StatementId": "s", "Statement": _statement({"Service": "sns.amazonaws.com"})}
    )
    assert_fails(check(service_principal_condition, {"Bus": bus}, "Bus"), "statement0:sns.amazonaws.com")


def test_a_lambda_permission_ties_the_grant_with_source_arn_or_account() -> None:
    base = {"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "Function"}, "Principal": "s3.amazonaws.com"}
    tied = resource("AWS::Lambda::Permission", {**base, "SourceAccount": {"Ref": "AWS::AccountId"}})
    assert_passes(check(service_principal_condition, {"Permission": tied}, "Permission"))
    untied = resource("AWS::Lambda::Permission", base)
    verdict = check(service_principal_condition, {"Permission": untied}, "Permission")
    assert_fails(verdict, "s3.amazonaws.com", "set SourceArn (the resource that invokes it) or SourceAccount")


def test_grants_to_accounts_and_roles_and_deny_statements_pass() -> None:
    role = {"AWS": {"Fn::GetAtt": ["Role", "Arn"]}}
    deny = {**_statement({"Service": "events.amazonaws.com"}), "Effect": "Deny"}
    assert_passes(
        check(service_principal_condition, _topic_policy(_statement(_ACCOUNT_ROOT), _statement(role), deny), "Policy")
    )
    account = resource("AWS::Lambda::Permission", {"Action": "lambda:InvokeFunction", "Principal": "710000000001"})
    assert_passes(check(service_principal_condition, {"Permission": account}, "Permission"))


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(service_principal_condition, {"Topic": resource("AWS::SNS::Topic")}, "Topic"))
