"""What CDK Pipelines generates, found in one place.

CDK Pipelines offers no handle on some of what it builds (the self-mutation project, the
security-check project and function, the source action's role). Every construct path into
its internals lives here, and each lookup fails loudly, naming the path, if a CDK upgrade
moves it (tests/pipeline/test_generated.py calls each one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
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


def security_check(pipeline: pipelines.CodePipeline) -> IConstruct | None:
    """The security diff's CodeBuild project and approval function, where any stage has a security diff."""
    return pipeline.node.try_find_child("PipelinesSecurityCheck")


@dataclass(frozen=True)
class SecurityCheck:
    """What ConfirmPermissionsBroadening builds once per pipeline: the diff project and its approval function."""

    project: codebuild.Project  # the CodeBuild project (scope of its Role and Resource)
    project_role: iam.Role
    function: lambda_.CfnFunction
    function_role: iam.Role
    function_logs: logs.CfnLogGroup


def security_check_parts(pipeline: pipelines.CodePipeline) -> SecurityCheck | None:
    """The security check's parts, or None where no stage has a security diff."""
    check = security_check(pipeline)
    if check is None:
        return None
    project_role, function, function_role, function_logs = (
        _child(check, *path)
        for path in (
            ("CDKSecurityCheck", "Role"),
            ("CDKPipelinesAutoApprove", "Resource"),
            ("CDKPipelinesAutoApprove", "ServiceRole"),
            ("CDKPipelinesAutoApprove", "LogGroup", "Resource"),
        )
    )
    project = _child(check, "CDKSecurityCheck")
    assert isinstance(project, codebuild.Project)
    assert isinstance(project_role, iam.Role)
    assert isinstance(function_role, iam.Role)
    assert isinstance(function, lambda_.CfnFunction)
    assert isinstance(function_logs, logs.CfnLogGroup)
    return SecurityCheck(project, project_role, function, function_role, function_logs)


def harden_security_check(
    parts: SecurityCheck, *, telemetry_key: kms.IKey, build_logs: logs.ILogGroup, retention_days: int
) -> None:
    """Encrypt and retain the security check's logs, which CDK Pipelines builds outside `code_build_defaults`.

    Without this, the diff project's logs would go to an unencrypted default group and the approval
    function's log group would be unencrypted and kept forever.
    """
    project = _child(parts.project, "Resource")
    assert isinstance(project, codebuild.CfnProject)
    project.logs_config = codebuild.CfnProject.LogsConfigProperty(
        cloud_watch_logs=codebuild.CfnProject.CloudWatchLogsConfigProperty(
            status="ENABLED", group_name=build_logs.log_group_name
        )
    )
    build_logs.grant_write(parts.project_role)
    parts.function_logs.kms_key_id = telemetry_key.key_arn
    parts.function_logs.retention_in_days = retention_days


def deploy_role_arn(partition: str, account: str, region: str) -> str:
    """The CDK bootstrap's deploy role of an account and region (default qualifier)."""
    qualifier = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
    return f"arn:{partition}:iam::{account}:role/cdk-{qualifier}-deploy-role-{account}-{region}"


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


def _replaced(value: Any, old: str, new: str, where: str) -> Any:
    """`value` with `old` replaced by `new` in every string of it; refuses a value without `old`."""
    replaced = json.loads(json.dumps(value).replace(old, new))
    if replaced == value:
        raise GeneratedConstructMovedError(f"{where} no longer contains {old!r}")
    return replaced


def _in_buildspec(command: str) -> str:
    """`command` as it reads inside a buildspec that is JSON text inside a template value (escaped twice)."""
    return json.dumps(json.dumps(command)[1:-1])[1:-1]


def pin_security_check_cli(
    pipeline: pipelines.CodePipeline, cli_version: str, *, login: Sequence[str] = (), check: str = ""
) -> None:
    """Make the security diff check the assembly, then install the pinned CDK CLI and run it from an empty directory.

    CDK Pipelines writes `npm install -g aws-cdk` (unpinned) and `cdk diff -a .`, which runs the CLI in the
    assembly, where a `cdk.json` the commit wrote would have it run a `build` command with the diff's role.
    `check` (the deployed pipeline's assembly check), then `login`, run first, in the same command (the
    buildspec is JSON text in which a command is one string); the directory change lasts for the commands
    after it (buildspec version 0.2 runs them in one shell).
    """
    check_construct = security_check(pipeline)
    if check_construct is None:
        return
    project = _child(check_construct, "CDKSecurityCheck", "Resource")
    assert isinstance(project, codebuild.CfnProject)
    # The command is a JSON string inside the buildspec's JSON text: match it with its closing quotes.
    install = " && ".join(
        [*([check, 'cd "$(mktemp -d)"'] if check else []), *login, f"npm install -g aws-cdk@{cli_version}"]
    )
    old, new = '\\"npm install -g aws-cdk\\"', f'\\"{_in_buildspec(install)}\\"'
    diff_in_assembly, diff_from_outside = "cdk diff -a . ", _in_buildspec('cdk diff -a "$CODEBUILD_SRC_DIR" ')

    def rewrite(value: Any) -> Any:
        pinned = _replaced(value, old, new, project.node.path)
        return _replaced(pinned, diff_in_assembly, diff_from_outside, project.node.path) if check else pinned

    project.source = rewritten(project, project.source, rewrite)


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
    deploy_outside = _in_buildspec(
        f'{check} && {stacks} > /tmp/pipeline-stacks.txt && cd "$(mktemp -d)"'
        ' && cdk -a "$CODEBUILD_SRC_DIR" deploy $(cat /tmp/pipeline-stacks.txt) --exclusively'
        " --require-approval=never --verbose"
    )

    def rewrite(value: Any) -> Any:
        installed = _replaced(value, install_in_assembly, install_outside, project.node.path)
        return _replaced(installed, deploy_in_assembly, deploy_outside, project.node.path)

    project.source = rewritten(project, project.source, rewrite)
