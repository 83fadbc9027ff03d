"""What CDK Pipelines generates and does not let us narrow, accepted finding by finding.

Each list below names the exact wildcard findings of one generated role, so a
new wildcard that a CDK upgrade introduces fails the build until someone reads it.
Each kind of wildcard has its own reason and its own checks: the artifact bucket
it is confined to, the keys, the build logs, or the exact actions a `*` grants.
What CDK Pipelines wrote is a generated construct; a statement we wrote or narrowed
into a generated role is ours, a tool false positive where a wildcard only stands for
an id that cannot be known at synth, an operational requirement where it grants more.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import IConstruct

from compliance import AcknowledgmentKind, acknowledge, acknowledge_generated_inline_policies
from compliance.checks import (
    AccessLogged,
    Check,
    EncryptedWithCmk,
    GrantedOnlyOn,
    GrantsConfinedToAccount,
    KeptAtLeast,
    KeyRotation,
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
from pipeline.security_diff import SecurityDiff

# The read/write actions CodePipeline grants on its artifact bucket and key, as cdk-nag names them.
_ARTIFACT_READ = ("Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
_ARTIFACT_WRITE = ("Action::s3:DeleteObject*", "Action::s3:Abort*")
_ARTIFACT_KEY = ("Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")

# What CodePipeline grants on a replication key: encrypt and decrypt artifacts with it.
_REPLICATION_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")

BUCKET, KEY, LOG_GROUP = "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"
# FedRAMP's AU-11 retention (OMB M-21-31: 12 months active, 18 cold) in CloudWatch Logs' next period.
BUILD_LOG_RETENTION_DAYS = 1096
# What stands behind each kind of wildcard: first its scope (the statements that carry it name only this app's own
# bucket and its objects, or its own keys), then what that bucket or key is like.
_BUCKET_CHECKS: tuple[Check, ...] = (
    GrantedOnlyOn(tuple(finding.removeprefix("Action::") for finding in (*_ARTIFACT_READ, *_ARTIFACT_WRITE))),
    *(check(via="s3:GetObject*") for check in (Versioned, RetainedOnDelete, TlsOnly, EncryptedWithCmk, AccessLogged)),
)
_KEY_CHECKS: tuple[Check, ...] = (
    GrantedOnlyOn(tuple(finding.removeprefix("Action::") for finding in _ARTIFACT_KEY), resource_type=KEY),
    KeyRotation(via="kms:ReEncrypt*"),
    RetainedOnDelete(on=KEY, via="kms:ReEncrypt*"),
)
_BUILD_LOG_CHECKS: tuple[Check, ...] = (
    GrantsConfinedToAccount(("logs", "codebuild")),
    EncryptedWithCmk(on=LOG_GROUP),
    KeptAtLeast(BUILD_LOG_RETENTION_DAYS, on=LOG_GROUP),
)

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

_GENERATED = AcknowledgmentKind.GENERATED_CONSTRUCT

_REPLICATION_REASON = (
    "In each further region a stage deploys to, the pipeline copies artifacts into its replication bucket there; "
    "that bucket and key belong to another region's stack, so the grant names the bucket by its generated name "
    "and the keys of this account in that region, limited to the replication key's alias (kms:ResourceAliases)."
)

# One acknowledged group of findings: the finding suffixes, why, what kind of deviation, the checks that compensate.
_Grant = tuple[tuple[str, ...], str, AcknowledgmentKind, tuple[Check, ...]]
# A generated role, and the groups of findings on its default policy.
_Role = tuple[IConstruct, list[_Grant]]


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
    security_diff: SecurityDiff | None = None,
) -> None:
    """Acknowledge the findings on the roles CDK Pipelines generates. Call after `build_pipeline()`."""
    names = _FindingNames.of(stack, artifact_bucket)
    roles = [
        *_pipeline_roles(names, pipeline, region_supports),
        *([(_role(evidence_project), names.project(evidence_project))] if evidence_project is not None else []),
        *_stage_roles(names, stages, smoke_projects, protect_projects),
        *([_guard_role(names, guard)] if guard is not None else []),
        *([_security_diff_role(names, security_diff)] if security_diff is not None else []),
        *_asset_roles(names, pipeline),
    ]
    _acknowledge_grants(roles)
    _acknowledge_docker_asset_projects(pipeline)
    _acknowledge_replication_key_decrypt(pipeline.pipeline.role, region_supports)
    _acknowledge_replication_bucket_names(stack, region_supports)
    # Reviewed with each CDK upgrade, which can change what the grant methods write.
    acknowledge_generated_inline_policies(stack, review_by="2027-06-30")


@dataclass(frozen=True)
class _FindingNames:
    """How cdk-nag names the resources of this pipeline stack's wildcard grants."""

    stack: cdk.Stack
    partition: str
    bucket: str  # the artifact bucket's objects

    @classmethod
    def of(cls, stack: cdk.Stack, artifact_bucket: s3.IBucket) -> _FindingNames:
        partition = stack.partition if not cdk.Token.is_unresolved(stack.partition) else "aws"
        return cls(stack, partition, f"Resource::<{_logical_id(stack, artifact_bucket.node.default_child)}.Arn>/*")

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        region = self.stack.region if region is None else region
        account = self.stack.account if account is None else account
        return f"Resource::arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def artifacts(self, *, write: bool = True, key: bool = True) -> list[_Grant]:
        """The artifact bucket's object actions (read, and write unless `write=False`), and its key's."""
        actions = (*_ARTIFACT_READ, *(_ARTIFACT_WRITE if write else ()))
        grants: list[_Grant] = [((*actions, self.bucket), _BUCKET_REASON, _GENERATED, _BUCKET_CHECKS)]
        return grants + ([(_ARTIFACT_KEY, _KEY_REASON, _GENERATED, _KEY_CHECKS)] if key else [])

    def build_logs_of(self, project_scope: IConstruct) -> _Grant:
        """The log and report groups CodeBuild names after a project."""
        project = _logical_id(self.stack, project_scope.node.default_child)
        log_group, report_group = f"log-group:/aws/codebuild/<{project}>:*", f"report-group/<{project}>-*"
        return (
            (self.arn("logs", log_group), self.arn("codebuild", report_group)),
            _BUILD_LOG_REASON,
            _GENERATED,
            _BUILD_LOG_CHECKS,
        )

    def project(self, project: IConstruct, *, write: bool = True) -> list[_Grant]:
        """A project's role: the artifacts and the project's own build logs."""
        return [*self.artifacts(write=write), self.build_logs_of(project)]


def _pipeline_roles(
    names: _FindingNames, pipeline: pipelines.CodePipeline, region_supports: list[RegionSupportStack]
) -> list[_Role]:
    """The pipeline's own role, the source action's, the synth project's and self-mutation's."""
    account = names.stack.account
    # CodePipeline's grant on the replication buckets' objects; the keys' statement is ours, narrowed to the
    # replication keys' aliases (`narrow_replication_key_grants`), so its `key/*` stands for ids synth cannot know.
    buckets = tuple(
        f"Resource::arn:{names.partition}:s3:::{names.stack.resolve(support.bucket.bucket_name)}/*"
        for support in region_supports
    )
    keys = tuple(f"Resource::arn:{names.partition}:kms:{support.region}:{account}:key/*" for support in region_supports)
    checks = (*_BUCKET_CHECKS, *_KEY_CHECKS)
    replicated: list[_Grant] = [
        (buckets, _REPLICATION_REASON, _GENERATED, checks),
        (keys, _REPLICATION_REASON, AcknowledgmentKind.TOOL_FALSE_POSITIVE, checks),
    ]
    synth_role = pipeline.synth_project.role
    assert synth_role is not None, "the synth project has a generated role"
    self_mutation = generated.self_mutation_project(pipeline)
    return [
        (pipeline.pipeline.role, [*names.artifacts(), *(replicated if region_supports else [])]),
        (generated.source_role(pipeline.pipeline), names.artifacts()),
        (synth_role, names.project(pipeline.synth_project)),
        (
            generated.self_mutation_role(pipeline),
            [
                *names.project(self_mutation, write=False),
                (
                    tuple(
                        f"Resource::{arn}"
                        for arn in generated.self_mutation_stack_arns(
                            names.partition, account, [names.stack, *region_supports]
                        )
                    ),
                    "Self-mutation may read the state of the pipeline's own stacks and of the CDK bootstrap stack "
                    "of their regions, each by its name; CloudFormation appends an id of its own to a stack's ARN "
                    "when it creates the stack.",
                    AcknowledgmentKind.TOOL_FALSE_POSITIVE,
                    (WildcardGrantsOnly(("cloudformation:DescribeStacks",), "arn:*:cloudformation:*:stack/*/*"),),
                ),
            ],
        ),
    ]


def _stage_roles(
    names: _FindingNames,
    stages: list[EnvironmentConfig] | tuple[EnvironmentConfig, ...],
    smoke_projects: dict[str, codebuild.IProject],
    protect_projects: dict[str, codebuild.IProject],
) -> list[_Role]:
    """Each stage's smoke test, which calls the stage's readiness route, and the termination-protection steps."""
    method, path = HEALTH_CHECK_ROUTE
    roles: list[_Role] = []
    for stage in stages:
        project = smoke_projects[stage.stage_id]
        health = names.arn("execute-api", f"*/*/{method}{path}", region=stage.region, account=stage.account)
        roles.append(
            (
                _role(project),
                [
                    *names.project(project, write=False),
                    (
                        (health,),
                        f"The smoke test may call {method} {path} of any API of the stage's account: the API's id "
                        "belongs to a stack of another account and is not known to this one.",
                        AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
                        (WildcardGrantsOnly(("execute-api:Invoke",), f"arn:*:execute-api:*/{method}{path}"),),
                    ),
                ],
            )
        )
    return roles + [(_role(p), names.project(p, write=False)) for p in protect_projects.values()]


def _guard_role(names: _FindingNames, guard: PipelineGuard) -> _Role:
    """The definition check, which reads the running pipeline stack's template."""
    check_role = guard.project.role
    assert check_role is not None
    stack_arns = tuple(names.arn("cloudformation", f"stack/{name}/*", region=region) for name, region in guard.stacks)
    return (
        check_role,
        [
            *names.project(guard.project, write=False),
            (
                stack_arns,
                "The definition check reads the running templates of the pipeline stack and its region support "
                "stacks; a stack's id suffix is assigned by CloudFormation when the stack is created.",
                AcknowledgmentKind.TOOL_FALSE_POSITIVE,
                (GrantsConfinedToAccount(("cloudformation",), regions=tuple(r for _, r in guard.stacks)),),
            ),
        ],
    )


def _security_diff_role(names: _FindingNames, security_diff: SecurityDiff) -> _Role:
    """The security diff's project, which reads the stage accounts' stacks through their lookup roles."""
    return (_role(security_diff.project), names.project(security_diff.project, write=False))


def _asset_roles(names: _FindingNames, pipeline: pipelines.CodePipeline) -> list[_Role]:
    """The asset-publishing roles: the artifacts they read, and the build logs of the projects they serve."""
    return [
        (
            role,
            [
                *names.artifacts(write=False, key=False),
                *(names.build_logs_of(p) for p in generated.asset_projects_of(pipeline, role)),
            ],
        )
        for role in generated.asset_roles(pipeline)
    ]


def _acknowledge_grants(roles: list[_Role]) -> None:
    """Acknowledge each wildcard finding on the policy CDK Pipelines generated for its role."""
    for role, grants in roles:
        policy = role.node.find_child("DefaultPolicy").node.default_child
        assert policy is not None
        for findings, reason, kind, checks in grants:
            for finding in findings:
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[{finding}]",
                    reason=reason,
                    kind=kind,
                    checks=checks,
                    controls=["AC-6", "CM-5"],
                    review_by="2027-03-31",
                )


def _acknowledge_replication_key_decrypt(role: iam.IRole, region_supports: list[RegionSupportStack]) -> None:
    """The pipeline decrypts with the replication keys of other regions, which it can name only by alias."""
    if not region_supports:
        return
    policy = role.node.find_child("DefaultPolicy").node.default_child
    assert policy is not None
    acknowledge(
        policy,
        "Preflight-KmsBlockedActions[kms:Decrypt+kms:ReEncryptFrom]",
        reason=(
            "The replication keys belong to other regions' support stacks, so the pipeline's grant names this "
            "account's keys in those regions and limits them to the replication keys' aliases "
            "(kms:ResourceAliases); AWS Config's blocked-KMS-actions rules read that wildcard as every key "
            "because they do not read conditions."
        ),
        kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
        checks=[WildcardGrantsOnly(_REPLICATION_KEY_ACTIONS, "arn:*:kms:*:key/*", "kms:ResourceAliases")],
        controls=["AC-6", "SC-12"],
        review_by="2027-06-30",
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
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[Versioned(), RetainedOnDelete(), EncryptedWithCmk()],
            controls=["CM-2", "CP-9"],
            review_by="2027-06-30",
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
            kind=AcknowledgmentKind.GENERATED_CONSTRUCT,
            checks=[RunOnlyByPipeline()],
            controls=["CM-7", "SA-10"],
            review_by="2027-06-30",
        )


def _role(project: codebuild.IProject) -> iam.IRole:
    role = project.role
    assert role is not None, f"{project.node.path} has a role"
    return role


def _logical_id(stack: cdk.Stack, element: IConstruct | None) -> str:
    assert isinstance(element, cdk.CfnElement)
    return stack.resolve(stack.get_logical_id(element))  # type: ignore[no-any-return]
