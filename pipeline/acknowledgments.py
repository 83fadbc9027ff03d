"""What CDK Pipelines generates and does not let us narrow, accepted finding by finding.

Each list below names the exact wildcard findings of one generated role, so a
new wildcard that a CDK upgrade introduces fails the build until someone reads it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import IConstruct

from compliance import acknowledge, acknowledge_generated_inline_policies

# The read/write actions CodePipeline grants on its artifact bucket and key, as cdk-nag names them.
_ARTIFACT_READ = ("Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
_ARTIFACT_WRITE = ("Action::s3:DeleteObject*", "Action::s3:Abort*")
_ARTIFACT_KEY = ("Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")

_REASON = (
    "CDK Pipelines generates this role and grants it the artifact bucket's object-level actions; the "
    "wildcards cover the object keys of runs and the action families S3 and KMS need to read, write and "
    "re-encrypt artifacts, and cannot be narrowed without forking the construct."
)
_COMPENSATING = (
    "the bucket and its KMS key belong to this pipeline alone, are TLS-only and versioned, and their "
    "use is logged by S3 server access logs and CloudTrail"
)


def acknowledge_pipeline(stack: cdk.Stack, pipeline: pipelines.CodePipeline, artifact_bucket: s3.IBucket) -> None:
    """Acknowledge the findings on the roles CDK Pipelines generates. Call after `build_pipeline()`."""
    account, region = stack.account, stack.region
    partition = stack.partition if not cdk.Token.is_unresolved(stack.partition) else "aws"
    bucket = f"Resource::<{_logical_id(stack, artifact_bucket.node.default_child)}.Arn>/*"

    def codebuild(project_scope: IConstruct) -> tuple[str, str]:
        project = _logical_id(stack, project_scope.node.find_child("Resource"))
        return (
            f"Resource::arn:{partition}:logs:{region}:{account}:log-group:/aws/codebuild/<{project}>:*",
            f"Resource::arn:{partition}:codebuild:{region}:{account}:report-group/<{project}>-*",
        )

    def generic_codebuild() -> tuple[str, str]:
        return (
            f"Resource::arn:{partition}:logs:{region}:{account}:log-group:/aws/codebuild/*",
            f"Resource::arn:{partition}:codebuild:{region}:{account}:report-group/*",
        )

    code_pipeline = pipeline.pipeline
    synth_project = pipeline.synth_project
    synth_role = synth_project.role
    assert synth_role is not None, "the synth project has a generated role"
    self_mutation = stack.node.find_child("Pipeline").node.find_child("UpdatePipeline").node.find_child("SelfMutation")
    assets = stack.node.find_child("Pipeline").node.find_child("Assets")
    (source_role,) = [c for c in code_pipeline.node.find_child("Source").node.find_all() if isinstance(c, iam.Role)]

    roles: list[tuple[IConstruct, tuple[str, ...], str]] = [
        (code_pipeline.role, (*_ARTIFACT_READ, *_ARTIFACT_WRITE, *_ARTIFACT_KEY, bucket), _REASON),
        (source_role, (*_ARTIFACT_READ, *_ARTIFACT_WRITE, *_ARTIFACT_KEY, bucket), _REASON),
        (
            synth_role,
            (*_ARTIFACT_READ, *_ARTIFACT_WRITE, *_ARTIFACT_KEY, bucket, *codebuild(synth_project)),
            _REASON + " The CodeBuild log and report groups are named after the project at run time.",
        ),
        (
            self_mutation.node.find_child("Role"),
            (
                *_ARTIFACT_READ,
                *_ARTIFACT_KEY,
                bucket,
                *codebuild(self_mutation),
                f"Resource::arn:*:iam::{account}:role/*",
                "Resource::*",
            ),
            _REASON + " Self-mutation also assumes the CDK bootstrap roles (cdk-*-role-*) of this account and "
            "reads CloudFormation stacks, which is how the pipeline updates itself.",
        ),
    ]
    for asset_role in ("FileRole", "DockerRole"):
        roles.append(
            (
                assets.node.find_child(asset_role),
                (*_ARTIFACT_READ, bucket, *generic_codebuild(), "Resource::*"),
                _REASON + " Asset publishing assumes the bootstrap publishing roles of every stage account "
                "(their ARNs are not known to this stack) and writes to shared CodeBuild log groups.",
            )
        )
    for role, findings, reason in roles:
        policy = role.node.find_child("DefaultPolicy").node.default_child
        assert policy is not None
        for finding in findings:
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[{finding}]",
                reason=reason,
                compensating_control=_COMPENSATING,
                controls=["AC-6", "CM-5"],
            )
    acknowledge_generated_inline_policies(stack)


def _logical_id(stack: cdk.Stack, element: IConstruct | None) -> str:
    assert isinstance(element, cdk.CfnElement)
    return stack.resolve(stack.get_logical_id(element))  # type: ignore[no-any-return]
