"""What CDK Pipelines generates, found in one place.

CDK Pipelines offers no handle on some of what it builds (the self-mutation project and role,
the asset-publishing roles, the source action's role). Every construct path into its internals
lives here, and each lookup fails loudly, naming the path, if a CDK upgrade moves it
(tests/pipeline/test_generated.py calls each one); so does each rewrite of a policy it generates
when the statement it narrows is no longer there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import IConstruct

from components.rewritten import rewritten


class GeneratedConstructMovedError(LookupError):
    """A CDK upgrade moved a construct this project hardens or acknowledges."""


def _child(scope: IConstruct, *path: str) -> IConstruct:
    node = scope
    for part in path:
        found = node.node.try_find_child(part)
        if found is None:
            where = "/".join(path)
            raise GeneratedConstructMovedError(
                f"CDK Pipelines no longer has {where!r} under {scope.node.path}: update pipeline/generated.py"
            )
        node = found
    return node


def self_mutation_project(pipeline: pipelines.CodePipeline) -> codebuild.Project:
    """The CodeBuild project of the UpdatePipeline stage."""
    project = _child(pipeline, "UpdatePipeline", "SelfMutation")
    assert isinstance(project, codebuild.Project)
    return project


def self_mutation_role(pipeline: pipelines.CodePipeline) -> iam.Role:
    """The role self-mutation runs with."""
    role = _child(self_mutation_project(pipeline), "Role")
    assert isinstance(role, iam.Role)
    return role


def asset_roles(pipeline: pipelines.CodePipeline) -> list[IConstruct]:
    """The roles of the asset-publishing projects (file and Docker image assets)."""
    return [_child(pipeline, "Assets", name) for name in ("FileRole", "DockerRole")]


def asset_projects(pipeline: pipelines.CodePipeline) -> list[codebuild.Project]:
    """The CodeBuild projects that publish file and container image assets ("FileAsset", "DockerAsset2", ...)."""
    assets = pipeline.node.try_find_child("Assets")
    children = assets.node.children if assets is not None else []
    return [c for c in children if isinstance(c, codebuild.Project) and c.node.id.startswith(("File", "Docker"))]


def asset_projects_of(pipeline: pipelines.CodePipeline, role: IConstruct) -> list[codebuild.Project]:
    """The asset-publishing projects that run as `role` (one of `asset_roles`); fails if none does."""
    served = [p for p in asset_projects(pipeline) if p.role is not None and p.role.node.path == role.node.path]
    if not served:
        raise GeneratedConstructMovedError(
            f"no asset-publishing project of {pipeline.node.path} runs as {role.node.path}"
        )
    return served


def docker_asset_projects(pipeline: pipelines.CodePipeline) -> list[IConstruct]:
    """The CodeBuild projects that build and publish container image assets ("DockerAsset", "DockerAsset2", ...)."""
    assets = pipeline.node.try_find_child("Assets")
    if assets is None:
        return []
    return [child.node.default_child for child in assets.node.children if child.node.id.startswith("DockerAsset")]  # type: ignore[misc]


def source_role(code_pipeline: codepipeline.Pipeline) -> iam.Role:
    """The role of the source action (CodeConnections)."""
    (role,) = [c for c in _child(code_pipeline, "Source").node.find_all() if isinstance(c, iam.Role)]
    return role


def grant_connection_use(code_pipeline: codepipeline.Pipeline, connection_arn: str) -> None:
    """Let the source action's role use the connection under the service prefix of the connection's own ARN.

    The CDK grants `codestar-connections:UseConnection` whatever the ARN, but connections created since the
    rename have `arn:...:codeconnections:` ARNs, and "the service prefix must match that of the resource"
    (Developer Tools console user guide, connections rename: https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html).
    """
    prefix = connection_arn.split(":")[2]  # codeconnections, or codestar-connections for older connections
    source_role(code_pipeline).add_to_principal_policy(
        iam.PolicyStatement(actions=[f"{prefix}:UseConnection"], resources=[connection_arn])
    )


def bootstrap_role_arn(kind: str, partition: str, account: str, region: str) -> str:
    """A role the CDK bootstrap creates in an account and region (default qualifier).

    `kind` is deploy, lookup, file-publishing or image-publishing: the bootstrap template names each
    cdk-<qualifier>-<kind>-role-<account>-<region>.
    """
    qualifier = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
    return f"arn:{partition}:iam::{account}:role/cdk-{qualifier}-{kind}-role-{account}-{region}"


def deploy_role_arn(partition: str, account: str, region: str) -> str:
    """The CDK bootstrap's deploy role of an account and region (default qualifier)."""
    return bootstrap_role_arn("deploy", partition, account, region)


def lookup_role_arn(partition: str, account: str, region: str) -> str:
    """The CDK bootstrap's lookup role of an account and region: read-only, and it may not decrypt with KMS."""
    return bootstrap_role_arn("lookup", partition, account, region)


def stage_named(code_pipeline: codepipeline.Pipeline, name: str) -> codepipeline.IStage:
    """A stage of the underlying CodePipeline by name."""
    for stage in code_pipeline.stages:
        if stage.stage_name == name:
            return stage
    raise GeneratedConstructMovedError(f"the pipeline has no stage {name!r}: CDK Pipelines renamed its stages")


def synth_output(code_pipeline: codepipeline.Pipeline) -> codepipeline.Artifact:
    """The Synth action's output artifact: the cloud assembly this run produced."""
    build = stage_named(code_pipeline, "Build")
    (synth,) = [a for a in build.actions if a.action_properties.action_name == "Synth"]
    outputs = synth.action_properties.outputs or []
    if len(outputs) != 1:
        raise GeneratedConstructMovedError("the Synth action no longer has exactly one output artifact")
    return outputs[0]


# The statements CDK Pipelines' asset-publishing role (AssetSingletonRole) grants itself for every project
# it might serve, by their actions; a project's own grants of the same actions are dropped as duplicates.
_BUILD_LOGS = frozenset({"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"})
_REPORTS = frozenset(
    {
        "codebuild:BatchPutCodeCoverages",
        "codebuild:BatchPutTestCases",
        "codebuild:CreateReport",
        "codebuild:CreateReportGroup",
        "codebuild:UpdateReport",
    }
)
_BUILDS = frozenset({"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"})
# Self-mutation's grants beside its project's own.
_ASSUME = frozenset({"sts:AssumeRole"})
_DESCRIBE_AND_LIST = frozenset({"cloudformation:DescribeStacks", "s3:ListBucket"})


def _actions(statement: dict[str, Any]) -> frozenset[str]:
    action = statement.get("Action", [])
    return frozenset([action] if isinstance(action, str) else action)


def narrowed(
    document: dict[str, Any], replacements: Mapping[frozenset[str], Sequence[dict[str, Any]]], where: str
) -> dict[str, Any]:
    """`document` with each statement that grants exactly the actions of a key of `replacements` on a wildcard
    resource replaced by that key's statements; fails, naming `where`, if one of them is not there."""
    statements: list[dict[str, Any]] = []
    found: set[frozenset[str]] = set()
    for statement in document["Statement"]:
        actions = _actions(statement)
        if actions in replacements and "*" in json.dumps(statement.get("Resource")):
            found.add(actions)
            statements += replacements[actions]
        else:
            statements.append(statement)
    missing = sorted(sorted(actions) for actions in replacements if actions not in found)
    if missing:
        raise GeneratedConstructMovedError(f"{where} no longer grants {missing} on a wildcard: update {__name__}")
    return {**document, "Statement": statements}


def _narrow(role: IConstruct, replacements: Mapping[frozenset[str], Sequence[iam.PolicyStatement]]) -> None:
    """Narrow `role`'s default policy (see `narrowed`) at synthesis, when every grant is in place."""
    policy = _child(role, "DefaultPolicy", "Resource")
    assert isinstance(policy, iam.CfnPolicy)
    stack, where = cdk.Stack.of(policy), policy.node.path

    def rewrite(document: dict[str, Any]) -> dict[str, Any]:
        resolved = {k: [stack.resolve(s.to_statement_json()) for s in v] for k, v in replacements.items()}
        return narrowed(document, resolved, where)

    policy.policy_document = rewritten(policy, policy.policy_document, rewrite)


def narrow_asset_roles(pipeline: pipelines.CodePipeline) -> None:
    """Confine the asset-publishing roles to their own projects (AC-6).

    CDK Pipelines shares one role per asset type among the projects that publish assets and grants
    it, for any project, CloudWatch Logs and report groups under `/aws/codebuild/*` and
    `codebuild:StartBuild`, `BatchGetBuilds` and `StopBuild` on `*`. The logs and reports are narrowed
    to this pipeline's publishing projects (their builds log to the pipeline's build log group,
    granted apart). The build actions are removed: a project's own role never starts builds, and the
    pipeline's asset actions start theirs with CDK Pipelines' CodeBuild action role, which may start
    only this pipeline's projects.
    """
    for role in asset_roles(pipeline):
        served = asset_projects_of(pipeline, role)
        stack = cdk.Stack.of(role)
        logs_arns = [
            stack.format_arn(
                service="logs",
                resource="log-group",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                resource_name=f"/aws/codebuild/{p.project_name}{suffix}",
            )
            for p in served
            for suffix in (":*", "")
        ]
        reports = [
            stack.format_arn(service="codebuild", resource="report-group", resource_name=f"{p.project_name}-*")
            for p in served
        ]
        _narrow(
            role,
            {
                _BUILD_LOGS: [iam.PolicyStatement(actions=sorted(_BUILD_LOGS), resources=logs_arns)],
                _REPORTS: [iam.PolicyStatement(actions=sorted(_REPORTS), resources=reports)],
                _BUILDS: [],
            },
        )


def self_mutation_stack_arns(partition: str, account: str, stacks: Sequence[cdk.Stack]) -> list[str]:
    """The stacks self-mutation may describe: the pipeline's `stacks` and the bootstrap stack of each of their
    regions, each by its name (CloudFormation appends an id of its own to a stack's ARN)."""
    return [
        f"arn:{partition}:cloudformation:{region}:{account}:stack/{name}/*"
        for region in sorted({s.region for s in stacks})
        for name in ("CDKToolkit", *(s.stack_name for s in stacks if s.region == region))
    ]


def narrow_self_mutation_role(pipeline: pipelines.CodePipeline, *, stacks: Sequence[cdk.Stack]) -> None:
    """Confine self-mutation to what `cdk deploy` of the pipeline's own `stacks` needs (AC-6, CM-5).

    CDK Pipelines lets self-mutation assume any bootstrap role of the pipeline account
    (`arn:*:iam::<account>:role/*` tagged deploy, file-publishing or image-publishing) and call
    `cloudformation:DescribeStacks` and `s3:ListBucket` on `*`. `cdk deploy` publishes each stack's
    template with the file-publishing role and deploys it with the deploy role of its region; the
    pipeline's stacks have no image asset, so image publishing is not granted. The two reads, which
    the CLI makes with the project's own credentials only where it falls back from an assumed role,
    are confined to the bootstrap stack, the pipeline's stacks and the bootstrap asset buckets of
    those regions.
    """
    account, partition = cdk.Stack.of(pipeline).account, cdk.Stack.of(pipeline).partition
    regions = sorted({s.region for s in stacks})
    qualifier = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
    assumed = [
        bootstrap_role_arn(kind, partition, account, region)
        for region in regions
        for kind in ("deploy", "file-publishing")
    ]
    described = self_mutation_stack_arns(partition, account, stacks)
    buckets = [f"arn:{partition}:s3:::cdk-{qualifier}-assets-{account}-{region}" for region in regions]
    _narrow(
        self_mutation_role(pipeline),
        {
            _ASSUME: [iam.PolicyStatement(actions=["sts:AssumeRole"], resources=assumed)],
            _DESCRIBE_AND_LIST: [
                iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=described),
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=buckets),
            ],
        },
    )


def _replaced(value: Any, old: str, new: str, where: str) -> Any:
    """`value` with `old` replaced by `new` in every string of it; refuses a value without `old`."""
    replaced = json.loads(json.dumps(value).replace(old, new))
    if replaced == value:
        raise GeneratedConstructMovedError(f"{where} no longer contains {old!r}")
    return replaced


def _in_buildspec(command: str) -> str:
    """`command` as it reads inside a buildspec that is JSON text inside a template value (escaped twice)."""
    return json.dumps(json.dumps(command)[1:-1])[1:-1]


def check_before_self_mutation(pipeline: pipelines.CodePipeline, *, stack_name: str, check: str, stacks: str) -> None:
    """Make self-mutation check the assembly before it installs anything, then deploy from an empty directory
    exactly the stacks the check admitted.

    CDK Pipelines writes `npm install -g aws-cdk@...` and `cdk -a . deploy <pipeline stack>`, both run in the
    assembly: npm would read an `.npmrc` there (another registry, another CLI), the CLI a `cdk.json` (a `build`
    command run with the deploy role), and the CLI deploys every stack the assembly's manifest makes a
    dependency of the pipeline stack. `check` is the deployed pipeline's assembly check; `stacks` the command
    that prints the pipeline-account stacks it admitted (the stacks the definition check compared).
    """
    project = _child(self_mutation_project(pipeline), "Resource")
    assert isinstance(project, codebuild.CfnProject)
    install_in_assembly = '\\"npm install -g aws-cdk@'
    install_outside = '\\"' + _in_buildspec(f'{check} && cd "$(mktemp -d)" && ') + "npm install -g aws-cdk@"
    deploy_in_assembly = f"cdk -a . deploy {stack_name} --require-approval=never --verbose"
    # The install phase checked the assembly and unpacked the checks; `stacks` checks it again as it lists them.
    deploy_outside = _in_buildspec(
        f'{stacks} > /tmp/pipeline-stacks.txt && cd "$(mktemp -d)"'
        ' && cdk -a "$CODEBUILD_SRC_DIR" deploy $(cat /tmp/pipeline-stacks.txt) --exclusively'
        " --require-approval=never --verbose"
    )

    def rewrite(value: Any) -> Any:
        installed = _replaced(value, install_in_assembly, install_outside, project.node.path)
        return _replaced(installed, deploy_in_assembly, deploy_outside, project.node.path)

    project.source = rewritten(project, project.source, rewrite)
