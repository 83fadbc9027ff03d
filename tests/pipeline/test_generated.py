"""Every construct path into CDK Pipelines' internals lives in pipeline/generated.py, and each still resolves."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild

from config import PROJECT_ROOT
from pipeline import PipelineStack, generated


@pytest.fixture(scope="module")
def pipeline(fixture_app: cdk.App) -> PipelineStack:
    stack = fixture_app.node.find_child("Pipeline")
    assert isinstance(stack, PipelineStack)
    return stack


def test_each_lookup_finds_what_cdk_pipelines_generated(pipeline: PipelineStack) -> None:
    mutation = generated.self_mutation_project(pipeline.pipeline)
    assert isinstance(mutation.node.find_child("Resource"), codebuild.CfnProject)
    assert [r.node.id for r in generated.asset_roles(pipeline.pipeline)] == ["FileRole", "DockerRole"]
    assets = generated.asset_projects(pipeline.pipeline)
    assert sorted(p.node.id.rstrip("0123456789") for p in assets) == ["DockerAsset", "FileAsset"]
    docker = {p.node.path for p in generated.docker_asset_projects(pipeline.pipeline)}
    assert docker
    assert docker <= {p.node.path + "/Resource" for p in assets}
    assert generated.self_mutation_role(pipeline.pipeline).node.id == "Role"
    assert generated.source_role(pipeline.pipeline.pipeline).node.id == "CodePipelineActionRole"
    served = {
        role.node.id: sorted(
            p.node.id.rstrip("0123456789") for p in generated.asset_projects_of(pipeline.pipeline, role)
        )
        for role in generated.asset_roles(pipeline.pipeline)
    }
    assert served == {"FileRole": ["FileAsset"], "DockerRole": ["DockerAsset"]}
    assert generated.synth_output(pipeline.pipeline.pipeline).artifact_name
    assert generated.stage_named(pipeline.pipeline.pipeline, "UpdatePipeline").stage_name == "UpdatePipeline"


def test_a_moved_construct_fails_loudly_naming_the_path(pipeline: PipelineStack) -> None:
    with pytest.raises(generated.GeneratedConstructMovedError, match=r"'Renamed/SelfMutation'"):
        generated._child(pipeline.pipeline, "Renamed", "SelfMutation")
    with pytest.raises(generated.GeneratedConstructMovedError, match="no stage 'Deploy'"):
        generated.stage_named(pipeline.pipeline.pipeline, "Deploy")


def test_an_asset_role_that_serves_no_project_fails_loudly(pipeline: PipelineStack) -> None:
    with pytest.raises(generated.GeneratedConstructMovedError, match="runs as Pipeline/Pipeline/UpdatePipeline"):
        generated.asset_projects_of(pipeline.pipeline, generated.self_mutation_role(pipeline.pipeline))


_WILDCARD = {"Action": ["codebuild:StartBuild", "codebuild:StopBuild"], "Effect": "Allow", "Resource": "*"}
_NAMED = {"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": "arn:aws:iam::123456789012:role/named"}


def test_a_narrowed_statement_replaces_only_the_wildcard_grant_of_its_actions() -> None:
    narrow = {"Action": "codebuild:StartBuild", "Effect": "Allow", "Resource": "arn:aws:codebuild:::project/p"}
    document = {"Version": "2012-10-17", "Statement": [_NAMED, _WILDCARD]}
    replacements = {frozenset({"codebuild:StartBuild", "codebuild:StopBuild"}): [narrow]}
    assert generated.narrowed(document, replacements, "Role")["Statement"] == [_NAMED, narrow]
    assert generated.narrowed(document, {frozenset(_WILDCARD["Action"]): []}, "Role")["Statement"] == [_NAMED]


def test_a_narrowed_statement_that_is_no_longer_generated_fails_loudly() -> None:
    # A statement that names its resource is not the generated wildcard: it is kept, and the wildcard is missing.
    document = {"Version": "2012-10-17", "Statement": [_NAMED]}
    with pytest.raises(generated.GeneratedConstructMovedError, match=r"Role/DefaultPolicy no longer grants"):
        generated.narrowed(document, {frozenset({"sts:AssumeRole"}): []}, "Role/DefaultPolicy")
    with pytest.raises(generated.GeneratedConstructMovedError, match=r"codebuild:StartBuild"):
        generated.narrowed(document, {frozenset({"codebuild:StartBuild"}): []}, "Role/DefaultPolicy")


def test_bootstrap_roles_are_named_as_the_cdk_bootstrap_template_names_them() -> None:
    # cdk-<qualifier>-<kind>-role-<account>-<region> (the CDK CLI's bootstrap-template.yaml, RoleName of each role).
    assert generated.lookup_role_arn("aws-us-gov", "123456789012", "us-gov-west-1") == (
        "arn:aws-us-gov:iam::123456789012:role/cdk-hnb659fds-lookup-role-123456789012-us-gov-west-1"
    )
    assert generated.deploy_role_arn("aws", "123456789012", "us-east-1") == (
        "arn:aws:iam::123456789012:role/cdk-hnb659fds-deploy-role-123456789012-us-east-1"
    )


def _sources() -> list[Path]:
    folders = ("stacks", "stages", "pipeline", "components", "compliance")
    return [PROJECT_ROOT / "app.py", *(p for f in folders for p in sorted((PROJECT_ROOT / f).rglob("*.py")))]


def test_no_other_module_reaches_into_cdk_pipelines_by_path() -> None:
    reaching = re.compile(
        r'find_child\("(Source|UpdatePipeline|SelfMutation|Assets|PipelinesSecurityCheck|CDKSecurityCheck|'
        r'CDKPipelinesAutoApprove|ServiceRole|FileRole|DockerRole)"\)'
    )
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for path in _sources()
        if reaching.search(path.read_text()) and path.name != "generated.py"
    ]
    assert offenders == []
