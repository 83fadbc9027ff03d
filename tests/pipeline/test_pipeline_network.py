"""What the pipeline's builds run on: a build image pinned by digest.

Built from the boundary fixture (one protected environment, so every kind of CodeBuild project is there),
synthesized once for this module; the shipped behaviour without it is checked on the main fixture app.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from app import build_app
from compliance import findings
from compliance.assembly import CloudAssembly
from compliance.evaluation import evaluate
from compliance.gate import claim_failures
from config import AppConfig, load_config
from config.schema import EcrImage
from pipeline import PipelineStack
from tests.conftest import FIXTURES, StackArtifact

BOUNDARY = FIXTURES / "boundary.yaml"


@dataclass(frozen=True)
class Boundary:
    """The boundary fixture's app: its configuration, the pipeline stack, its template and the assembly."""

    config: AppConfig
    stack: PipelineStack
    template: dict[str, Any]
    assembly: Path
    app: cdk.App

    @property
    def image(self) -> EcrImage:
        image = self.config.pipeline.ecr_build_image
        assert image is not None
        return image

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == kind}


@pytest.fixture(scope="module")
def boundary(tmp_path_factory: pytest.TempPathFactory) -> Boundary:
    config = load_config(BOUNDARY)
    app: cdk.App = build_app(config, outdir=str(tmp_path_factory.mktemp("boundary.out")))
    assembly = Path(app.synth().directory)
    stack = app.node.find_child("Pipeline")
    assert isinstance(stack, PipelineStack)
    (pipeline,) = [s for s in CloudAssembly(assembly).stacks if s.path == "Pipeline"]
    return Boundary(config, stack, pipeline.template, assembly, app)


def _role_of(project: dict[str, Any]) -> str:
    role: str = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    return role


def _managed_policy(boundary: Boundary, name: str) -> tuple[list[dict[str, Any]], set[str]]:
    """The statements of the pipeline stack's managed policy whose logical id starts with `name`, and its roles."""
    (policy,) = [p for k, p in boundary.resources("AWS::IAM::ManagedPolicy").items() if k.startswith(name)]
    roles = {r["Ref"] for r in policy["Properties"]["Roles"]}
    return policy["Properties"]["PolicyDocument"]["Statement"], roles


def test_every_codebuild_project_runs_on_the_image_pinned_by_digest(boundary: Boundary) -> None:
    projects = boundary.resources("AWS::CodeBuild::Project")
    # Synth, self-mutation, file and image assets, the security diff, protection, smoke, signing, the definition check.
    assert len(projects) == 9
    template = Template.from_json(boundary.template)
    template.all_resources_properties(
        "AWS::CodeBuild::Project",
        {"Environment": Match.object_like({"Image": boundary.image.uri, "ImagePullCredentialsType": "SERVICE_ROLE"})},
    )
    assert boundary.image.uri.endswith(f"@sha256:{boundary.image.digest}")
    (pull_policy,) = [k for k in boundary.resources("AWS::IAM::ManagedPolicy") if k.startswith("BuildImagePull")]
    assert all(pull_policy in p["DependsOn"] for p in projects.values()), "each can pull before its first build"


def test_every_project_role_may_pull_that_repository_and_no_other(boundary: Boundary) -> None:
    statements, roles = _managed_policy(boundary, "BuildImagePull")
    repository = f"arn:aws:ecr:us-west-2:{boundary.image.account}:repository/{boundary.image.repository}"
    assert statements == [
        {
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Effect": "Allow",
            "Resource": repository,
        },
        {"Action": "ecr:GetAuthorizationToken", "Effect": "Allow", "Resource": "*"},
    ]
    assert roles == {_role_of(p) for p in boundary.resources("AWS::CodeBuild::Project").values()}
    other_policies = [
        *boundary.resources("AWS::IAM::Policy").values(),
        *(p for k, p in boundary.resources("AWS::IAM::ManagedPolicy").items() if not k.startswith("BuildImagePull")),
    ]
    assert "ecr:" not in json.dumps([p["Properties"]["PolicyDocument"] for p in other_policies])


def test_the_boundary_app_passes_the_gate_with_its_wildcard_and_image_acknowledged(boundary: Boundary) -> None:
    assert [f.line() for f in findings(boundary.assembly)] == []
    model = evaluate(
        boundary.app,
        boundary.assembly,
        stages=[e.stage_id for e in boundary.config.environments],
        runtime_services={stage.node.id: set() for stage in boundary.stack.stages},
    )
    assert [f.line() for f in claim_failures(model)] == []
    ours = {
        (a.finding, a.path.split("/")[1])
        for a in model.acknowledgments
        if a.path.startswith("Pipeline/BuildImage/") or "CB5" in a.finding
    }
    assert ("AwsSolutions-IAM5[Resource::*]", "BuildImage") in ours
    assert len([a for a in model.acknowledgments if a.finding == "AwsSolutions-CB5"]) == 9


def test_without_an_image_the_builds_run_on_the_curated_one(
    stack: Callable[[str, str], StackArtifact], fixture_config: AppConfig
) -> None:
    assert fixture_config.pipeline.build_image is None
    template = stack("", "Pipeline").template_json
    projects = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"]
    images = {(p["Environment"]["Image"], p["Environment"]["ImagePullCredentialsType"]) for p in projects}
    assert images == {("aws/codebuild/standard:7.0", "CODEBUILD")}
    managed = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert "ecr:" not in json.dumps(managed)
