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
    assert generated.synth_output(pipeline.pipeline.pipeline).artifact_name
    assert generated.stage_named(pipeline.pipeline.pipeline, "UpdatePipeline").stage_name == "UpdatePipeline"


def test_a_moved_construct_fails_loudly_naming_the_path(pipeline: PipelineStack) -> None:
    with pytest.raises(generated.GeneratedConstructMovedError, match=r"'Renamed/SelfMutation'"):
        generated._child(pipeline.pipeline, "Renamed", "SelfMutation")
    with pytest.raises(generated.GeneratedConstructMovedError, match="no stage 'Deploy'"):
        generated.stage_named(pipeline.pipeline.pipeline, "Deploy")


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
