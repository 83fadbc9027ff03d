"""What CDK Pipelines generates and does not let us narrow, accepted finding by finding.

Each list below names the exact wildcard findings of one generated role, so a
new wildcard that a CDK upgrade introduces fails the build until someone reads it.
Each kind of wildcard has its own reason and its own checks: the artifact bucket
it is confined to, the keys, the build logs, or the exact actions a `*` grants.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import IConstruct

from compliance import acknowledge, acknowledge_generated_inline_policies
from compliance.checks import (
    AccessLogged,
    AssumableOnlyBy,
    Check,
    EncryptedWithCmk,
    GrantsConfinedToAccount,
    KeptAtLeast,
    KeyRotation,
    NotInvocableByOthers,
    RetainedOnDelete,
    RunOnlyByPipeline,
    TlsOnly,
    Versioned,
    WildcardGrantsOnly,
)
from components.private_api import HEALTH_CHECK_ROUTE
from config import EnvironmentConfig
from pipeline import generated
from pipeline.guard import PipelineGuard
from pipeline.region_support import RegionSupportStack

# The read/write actions CodePipeline grants on its artifact bucket and key, as cdk-nag names them.
_ARTIFACT_READ = ("Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
_ARTIFACT_WRITE = ("Action::s3:DeleteObject*", "Action::s3:Abort*")
_ARTIFACT_KEY = ("Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")

BUCKET, KEY, LOG_GROUP = "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"
BUILD_LOG_RETENTION_DAYS = 365
# What stands behind each kind of wildcard: the bucket it is confined to, the keys, the build logs.
_BUCKET_CHECKS: tuple[Check, ...] = tuple(
    check(via="s3:GetObject*") for check in (Versioned, RetainedOnDelete, TlsOnly, EncryptedWithCmk, AccessLogged)
)
_KEY_CHECKS: tuple[Check, ...] = (
    KeyRotation(via="kms:ReEncrypt*"),
    RetainedOnDelete(on=KEY, via="kms:ReEncrypt*"),
)
_BUILD_LOG_CHECKS: tuple[Check, ...] = (
    GrantsConfinedToAccount(("logs", "codebuild")),
    EncryptedWithCmk(on=LOG_GROUP),
    KeptAtLeast(BUILD_LOG_RETENTION_DAYS, on=LOG_GROUP),
)
_BOOTSTRAP_ROLE_TAG = "iam:ResourceTag/aws-cdk:bootstrap-role"

_BUCKET_REASON = (
    "CDK Pipelines generates this role and grants it the artifact bucket's object-level actions; the "
    "wildcards cover the object keys of runs and the action families S3 needs to read and write "
    "artifacts, and cannot be narrowed without forking the construct."
)
_KEY_REASON = (
    "CDK Pipelines grants the KMS action families that encrypt and re-encrypt artifacts, on the pipeline's own "
    "keys only; the wildcards name action variants, not keys."
)
_BUILD_LOG_REASON = (
    "CodeBuild names a project's default log and report groups after the project at run time, so CDK Pipelines "
    "grants them by a wildcard under that name; the project's logs go to the pipeline's build log group."
)

_REPLICATION_REASON = (
    "In each further region a stage deploys to, the pipeline copies artifacts into its replication bucket there; "
    "that bucket and key belong to another region's stack, so the grant names the bucket by its generated name "
    "and the keys of this account in that region, limited to the replication key's alias (kms:ResourceAliases)."
)

# One acknowledged group of findings: the finding suffixes, why, and the checks that compensate.
_Grant = tuple[tuple[str, ...], str, tuple[Check, ...]]


def acknowledge_pipeline(
    stack: cdk.Stack,
    pipeline: pipelines.CodePipeline,
    artifact_bucket: s3.IBucket,
    *,
    stages: list[EnvironmentConfig] | tuple[EnvironmentConfig, ...],
    region_supports: list[RegionSupportStack],
    smoke_projects: dict[str, codebuild.IProject],
    protect_projects: dict[str, codebuild.IProject],
    guard: PipelineGuard | None = None,
    evidence_project: codebuild.IProject | None = None,
    telemetry_key: kms.IKey,
    build_logs: logs.ILogGroup,
) -> None:
    """Acknowledge the findings on the roles CDK Pipelines generates. Call after `build_pipeline()`."""
    account, region = stack.account, stack.region
    partition = stack.partition if not cdk.Token.is_unresolved(stack.partition) else "aws"
    bucket = f"Resource::<{_logical_id(stack, artifact_bucket.node.default_child)}.Arn>/*"

    def codebuild(project_scope: IConstruct) -> tuple[str, str]:
        project = _logical_id(stack, project_scope.node.default_child)
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
    source_role = generated.source_role(code_pipeline)
    replication = tuple(
        finding
        for support in region_supports
        for finding in (
            f"Resource::arn:{partition}:s3:::{stack.resolve(support.bucket.bucket_name)}/*",
            f"Resource::arn:{partition}:kms:{support.region}:{account}:key/*",
        )
    )

    def artifacts(*, write: bool = True, key: bool = True) -> list[_Grant]:
        actions = (*_ARTIFACT_READ, *(_ARTIFACT_WRITE if write else ()))
        grants: list[_Grant] = [((*actions, bucket), _BUCKET_REASON, _BUCKET_CHECKS)]
        return grants + ([(_ARTIFACT_KEY, _KEY_REASON, _KEY_CHECKS)] if key else [])

    def build_logs_of(project_scope: IConstruct | None) -> _Grant:
        names = codebuild(project_scope) if project_scope is not None else generic_codebuild()
        return (names, _BUILD_LOG_REASON, _BUILD_LOG_CHECKS)

    replicated: list[_Grant] = [(replication, _REPLICATION_REASON, (*_BUCKET_CHECKS, *_KEY_CHECKS))]
    roles: list[tuple[IConstruct, list[_Grant]]] = [
        (code_pipeline.role, [*artifacts(), *(replicated if replication else [])]),
        (source_role, artifacts()),
        (synth_role, [*artifacts(), build_logs_of(synth_project)]),
        (
            generated.self_mutation_role(pipeline),
            [
                *artifacts(write=False),
                build_logs_of(self_mutation),
                (
                    (f"Resource::arn:*:iam::{account}:role/*",),
                    "Self-mutation assumes the CDK bootstrap roles of this account, whose names carry the "
                    "bootstrap qualifier and are not known to this stack.",
                    (WildcardGrantsOnly(("sts:AssumeRole",), "arn:*:iam::*:role/*", _BOOTSTRAP_ROLE_TAG),),
                ),
                (
                    ("Resource::*",),
                    "Self-mutation reads the state of CloudFormation stacks and lists buckets before it updates "
                    "the pipeline; neither read names a resource known before the run.",
                    (WildcardGrantsOnly(("cloudformation:DescribeStacks", "s3:ListBucket")),),
                ),
            ],
        ),
    ]
    if evidence_project is not None:
        roles.append((_role(evidence_project), [*artifacts(), build_logs_of(evidence_project)]))
    for stage in stages:
        method, path = HEALTH_CHECK_ROUTE
        project = smoke_projects[stage.stage_id]
        health = f"Resource::arn:{partition}:execute-api:{stage.region}:{stage.account}:*/*/{method}{path}"
        roles.append(
            (
                _role(project),
                [
                    *artifacts(write=False),
                    build_logs_of(project),
                    (
                        (health,),
                        f"The smoke test may call {method} {path} of any API of the stage's account: the API's id "
                        "belongs to a stack of another account and is not known to this one.",
                        (WildcardGrantsOnly(("execute-api:Invoke",), f"arn:*:execute-api:*/{method}{path}"),),
                    ),
                ],
            )
        )
    roles += [(_role(p), [*artifacts(write=False), build_logs_of(p)]) for p in protect_projects.values()]
    if guard is not None:
        check_role = guard.project.role
        assert check_role is not None
        roles.append(
            (
                check_role,
                [
                    *artifacts(write=False),
                    build_logs_of(guard.project),
                    (
                        (f"Resource::arn:{partition}:cloudformation:{region}:{account}:stack/{stack.stack_name}/*",),
                        "The definition check reads the running pipeline stack's template; the stack's id suffix "
                        "is assigned by CloudFormation when the stack is created.",
                        (GrantsConfinedToAccount(("cloudformation",)),),
                    ),
                ],
            )
        )
    security_check = generated.security_check_parts(pipeline)
    if security_check is not None:
        approve_arn = _logical_id(stack, security_check.function)
        roles.append(
            (
                security_check.project_role,
                [
                    *artifacts(write=False),
                    build_logs_of(security_check.project),
                    (
                        (f"Resource::<{approve_arn}.Arn>:*",),
                        "The security diff invokes its own approval function, in any of its versions.",
                        (WildcardGrantsOnly(("lambda:InvokeFunction",), "<ref>:*"),),
                    ),
                    (
                        ("Resource::*",),
                        "The security diff reads the stacks of every stage account through their bootstrap "
                        "lookup roles, whose ARNs are not known to this stack.",
                        (WildcardGrantsOnly(("sts:AssumeRole",), condition=_BOOTSTRAP_ROLE_TAG),),
                    ),
                ],
            )
        )
        roles.append(
            (
                security_check.function_role,
                [
                    (
                        ("Resource::*",),
                        "The function that approves a security diff with no broadening calls "
                        "codepipeline:PutApprovalResult, which does not support resource-level permissions.",
                        (
                            WildcardGrantsOnly(
                                ("codepipeline:GetPipelineState", "codepipeline:PutApprovalResult"),
                                condition="aws:ResourceTag/SECURITY_CHECK",
                            ),
                        ),
                    )
                ],
            )
        )
        generated.harden_security_check(
            security_check, telemetry_key=telemetry_key, build_logs=build_logs, retention_days=BUILD_LOG_RETENTION_DAYS
        )
        _acknowledge_security_check_function(security_check)
    for asset_role in generated.asset_roles(pipeline):
        roles.append(
            (
                asset_role,
                [
                    *artifacts(write=False, key=False),
                    build_logs_of(None),
                    (
                        ("Resource::*",),
                        "Asset publishing starts and watches its own CodeBuild builds, which CDK Pipelines "
                        "grants on every project; the publishing roles it assumes are named in full.",
                        (
                            WildcardGrantsOnly(
                                ("codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild")
                            ),
                        ),
                    ),
                ],
            )
        )
    _acknowledge_grants(roles)
    _acknowledge_docker_asset_projects(pipeline)
    _acknowledge_replication_bucket_names(stack, region_supports)
    acknowledge_generated_inline_policies(stack)


def _acknowledge_grants(roles: list[tuple[IConstruct, list[_Grant]]]) -> None:
    """Acknowledge each wildcard finding on the policy CDK Pipelines generated for its role."""
    for role, grants in roles:
        policy = role.node.find_child("DefaultPolicy").node.default_child
        assert policy is not None
        for findings, reason, checks in grants:
            for finding in findings:
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[{finding}]",
                    reason=reason,
                    checks=checks,
                    controls=["AC-6", "CM-5"],
                )


def _acknowledge_replication_bucket_names(stack: cdk.Stack, region_supports: list[RegionSupportStack]) -> None:
    """The replication buckets' names, fixed because the pipeline's stack in another region must know them."""
    for support in region_supports:
        name = stack.resolve(support.bucket.bucket_name)
        acknowledge(
            support.bucket.node.default_child,  # type: ignore[arg-type]
            f"Preflight-RetainedPhysicalName[{name}]",
            reason=(
                "The pipeline's stack lives in another region and must name this replication bucket at synth, since "
                "CloudFormation cannot pass values across regions; the name is therefore derived from this stack's "
                "path and the same on every create. The bucket holds only copies of a run's artifacts. Before the "
                "support stack is ever created again, the retained bucket is emptied and deleted (README: Deploy)."
            ),
            checks=[Versioned(), RetainedOnDelete(), EncryptedWithCmk()],
            controls=["CM-2", "CP-9"],
        )


def _acknowledge_docker_asset_projects(pipeline: pipelines.CodePipeline) -> None:
    """Accept privileged mode on the projects that build the service's image: Docker needs it."""
    for project in generated.docker_asset_projects(pipeline):
        acknowledge(
            project,
            "ControlTower::CT.CODEBUILD.PR.4",
            reason=(
                "Building the service's container image runs the Docker daemon inside the build, which CodeBuild "
                "allows only in privileged mode; the project builds only the commit the pipeline is running, with "
                "pinned tools, and publishes to this app's repository."
            ),
            checks=[RunOnlyByPipeline()],
            controls=["CM-7", "SA-10"],
        )


def _acknowledge_security_check_function(parts: generated.SecurityCheck) -> None:
    """Accept what cannot change on the function CDK Pipelines builds to approve an unbroadened diff."""
    function = parts.function
    for rule, reason, checks in (
        (
            "NIST.800.53.R5-LambdaDLQ",
            "CodeBuild invokes this function synchronously to approve a security diff; a failed call fails the "
            "pipeline action, which is where the error is seen and retried, so there is no event to dead-letter.",
            (
                NotInvocableByOthers(),
                EncryptedWithCmk(on=LOG_GROUP),
                KeptAtLeast(BUILD_LOG_RETENTION_DAYS, on=LOG_GROUP),
            ),
        ),
        (
            "NIST.800.53.R5-LambdaInsideVPC",
            "The function calls only the CodePipeline API to record an approval; it reaches no private resource "
            "and placing it in a VPC would add a network path without protecting anything.",
            (NotInvocableByOthers(),),
        ),
        (
            "ControlTower::CT.LAMBDA.PR.3",
            "The function calls only the CodePipeline API to record an approval; it reaches no private resource "
            "and placing it in a VPC would add a network path without protecting anything.",
            (NotInvocableByOthers(),),
        ),
        (
            "NIST.800.53.R5-LambdaConcurrency",
            "It runs once per security diff; a reserved concurrency would take from the account's unreserved pool, "
            "and Lambda refuses any reservation that leaves less than the minimum, which new accounts are at.",
            (NotInvocableByOthers(),),
        ),
    ):
        acknowledge(function, rule, reason=reason, checks=checks, controls=["SC-7", "SI-2"])
    acknowledge(
        parts.function_role.node.default_child,  # type: ignore[arg-type]
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        reason=(
            "CDK Pipelines attaches AWS's basic execution policy to its approval function so it can write its "
            "own logs (it grants only log-stream creation and log writes); the construct offers no way to replace it."
        ),
        checks=[AssumableOnlyBy("lambda.amazonaws.com")],
        controls=["AC-6"],
    )


def _role(project: codebuild.IProject) -> iam.IRole:
    role = project.role
    assert role is not None, f"{project.node.path} has a role"
    return role


def _logical_id(stack: cdk.Stack, element: IConstruct | None) -> str:
    assert isinstance(element, cdk.CfnElement)
    return stack.resolve(stack.get_logical_id(element))  # type: ignore[no-any-return]
