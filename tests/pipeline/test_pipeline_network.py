"""What the pipeline's builds reach: a CodeArtifact package mirror and a build image pinned by digest.

Built from the boundary fixture (one protected environment, so every kind of CodeBuild project is there),
synthesized once for this module; the shipped behaviour without either is checked on the main fixture app.
"""

from __future__ import annotations

import json
import re
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
from compliance.preflight.unpinned_tool_install import buildspec_commands
from config import AppConfig, load_config
from config.rules import RESERVED_STAGE_IDS
from config.schema import EcrImage, PackageMirrorConfig
from pipeline import PipelineStack
from tests.conftest import FIXTURES, LAYOUTS, StackArtifact

BOUNDARY = FIXTURES / "boundary.yaml"
# What installs packages: pip and npm, and the make targets, which set up the venv, Node.js and the lock file.
_INSTALLS = {
    "pip": re.compile(r"\bpip3? install\b|\bmake (test|synth|setup)\b"),
    "npm": re.compile(r"\bnpm (install|ci|i)\b|\bmake (test|synth|setup)\b"),
}


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

    @property
    def mirror(self) -> PackageMirrorConfig:
        mirror = self.config.pipeline.package_mirror
        assert mirror is not None
        return mirror

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


def _buildspec(project: dict[str, Any], assembly: Path) -> list[str]:
    """A project's commands in order, from its inline buildspec or the assembly file CDK Pipelines wrote."""
    spec = project["Properties"]["Source"]["BuildSpec"]
    if isinstance(spec, dict):  # an Fn::Join around references: only its text parts hold commands
        spec = "".join(p for p in spec["Fn::Join"][1] if isinstance(p, str))
    if re.fullmatch(r"[^\n{]+\.ya?ml", spec.strip()):
        spec = (assembly / spec.strip()).read_text()
    return buildspec_commands(spec)


def _role_of(project: dict[str, Any]) -> str:
    role: str = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    return role


def _installers(boundary: Boundary) -> dict[str, set[str]]:
    """Each project that installs packages, with the tools it installs with."""
    found: dict[str, set[str]] = {}
    for logical_id, project in boundary.resources("AWS::CodeBuild::Project").items():
        commands = _buildspec(project, boundary.assembly)
        tools = {tool for tool, pattern in _INSTALLS.items() if any(pattern.search(c) for c in commands)}
        if tools:
            found[logical_id] = tools
    return found


def _login(tool: str, boundary: Boundary) -> str:
    repository = boundary.mirror.pypi_repository if tool == "pip" else boundary.mirror.npm_repository
    return (
        f"aws codeartifact login --tool {tool} --domain {boundary.mirror.domain} "
        f"--domain-owner {boundary.mirror.domain_owner} --repository {repository} "
        f"--region {boundary.config.pipeline.region}"
    )


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


def test_each_build_that_installs_packages_logs_in_to_codeartifact_first(boundary: Boundary) -> None:
    installers = _installers(boundary)
    # Synth (make: pip and npm), smoke test (pip), self-mutation, asset publishing and the security diff (npm:
    # the CDK CLI and cdk-assets). The evidence signing installs nothing.
    assert sorted(map(sorted, installers.values())) == sorted(
        [["npm", "pip"], ["pip"], ["npm"], ["npm"], ["npm"], ["npm"]]
    )
    projects = boundary.resources("AWS::CodeBuild::Project")
    for logical_id, tools in installers.items():
        commands = _buildspec(projects[logical_id], boundary.assembly)
        for tool in tools:
            login = commands.index(_login(tool, boundary))
            first_install = min(i for i, c in enumerate(commands) if _INSTALLS[tool].search(c))
            assert login < first_install, (logical_id, commands)
    for logical_id in set(projects) - set(installers):  # the protection step, the definition check, the signing
        assert not [c for c in _buildspec(projects[logical_id], boundary.assembly) if "codeartifact" in c]


def test_the_builds_that_install_may_read_the_mirror_and_nothing_else(boundary: Boundary) -> None:
    statements, roles = _managed_policy(boundary, "PackageMirrorRead")
    mirror, region = boundary.mirror, boundary.config.pipeline.region
    arn = f"arn:aws:codeartifact:{region}:{mirror.domain_owner}"
    assert statements == [
        {
            "Action": "codeartifact:GetAuthorizationToken",
            "Effect": "Allow",
            "Resource": f"{arn}:domain/{mirror.domain}",
        },
        {
            "Action": ["codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository"],
            "Effect": "Allow",
            "Resource": [f"{arn}:repository/{mirror.domain}/{r}" for r in ("npm-approved", "pypi-approved")],
        },
        {
            "Action": "sts:GetServiceBearerToken",
            "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": "*",
        },
    ]
    projects = boundary.resources("AWS::CodeBuild::Project")
    assert roles == {_role_of(projects[logical_id]) for logical_id in _installers(boundary)}
    (policy,) = [k for k in boundary.resources("AWS::IAM::ManagedPolicy") if k.startswith("PackageMirrorRead")]
    assert all(policy in projects[logical_id]["DependsOn"] for logical_id in _installers(boundary))
    others = [p["Properties"]["PolicyDocument"] for p in boundary.resources("AWS::IAM::Policy").values()]
    assert not re.search(r"codeartifact:|sts:GetServiceBearerToken", json.dumps(others))


def test_the_boundary_app_passes_the_gate_with_its_wildcards_and_image_acknowledged(boundary: Boundary) -> None:
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
        if a.path.startswith(("Pipeline/BuildImage/", "Pipeline/PackageMirror/")) or "CB5" in a.finding
    }
    assert ("AwsSolutions-IAM5[Resource::*]", "BuildImage") in ours
    assert ("AwsSolutions-IAM5[Resource::*]", "PackageMirror") in ours
    assert len([a for a in model.acknowledgments if a.finding == "AwsSolutions-CB5"]) == 9


def test_without_a_mirror_or_an_image_the_builds_are_as_before(
    stack: Callable[[str, str], StackArtifact], fixture_config: AppConfig
) -> None:
    assert (fixture_config.pipeline.package_mirror, fixture_config.pipeline.build_image) == (None, None)
    template = stack("", "Pipeline").template_json
    projects = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"]
    images = {(p["Environment"]["Image"], p["Environment"]["ImagePullCredentialsType"]) for p in projects}
    assert images == {("aws/codebuild/standard:7.0", "CODEBUILD")}
    assert "codeartifact" not in json.dumps(template)
    managed = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert "ecr:" not in json.dumps(managed)


def test_no_environment_may_take_the_id_of_a_part_of_the_pipeline_stack(
    boundary: Boundary, fixture_app: cdk.App
) -> None:
    # config/rules.py refuses these ids as stage ids: every child of the pipeline stack that is not a
    # stage must be one of them, in the main fixture app and in the app with a mirror and an image.
    for app, config in ((fixture_app, load_config(LAYOUTS)), (boundary.app, boundary.config)):
        stack = app.node.find_child("Pipeline")
        stages = {env.stage_id for env in config.environments}
        children = {child.node.id for child in stack.node.children} - stages
        assert children <= RESERVED_STAGE_IDS, sorted(children - RESERVED_STAGE_IDS)


def test_the_steps_with_privileges_log_in_outside_the_assembly(boundary: Boundary) -> None:
    # npm's login and install read an .npmrc in the working directory: self-mutation and the security diff, which
    # hold deploy or lookup roles, leave the commit's assembly before either.
    projects = boundary.resources("AWS::CodeBuild::Project")
    privileged = [k for k in projects if k.startswith(("PipelineUpdatePipelineSelfMutation", "SecurityDiffCheck"))]
    assert len(privileged) == 2, privileged
    for logical_id in privileged:
        commands = _buildspec(projects[logical_id], boundary.assembly)
        login = commands.index(_login("npm", boundary))
        assert 'cd "$(mktemp -d)"' in commands[:login], (logical_id, commands[:login])
        assert not [c for c in commands[:login] if "npm" in c or "aws " in c], (logical_id, commands[:login])
