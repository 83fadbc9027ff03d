"""EventBridgeKeyCondition: a topic's key lets EventBridge use it without a source condition, or no notice arrives.

An EventBridge rule that targets an SNS topic encrypted with a customer-managed key publishes only if
the key policy lets `events.amazonaws.com` use the key; and the SNS developer guide says adding
aws:SourceAccount, aws:SourceArn or aws:SourceOrgID to that key policy statement "is not supported for
EventBridge-to-encrypted topics" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
With one of them, every publish fails, and nothing at deploy says so. The topic's own policy is where
EventBridge is tied to the account.

The rule reads keys that encrypt an SNS topic of the app. A key that encrypts no topic is not judged:
EventBridge's own event-bus encryption asks for those very conditions in its key policy.
"""

from __future__ import annotations

from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render

EVENTS = "events.amazonaws.com"
_SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid")


def eventbridge_key_condition(resource: ResourceView, ctx: Context) -> Verdict:
    """No statement of a topic key's policy ties EventBridge's use of it to a source."""
    if resource.type != "AWS::KMS::Key" or not ctx.index.referrers(resource, "AWS::SNS::Topic"):
        return Verdict.not_applicable()
    grants = [s for s in _statements(resource.properties.get("KeyPolicy")) if _allows_eventbridge(s)]
    if not grants:
        return Verdict.not_applicable()
    for position, statement in enumerate(grants):
        keys = _source_keys(statement)
        if keys:
            label = str(statement.get("Sid") or f"statement{position}")
            return Verdict.fail(
                label,
                f"the key encrypts an SNS topic, and its statement {label!r} lets {EVENTS} use it only under "
                f"{', '.join(keys)}, which the SNS developer guide says is not supported for EventBridge-to-encrypted "
                "topics: every notice would fail to publish; drop the condition here and keep aws:SourceAccount in "
                "the topic's policy",
            )
    return Verdict.ok()


def _statements(document: Any) -> list[dict[str, Any]]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, dict)]


def _allows_eventbridge(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    services = principal.get("Service", []) if isinstance(principal, dict) else []
    named = [render(s) for s in (services if isinstance(services, list) else [services])]
    return statement.get("Effect") == "Allow" and EVENTS in named


def _source_keys(statement: dict[str, Any]) -> list[str]:
    """The source condition keys (as written) of a statement, under any operator."""
    conditions = statement.get("Condition") or {}
    return [
        str(key)
        for values in conditions.values()
        if isinstance(values, dict)
        for key in values
        if str(key).lower().startswith(_SOURCE_KEYS)
    ]


RULE = PreflightRule(
    "EventBridgeKeyCondition",
    frozenset({"AWS::KMS::Key"}),
    eventbridge_key_condition,
    "A key of an SNS topic whose policy ties events.amazonaws.com to aws:SourceAccount, aws:SourceArn or "
    "aws:SourceOrgID, which is not supported for EventBridge-to-encrypted topics: no notice is published "
    "(https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).",
    ("SI-4", "AU-6"),
    shortdesc=(
        "a key of an SNS topic whose policy ties `events.amazonaws.com` to "
        "`aws:SourceAccount`/`aws:SourceArn`/`aws:SourceOrgID`, which SNS does not support for EventBridge-to-"
        "encrypted topics: no notice would be published"
    ),
    source_url="https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
)
