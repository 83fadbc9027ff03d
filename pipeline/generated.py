"""What CDK Pipelines generates, found in one place.

CDK Pipelines offers no handle on some of what it builds (the self-mutation project and role,
the asset-publishing roles, the source action's role). Every construct path into its internals
lives here, and each lookup fails loudly, naming the path, if a CDK upgrade moves it
(tests/pipeline/test_generated.py calls each one).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import IConstruct


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
