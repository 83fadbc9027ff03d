"""What CDK Pipelines generates and does not let us narrow, accepted finding by finding.

Each list below names the exact wildcard findings of one generated role, so a
new wildcard that a CDK upgrade introduces fails the build until someone reads it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import IConstruct

from compliance import acknowledge, acknowledge_generated_inline_policies
from components.private_api import HEALTH_CHECK_ROUTE
from config import EnvironmentConfig
from pipeline import generated
from pipeline.guard import PipelineGuard
from pipeline.region_support import RegionSupportStack

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


def acknowledge_pipeline(
    stack: cdk.Stack,
    pipeline: pipelines.CodePipeline,
    artifact_bucket: s3.IBucket,
    *,
    stages: list[EnvironmentConfig] | tuple[EnvironmentConfig, ...],
    region_supports: list[RegionSupportStack],
    smoke_projects: dict[str, codebuild.IProject],
    guard: PipelineGuard | None = None,
    telemetry_key: kms.IKey,
    build_logs: logs.ILogGroup,
) -> None:
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
    self_mutation = generated.self_mutation_project(pipeline)
    assets = generated.assets(pipeline)
    (source_role,) = [c for c in code_pipeline.node.find_child("Source").node.find_all() if isinstance(c, iam.Role)]

    replication = tuple(
        finding
        for support in region_supports
        for finding in (
            f"Resource::arn:{partition}:s3:::{stack.resolve(support.bucket.bucket_name)}/*",
            f"Resource::arn:{partition}:kms:{support.region}:{account}:key/*",
        )
    )
    roles: list[tuple[IConstruct, tuple[str, ...], str]] = [
        (
            code_pipeline.role,
            (*_ARTIFACT_READ, *_ARTIFACT_WRITE, *_ARTIFACT_KEY, bucket, *replication),
            _REASON
            + (
                " In each further region a stage deploys to, the pipeline copies artifacts into its replication "
                "bucket there; that key belongs to another region's stack, so the grant names the keys of this "
                "account in that region and is limited to the replication key's alias (kms:ResourceAliases)."
                if replication
                else ""
            ),
        ),
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
    for stage in stages:
        method, path = HEALTH_CHECK_ROUTE
        project = smoke_projects[stage.stage_id]
        roles.append(
            (
                project.node.find_child("Role"),
                (
                    *_ARTIFACT_READ,
                    *_ARTIFACT_KEY,
                    bucket,
                    *codebuild(project),
                    f"Resource::arn:{partition}:execute-api:{stage.region}:{stage.account}:*/*/{method}{path}",
                ),
                _REASON + f" The smoke test may call {method} {path} of any API of the stage's account: the API's "
                "id belongs to a stack of another account and is not known to this one.",
            )
        )
    if guard is not None:
        check_role = guard.project.role
        assert check_role is not None
        roles.append(
            (
                check_role,
                (
                    *_ARTIFACT_READ,
                    *_ARTIFACT_KEY,
                    bucket,
                    *codebuild(guard.project),
                    f"Resource::arn:{partition}:cloudformation:{region}:{account}:stack/{stack.stack_name}/*",
                ),
                _REASON + " The definition check reads the running pipeline stack's template; the stack's id "
                "suffix is assigned by CloudFormation when the stack is created.",
            )
        )
    security_check = generated.security_check(pipeline)
    if security_check is not None:
        check_project = security_check.node.find_child("CDKSecurityCheck")
        approve = security_check.node.find_child("CDKPipelinesAutoApprove")
        approve_arn = _logical_id(stack, approve.node.find_child("Resource"))
        roles.append(
            (
                check_project.node.find_child("Role"),
                (
                    *_ARTIFACT_READ,
                    *_ARTIFACT_KEY,
                    bucket,
                    *codebuild(check_project),
                    f"Resource::<{approve_arn}.Arn>:*",
                    "Resource::*",
                ),
                _REASON + " The security diff reads the stacks of every stage account through their bootstrap "
                "lookup roles and invokes its own approval function (any version).",
            )
        )
        roles.append(
            (
                approve.node.find_child("ServiceRole"),
                ("Resource::*",),
                "The function that approves a security diff with no broadening calls "
                "codepipeline:PutApprovalResult, which does not support resource-level permissions.",
            )
        )
        _harden_security_check(approve, check_project, telemetry_key, build_logs)
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


def _harden_security_check(
    approve: IConstruct, check_project: IConstruct, telemetry_key: kms.IKey, build_logs: logs.ILogGroup
) -> None:
    """Encrypt and retain the security check's logs, cap its function's concurrency; accept what cannot change.

    CDK Pipelines builds the security-diff project and its approval function itself, outside
    `code_build_defaults`; without this their logs would be unencrypted and kept forever.
    """
    project = check_project.node.find_child("Resource")
    assert isinstance(project, codebuild.CfnProject)
    project.logs_config = codebuild.CfnProject.LogsConfigProperty(
        cloud_watch_logs=codebuild.CfnProject.CloudWatchLogsConfigProperty(
            status="ENABLED", group_name=build_logs.log_group_name
        )
    )
    role = check_project.node.find_child("Role")
    assert isinstance(role, iam.Role)
    build_logs.grant_write(role)
    log_group = approve.node.find_child("LogGroup").node.default_child
    assert isinstance(log_group, logs.CfnLogGroup)
    log_group.kms_key_id = telemetry_key.key_arn
    log_group.retention_in_days = 365
    function = approve.node.find_child("Resource")
    assert isinstance(function, lambda_.CfnFunction)
    function.reserved_concurrent_executions = 2  # one approval per stage at a time is all it ever does
    for rule, reason in (
        (
            "NIST.800.53.R5-LambdaDLQ",
            "CodeBuild invokes this function synchronously to approve a security diff; a failed call fails the "
            "pipeline action, which is where the error is seen and retried, so there is no event to dead-letter.",
        ),
        (
            "NIST.800.53.R5-LambdaInsideVPC",
            "The function calls only the CodePipeline API to record an approval; it reaches no private resource "
            "and placing it in a VPC would add a network path without protecting anything.",
        ),
    ):
        acknowledge(
            function,
            rule,
            reason=reason,
            compensating_control="only the pipeline's security-check project may invoke it, and CloudTrail logs it",
            controls=["SC-7", "SI-2"],
        )
    acknowledge(
        approve.node.find_child("ServiceRole").node.default_child,  # type: ignore[arg-type]
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason=(
            "CDK Pipelines attaches AWS's basic execution policy to its approval function so it can write its "
            "own logs; the construct offers no way to replace it."
        ),
        compensating_control="the policy grants only log-stream creation and log writes",
        controls=["AC-6"],
    )


def _logical_id(stack: cdk.Stack, element: IConstruct | None) -> str:
    assert isinstance(element, cdk.CfnElement)
    return stack.resolve(stack.get_logical_id(element))  # type: ignore[no-any-return]
