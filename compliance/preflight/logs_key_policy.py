"""LogsKeyPolicy: an encrypted log group's key lets CloudWatch Logs of this account and region use it.

CloudWatch Logs refuses to create a log group with a key whose policy does not allow
`logs.<region>.amazonaws.com`; the failure report's log groups rolled back for that. The
grant is also limited to this account's log groups by the `kms:EncryptionContext:aws:logs:arn`
condition, with the partition taken from the pseudo-parameter so it holds in GovCloud.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render

_LOGS_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt", "kms:GenerateDataKey", "kms:DescribeKey")
_LOGS_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"


def logs_key_policy(resource: ResourceView, ctx: Context) -> Verdict:
    """An encrypted log group's key is in this app and its policy lets CloudWatch Logs of this account use it."""
    if resource.type != "AWS::Logs::LogGroup" or "KmsKeyId" not in resource.properties:
        return Verdict.not_applicable()
    target = ctx.index.target(resource.stack, resource.properties["KmsKeyId"])
    if target is None or target[2].get("Type") != "AWS::KMS::Key":
        return Verdict.fail(
            "key-outside-app",
            "the log group's key is not created in this app, so its policy cannot be checked; create it with "
            "EncryptionKey(..., allow_cloudwatch_logs=True)",
        )
    policy = target[2].get("Properties", {}).get("KeyPolicy") or {}
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") == "Allow" and "logs." in render(statement.get("Principal", {})):
            return _logs_statement(statement)
    return Verdict.fail(
        "no-logs-grant",
        "the key policy does not allow logs.<region>.amazonaws.com to use the key, so CloudWatch Logs refuses to "
        "create the log group; use EncryptionKey(..., allow_cloudwatch_logs=True)",
    )


def _logs_statement(statement: dict[str, Any]) -> Verdict:
    """The key policy's statement for CloudWatch Logs grants what it needs, for this account's log groups only."""
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    missing = [a for a in _LOGS_ACTIONS if not any(fnmatch.fnmatch(a, pattern) for pattern in actions)]
    if missing:
        return Verdict.fail("logs-actions", f"the key policy's CloudWatch Logs statement lacks {', '.join(missing)}")
    arn = next(
        (
            render(values[_LOGS_CONTEXT_KEY])
            for operator, values in statement.get("Condition", {}).items()
            if operator.startswith("Arn") and _LOGS_CONTEXT_KEY in values
        ),
        None,
    )
    if arn is None:
        return Verdict.fail(
            "logs-condition",
            f"the key policy lets CloudWatch Logs use the key without an ArnLike {_LOGS_CONTEXT_KEY} "
            "condition; limit it to arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*",
        )
    if re.match(r"arn:aws[a-z-]*:", arn):
        return Verdict.fail(
            "literal-partition",
            f"the {_LOGS_CONTEXT_KEY} condition writes the partition literally ({arn.split(':logs:')[0]}); "
            "build it from the AWS::Partition pseudo-parameter so it holds in GovCloud",
        )
    return Verdict.ok()


RULE = PreflightRule(
    "LogsKeyPolicy",
    frozenset({"AWS::Logs::LogGroup"}),
    logs_key_policy,
    "CloudWatch Logs creates an encrypted log group only if the key policy lets its regional principal use "
    "the key for this account's log groups.",
    ("SC-12", "SC-28(1)", "AU-9"),
    shortdesc=(
        "an encrypted log group whose key is not in the app, or whose policy does not let `logs.<region>` use it "
        "for this account, or writes the partition literally"
    ),
)
