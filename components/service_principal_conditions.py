"""Ties the AWS service principals in generated resource policies to this account (confused deputy, AC-3, AC-6)."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from components.rewritten import rewritten

# Services known to send aws:SourceAccount when they act on a resource for an account, and which the
# CDK grants without a condition (EventBridge targets, CloudTrail's bucket grants). Others are left to
# the Preflight rule ServicePrincipalCondition, which names them.
CONFINED_SERVICES = frozenset({"events.amazonaws.com", "cloudtrail.amazonaws.com"})
# Services whose use of a KMS key fails under aws:SourceAccount/aws:SourceArn/aws:SourceOrgID: "not supported for
# EventBridge-to-encrypted topics" (SNS developer guide, sns-key-management.html#compatibility-with-aws-services).
# Their topic policies still carry the condition.
UNCONFINABLE_IN_KEY_POLICIES = frozenset({"events.amazonaws.com"})
# A statement with any of these keys is already tied to an account or a resource.
_BINDING_KEYS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "kms:EncryptionContext")


def _services(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    service = principal.get("Service", []) if isinstance(principal, dict) else []
    return {s for s in ([service] if isinstance(service, str) else service) if isinstance(s, str)}


def _bound(statement: dict[str, Any]) -> bool:
    keys = [key for values in statement.get("Condition", {}).values() for key in values]
    return any(key.startswith(binding) for key in keys for binding in _BINDING_KEYS)


def _confined(document: dict[str, Any], account: str, services: frozenset[str] = CONFINED_SERVICES) -> dict[str, Any]:
    statements = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") == "Allow" and _services(statement) & services and not _bound(statement):
            conditions = dict(statement.get("Condition", {}))
            conditions["StringEquals"] = {**conditions.get("StringEquals", {}), "aws:SourceAccount": account}
            statement = {**statement, "Condition": conditions}
        statements.append(statement)
    return {**document, "Statement": statements}


# The resources whose policy documents `confine_service_principals` rewrites: key, topic and bucket policies.
CONFINABLE = (kms.CfnKey, sns.CfnTopicPolicy, s3.CfnBucketPolicy)
Confinable = kms.CfnKey | sns.CfnTopicPolicy | s3.CfnBucketPolicy


def confine_service_principals(resource: Confinable, account: str) -> None:
    """Adds `aws:SourceAccount` of `account` (its stack's) to `resource`'s unconditioned grants to `CONFINED_SERVICES`.

    The CDK grants EventBridge (an SNS target and its topic's key) and CloudTrail (its bucket) with
    no condition, so any account's rule or trail could use them (AC-3, AC-6). The document is rewritten
    when the template is written, after every grant is made, so this may run before the last grant. Key
    policies leave EventBridge's grant alone (`UNCONFINABLE_IN_KEY_POLICIES`): with the condition, it
    could not publish to the topic. `harden_resource_policies` applies it to every such resource of a
    stage or stack.
    """
    if isinstance(resource, kms.CfnKey):
        services = CONFINED_SERVICES - UNCONFINABLE_IN_KEY_POLICIES
        resource.key_policy = rewritten(resource, resource.key_policy, lambda d: _confined(d, account, services))
    else:
        resource.policy_document = rewritten(resource, resource.policy_document, lambda d: _confined(d, account))
