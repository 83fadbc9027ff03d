"""KmsBlockedActions: no IAM policy allows the pack's blocked KMS actions on every key.

AWS Config's `iam-customer-policy-blocked-kms-actions` (customer managed policies) and
`iam-inline-policy-blocked-kms-actions` (inline policies of roles, users and groups), with the
FedRAMP Moderate pack's blockedActionsPatterns (kms:Decrypt, kms:ReEncryptFrom), are
NON_COMPLIANT for a policy that allows one of those actions on all KMS keys. The rules read a
resource with a wildcard as all keys and do not read conditions (AWS Config developer guide),
so a grant names the key it is for (`key.grant_decrypt(role)`), and one that cannot carries
an acknowledgment.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render
from compliance.runtime import pack_parameters

CONFIG_RULES = ("IAM_CUSTOMER_POLICY_BLOCKED_KMS_ACTIONS", "IAM_INLINE_POLICY_BLOCKED_KMS_ACTIONS")
# A resource AWS Config reads as every key: `*`, or a KMS ARN with a wildcard anywhere in it.
_EVERY_KEY = re.compile(r"^(\*|arn:[^:]*:kms:.*[*?].*)$")


def blocked_actions() -> tuple[str, ...]:
    """The pack's blocked KMS actions (the same for both rules)."""
    patterns = {pack_parameters(rule).get("blockedActionsPatterns", "") for rule in CONFIG_RULES}
    return tuple(sorted({a.strip() for p in patterns for a in p.split(",") if a.strip()}))


def kms_blocked_actions(resource: ResourceView, ctx: Context) -> Verdict:
    """No statement allows a blocked KMS action on every key."""
    if resource.type not in RULE.resource_types:
        return Verdict.not_applicable()
    blocked = blocked_actions()
    for document in _documents(resource):
        for statement in _list(document.get("Statement")):
            if statement.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in _list(statement.get("Action"))]
            hits = sorted({b for b in blocked for a in actions if fnmatch.fnmatchcase(b.lower(), a.lower())})
            every_key = any(_EVERY_KEY.match(render(r)) for r in _list(statement.get("Resource")))
            if hits and every_key:
                return Verdict.fail(
                    "+".join(hits),
                    f"a statement allows {', '.join(hits)} on every KMS key, which AWS Config's "
                    "iam-customer-policy-blocked-kms-actions and iam-inline-policy-blocked-kms-actions report in the "
                    "account's FedRAMP Moderate pack; grant the action on the key it is for "
                    "(key.grant_decrypt(principal))",
                )
    return Verdict.ok()


def _documents(resource: ResourceView) -> Iterator[dict[str, Any]]:
    if resource.type == "AWS::IAM::Role":
        for policy in resource.properties.get("Policies", []) or []:
            yield policy.get("PolicyDocument", {}) or {}
    else:
        yield resource.properties.get("PolicyDocument", {}) or {}


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


RULE = PreflightRule(
    "KmsBlockedActions",
    frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"}),
    kms_blocked_actions,
    "A policy that allows kms:Decrypt or kms:ReEncryptFrom on every key is NON_COMPLIANT with the account "
    "baseline's iam-*-policy-blocked-kms-actions rules, and lets its principal decrypt with any key that trusts it.",
    ("AC-6", "SC-12"),
    shortdesc=(
        "a policy allowing `kms:Decrypt` or `kms:ReEncryptFrom` on a wildcard key ARN (AWS Config reads no conditions)"
    ),
)
