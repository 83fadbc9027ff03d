"""KmsBlockedActions on plain templates: no policy allows the pack's blocked KMS actions on every key."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.preflight.kms_blocked_actions import blocked_actions, kms_blocked_actions
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

_KEY = {"Fn::GetAtt": ["Key", "Arn"]}


def _statement(action: Any, resource_: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource_, **extra}


def _policy(*statements: dict[str, Any], kind: str = "AWS::IAM::Policy") -> dict[str, dict[str, Any]]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"Policy": resource(kind, {"PolicyDocument": document, "Roles": [{"Ref": "Role"}]})}


def test_the_pack_blocks_decrypt_and_re_encrypt_from() -> None:
    assert blocked_actions() == ("kms:Decrypt", "kms:ReEncryptFrom")


def test_a_grant_on_the_key_it_is_for_passes() -> None:
    assert_passes(check(kms_blocked_actions, _policy(_statement(["kms:Decrypt", "kms:ReEncrypt*"], _KEY)), "Policy"))
    assert_passes(check(kms_blocked_actions, _policy(_statement("kms:Encrypt", "*")), "Policy"))


@pytest.mark.parametrize(
    ("action", "resource_", "finding"),
    [
        ("kms:Decrypt", "*", "kms:Decrypt"),
        ("kms:*", "*", "kms:Decrypt+kms:ReEncryptFrom"),
        (["kms:ReEncrypt*"], "arn:aws:kms:us-east-2:710000000001:key/*", "kms:ReEncryptFrom"),
    ],
)
def test_a_blocked_action_on_every_key_fails(action: Any, resource_: str, finding: str) -> None:
    verdict = check(kms_blocked_actions, _policy(_statement(action, resource_)), "Policy")
    assert_fails(verdict, finding, "on every KMS key", "key.grant_decrypt(principal)")


def test_a_condition_does_not_help_because_aws_config_does_not_read_it() -> None:
    conditioned = _statement(
        "kms:Decrypt",
        "arn:aws:kms:us-east-2:710000000001:key/*",
        Condition={"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/replication"]}},
    )
    assert_fails(check(kms_blocked_actions, _policy(conditioned), "Policy"), "kms:Decrypt")


def test_managed_policies_and_role_inline_policies_are_read() -> None:
    managed = _policy(_statement("kms:Decrypt", "*"), kind="AWS::IAM::ManagedPolicy")
    assert_fails(check(kms_blocked_actions, managed, "Policy"), "kms:Decrypt")
    inline = {"PolicyName": "Inline", "PolicyDocument": {"Statement": [_statement("kms:Decrypt", "*")]}}
    role = {"Role": resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": {}, "Policies": [inline]})}
    assert_fails(check(kms_blocked_actions, role, "Role"), "kms:Decrypt")


def test_a_deny_is_not_a_grant_and_other_types_are_not_applicable() -> None:
    deny = {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}
    assert_passes(check(kms_blocked_actions, _policy(deny), "Policy"))
    assert_not_applicable(check(kms_blocked_actions, {"Key": resource("AWS::KMS::Key")}, "Key"))
