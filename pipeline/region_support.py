"""The pipeline's artifact bucket in each further region a stage deploys to."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from components import EncryptionKey, LoggedBucket
from components.rewritten import rewritten


class RegionSupportStack(cdk.Stack):
    """A CodePipeline replication bucket we own, in one region of the pipeline account (SC-28(1), AU-2, AU-9).

    CodePipeline copies a run's artifacts into a bucket in the region of every
    cross-region action. Left to itself, CDK Pipelines generates that bucket with
    no access logs, no versioning and no retention; this stack replaces it with the
    same hardened bucket pair as the pipeline's own artifact store. The pipeline's
    stack lives in another region and can only name what it uses here, so the
    bucket has a generated physical name and its key is referred to through an
    alias (CloudFormation cannot export values across regions).
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = EncryptionKey(
            self,
            "ReplicationKey",
            description=f"Pipeline artifacts replicated to {self.region}, readable by the stage deployment roles",
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        ).key
        self.alias = kms.Alias(
            self,
            "ReplicationKeyAlias",
            alias_name=f"alias/{cdk.Names.unique_resource_name(key, max_length=200, separator='-').lower()}",
            target_key=key,
        )
        self.bucket: s3.IBucket = LoggedBucket(
            self,
            "Replication",
            encryption_key=self.alias,
            bucket_name=cdk.PhysicalName.GENERATE_IF_NEEDED,
            replication_reason=(
                "This bucket is itself CodePipeline's per-region copy of artifacts rebuilt from the source commit "
                "on every run; a further copy would protect nothing the repository does not already hold."
            ),
            log_prefix="artifacts/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
        ).bucket


def _narrowed(document: dict[str, Any], stack: cdk.Stack, supports: list[RegionSupportStack]) -> dict[str, Any]:
    """The policy document with its `kms:* on *` statement narrowed to the replication keys."""
    statements: list[dict[str, Any]] = []
    for statement in document["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if "*" not in resources or not all(a.startswith("kms:") for a in actions):
            statements.append(statement)
            continue
        named = [r for r in resources if r != "*"]
        if named:
            statements.append({**statement, "Resource": named[0] if len(named) == 1 else named})
        statements.append(
            {
                **statement,
                "Resource": [f"arn:{stack.partition}:kms:{s.region}:{stack.account}:key/*" for s in supports],
                # The key of another region's stack cannot be named; its alias can.
                "Condition": {
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": [s.alias.alias_name for s in supports]}
                },
            }
        )
    return {**document, "Statement": statements}


def narrow_replication_key_grants(role: iam.IRole, supports: list[RegionSupportStack]) -> None:
    """Limit the pipeline role's grant on the replication keys to exactly those keys.

    CDK grants a role on a key of another region with `Resource: "*"` (the key's ARN cannot
    cross regions), which would let the pipeline use any key of its account that trusts IAM
    policies. The statement is rewritten at synthesis, when every grant is in place, to the
    keys of this account in the support regions that carry the replication keys' aliases.
    """
    if not supports:
        return
    policy = role.node.find_child("DefaultPolicy")
    assert isinstance(policy, iam.Policy)
    resource = policy.node.default_child
    assert isinstance(resource, iam.CfnPolicy)
    stack = cdk.Stack.of(policy)
    resource.policy_document = rewritten(policy, policy.document, lambda d: _narrowed(d, stack, supports))
