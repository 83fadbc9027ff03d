"""LogsKeyPolicy on plain templates: the log group's key is followed by reference to its policy."""

from __future__ import annotations

from typing import Any

from compliance.preflight.logs_key_policy import logs_key_policy
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

_LOGS_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
_ACCOUNT_STATEMENT = {
    "Effect": "Allow",
    "Principal": {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::710000000001:root"]]}},
    "Action": "kms:*",
    "Resource": "*",
}


def _logs_statement(arn: Any, actions: list[str] | None = None) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}]]}},
        "Action": actions or _LOGS_ACTIONS,
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": arn}},
    }


_PARTITION_ARN = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":*"],
    ]
}


def _stack(*statements: dict[str, Any]) -> dict[str, dict[str, Any]]:
    key = resource("AWS::KMS::Key", {"KeyPolicy": {"Version": "2012-10-17", "Statement": list(statements)}})
    logs = resource("AWS::Logs::LogGroup", {"KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}})
    return {"Key": key, "Logs": logs}


def test_a_key_that_lets_this_accounts_logs_use_it_passes() -> None:
    assert_passes(check(logs_key_policy, _stack(_ACCOUNT_STATEMENT, _logs_statement(_PARTITION_ARN)), "Logs"))


def test_a_key_in_another_stack_is_followed_through_its_export() -> None:
    keys = {"Resources": _stack(_ACCOUNT_STATEMENT, _logs_statement(_PARTITION_ARN))}
    keys["Outputs"] = {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "Dev-Keys:KeyArn"}}}
    logs = resource("AWS::Logs::LogGroup", {"KmsKeyId": {"Fn::ImportValue": "Dev-Keys:KeyArn"}})
    assert_passes(check(logs_key_policy, {"Logs": logs}, "Logs", others={"Pipeline/Dev/Keys": keys}))


def test_a_key_without_the_logs_grant_says_to_allow_cloudwatch_logs() -> None:
    verdict = check(logs_key_policy, _stack(_ACCOUNT_STATEMENT), "Logs")
    assert_fails(verdict, "no-logs-grant", "EncryptionKey(..., allow_cloudwatch_logs=True)")


def test_a_key_outside_the_app_cannot_be_checked() -> None:
    logs = resource("AWS::Logs::LogGroup", {"KmsKeyId": "arn:aws:kms:us-west-2:710000000001:key/abc"})
    assert_fails(check(logs_key_policy, {"Logs": logs}, "Logs"), "key-outside-app", "create it with EncryptionKey")


def test_a_grant_missing_actions_names_them() -> None:
    statement = _logs_statement(_PARTITION_ARN, ["kms:Encrypt*", "kms:Decrypt*"])
    verdict = check(logs_key_policy, _stack(statement), "Logs")
    assert_fails(verdict, "logs-actions", "lacks kms:ReEncrypt, kms:GenerateDataKey, kms:DescribeKey")


def test_a_grant_without_the_encryption_context_condition_says_which_to_add() -> None:
    statement = {k: v for k, v in _logs_statement(_PARTITION_ARN).items() if k != "Condition"}
    verdict = check(logs_key_policy, _stack(statement), "Logs")
    assert_fails(verdict, "logs-condition", "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*")


def test_a_literal_partition_says_to_use_the_pseudo_parameter() -> None:
    verdict = check(logs_key_policy, _stack(_logs_statement("arn:aws:logs:us-west-2:710000000001:*")), "Logs")
    assert_fails(verdict, "literal-partition", "AWS::Partition pseudo-parameter")


def test_unencrypted_log_groups_and_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(logs_key_policy, {"Logs": resource("AWS::Logs::LogGroup")}, "Logs"))
    assert_not_applicable(check(logs_key_policy, {"Key": resource("AWS::KMS::Key")}, "Key"))
