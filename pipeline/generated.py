"""What CDK Pipelines generates, found in one place.

CDK Pipelines offers no handle on some of what it builds (the self-mutation project, the
security-check project and function, the source action's role). Every construct path into
its internals lives here, and each lookup fails loudly, naming the path, if a CDK upgrade
moves it (tests/pipeline/test_generated.py calls each one).
"""

from __future__ import annotations

from aws_cdk import aws_codepipeline as codepipeline
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


def self_mutation_project(pipeline: pipelines.CodePipeline) -> IConstruct:
    """The CodeBuild project of the UpdatePipeline stage."""
    return _child(pipeline, "UpdatePipeline", "SelfMutation")


def assets(pipeline: pipelines.CodePipeline) -> IConstruct:
    """The scope of the asset-publishing projects and their roles (FileRole, DockerRole)."""
    return _child(pipeline, "Assets")


def security_check(pipeline: pipelines.CodePipeline) -> IConstruct | None:
    """The security diff's CodeBuild project and approval function, where any stage has a security diff."""
    return pipeline.node.try_find_child("PipelinesSecurityCheck")


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
