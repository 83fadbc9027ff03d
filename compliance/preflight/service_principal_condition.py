"""ServicePrincipalCondition: a resource policy's grant to an AWS service is tied to this account or resource.

A statement that allows `events.amazonaws.com` (or any service principal) with no condition lets
the service act for any account's resource: another account's rule could publish to our topic,
another account's trail could write to our bucket. This is the cross-service confused deputy the
IAM user guide describes; services that act on a resource's behalf send `aws:SourceArn` and
`aws:SourceAccount` (and `aws:SourceOrgID`) so the policy can name whose resource may use the
grant (IAM user guide, "The confused deputy problem"; CloudTrail's bucket and key policies,
CloudWatch alarms and EventBridge targets for SNS, S3 server access logging all document these
keys). KMS key policies may tie the grant through the service's encryption context instead
(`kms:EncryptionContext:aws:logs:arn` for CloudWatch Logs, `...:aws:cloudtrail:arn` for
CloudTrail), or through `kms:ViaService` or `kms:CallerAccount`. A Lambda permission ties it with
its `SourceArn` or `SourceAccount` property.

Statements whose principal is an account or a role (`AWS`) are another rule's subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render

# Each resource-policy type and the property that holds its policy document (or single statement).
POLICY_PROPERTIES = {
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::Events::EventBusPolicy": "Statement",
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
}
_TYPES = frozenset({*POLICY_PROPERTIES, "AWS::Lambda::Permission"})
_SOURCE_KEYS = ("aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths")
_KMS_KEYS = ("kms:encryptioncontext:", "kms:viaservice", "kms:calleraccount")
# A service principal as written or as the CDK joins it: logs.<region>.amazonaws.com, ...<AWS::URLSuffix>.
_SERVICE_PRINCIPAL = re.compile(r"\.(amazonaws\.com(\.cn)?|<AWS::URLSuffix>)$")
_ADVICE = "add a condition naming the resource that acts for it (aws:SourceArn) or this account (aws:SourceAccount)"


def service_principal_condition(resource: ResourceView, ctx: Context) -> Verdict:
    """Every Allow to a service principal carries a condition that ties it to this account or resource."""
    if resource.type == "AWS::Lambda::Permission":
        return _lambda_permission(resource.properties)
    prop = POLICY_PROPERTIES.get(resource.type)
    if prop is None:
        return Verdict.not_applicable()
    tying_keys = _SOURCE_KEYS + (_KMS_KEYS if resource.type == "AWS::KMS::Key" else ())
    for finding, label, statement in _statements(resource.properties.get(prop)):
        for principal in _service_principals(statement):
            if not _tied(statement, tying_keys):
                return _untied(resource.type, finding, label, principal)
    return Verdict.ok()


def _lambda_permission(properties: dict[str, Any]) -> Verdict:
    principal = render(properties.get("Principal"))
    if not _SERVICE_PRINCIPAL.search(principal) or properties.get("SourceArn") or properties.get("SourceAccount"):
        return Verdict.ok()
    return Verdict.fail(
        principal,
        f"the permission lets {principal} invoke the function for any account's resource; set SourceArn (the "
        "resource that invokes it) or SourceAccount (this account) on the permission",
    )


def _statements(document: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(finding label, message label, statement) of each Allow statement: by its Sid, or by its index."""
    if not isinstance(document, dict):
        return
    statements = document.get("Statement", document)  # EventBusPolicy's property is one statement
    for position, statement in enumerate(statements if isinstance(statements, list) else [statements]):
        if isinstance(statement, dict) and statement.get("Effect") == "Allow":
            sid = statement.get("Sid")
            if sid:
                yield str(sid), f"Sid {str(sid)!r}", statement
            else:
                yield f"statement{position}", f"Statement[{position}]", statement


def _service_principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    services = principal.get("Service", []) if isinstance(principal, dict) else []
    rendered = [render(s) for s in (services if isinstance(services, list) else [services])]
    return [s for s in rendered if _SERVICE_PRINCIPAL.search(s)]


def _tied(statement: dict[str, Any], keys: tuple[str, ...]) -> bool:
    """A condition (other than a Null test) on one of `keys` (condition keys are case-insensitive)."""
    return any(
        operator != "Null" and isinstance(values, dict) and any(str(key).lower().startswith(keys) for key in values)
        for operator, values in (statement.get("Condition") or {}).items()
    )


def _untied(resource_type: str, finding: str, label: str, principal: str) -> Verdict:
    advice = _ADVICE
    if resource_type == "AWS::KMS::Key":
        advice += ", or the service's kms:EncryptionContext key"
    return Verdict.fail(
        f"{finding}:{principal}",
        f"the policy's statement {label} allows {principal} without a condition tying it to this account or "
        f"resource, so any account's resource of that service could use the grant; {advice}",
    )


RULE = PreflightRule(
    "ServicePrincipalCondition",
    _TYPES,
    service_principal_condition,
    "A resource policy that allows an AWS service principal without aws:SourceArn or aws:SourceAccount lets "
    "the service act for any account's resource (confused deputy).",
    ("AC-3", "AC-6"),
    shortdesc=(
        "a grant to an AWS service principal in a resource policy without `aws:SourceAccount`/`aws:SourceArn` (or "
        "the service's equivalent), which any account's resource of that service could use"
    ),
)
