"""What CDK Pipelines generates, found in one place.

CDK Pipelines offers no handle on some of what it builds (the self-mutation project, the
security-check project and function, the source action's role). Every construct path into
its internals lives here, and each lookup fails loudly, naming the path, if a CDK upgrade
moves it (tests/pipeline/test_generated.py calls each one).
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_codebuild as codebuild
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


@jsii.implements(cdk.IStableAnyProducer)
class _Replaced:
    """A property's resolved value with one text replaced in every string of it."""

    def __init__(self, scope: IConstruct, value: Any, old: str, new: str) -> None:
        self._scope, self._value, self._old, self._new = scope, value, old, new

    def produce(self) -> Any:
        resolved = cdk.Stack.of(self._scope).resolve(self._value)
        replaced = json.loads(json.dumps(resolved).replace(self._old, self._new))
        if replaced == resolved:
            raise GeneratedConstructMovedError(f"{self._scope.node.path} no longer contains {self._old!r}")
        return replaced


def pin_security_check_cli(pipeline: pipelines.CodePipeline, cli_version: str) -> None:
    """Make the security diff install the pinned CDK CLI: CDK Pipelines writes `npm install -g aws-cdk` there."""
    check = security_check(pipeline)
    if check is None:
        return
    project = _child(check, "CDKSecurityCheck", "Resource")
    assert isinstance(project, codebuild.CfnProject)
    # The command is a JSON string inside the buildspec's JSON text: match it with its closing quotes.
    project.source = cdk.Lazy.any(
        _Replaced(
            project, project.source, '\\"npm install -g aws-cdk\\"', f'\\"npm install -g aws-cdk@{cli_version}\\"'
        )
    )
