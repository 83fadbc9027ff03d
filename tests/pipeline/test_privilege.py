"""Least privilege in the pipeline stack: each role may do what its step needs and no more (AC-6, CM-5).

Read from the fixture app's pipeline template: stages in three regions and three stage accounts, a first
stage and a later one without approval, and a wave of two stages.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from config import AppConfig
from pipeline import generated, security_diff
from tests.conftest import StackArtifact, resources_of

ASSET_BUILD_ACTIONS = {"codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild"}
ARTIFACT_WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:Abort")


@pytest.fixture(scope="module")
def template(stack: Callable[[str, str], StackArtifact]) -> dict[str, Any]:
    return stack("", "Pipeline").template_json


@pytest.fixture(scope="module")
def stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    (pipeline,) = resources_of(template, "AWS::CodePipeline::Pipeline").values()
    found: list[dict[str, Any]] = pipeline["Properties"]["Stages"]
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A resource as text: the parts of an Fn::Join, references as <Ref:id> / <id.Attr>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_text(part) for part in value["Fn::Join"][1])
    if "Ref" in value:
        return f"<Ref:{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return json.dumps(value, sort_keys=True)


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement granted to the role of logical id `role`, by its policies and managed policies."""
    return [
        statement
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for policy in resources_of(template, kind).values()
        if {"Ref": role} in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _granted(statements: list[dict[str, Any]], action: str) -> list[str]:
    """The resources, as text, on which `statements` allow `action`."""
    return sorted(
        _text(resource)
        for s in statements
        if s["Effect"] == "Allow" and action in _list(s["Action"])
        for resource in _list(s["Resource"])
    )


def _role_of(template: dict[str, Any], logical_id: str) -> str:
    role: str = template["Resources"][logical_id]["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    return role


def _function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, f)
        for logical_id, f in resources_of(template, "AWS::Lambda::Function").items()
        if security_diff.CONFIRMATIONS_VARIABLE in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    return found


def _actions(stages: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for stage in stages:
        for action in stage["Actions"]:
            yield stage["Name"], action


def _confirmations(stages: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (stage, action["Name"])
        for stage, action in _actions(stages)
        if action["ActionTypeId"]["Category"] == "Approval" and action["Name"].startswith("SecurityDiff")
    }


def _pipeline_ref(template: dict[str, Any]) -> str:
    (logical_id,) = resources_of(template, "AWS::CodePipeline::Pipeline")
    return f"<Ref:{logical_id}>"


# --- the security diff's confirming function ---------------------------------------------------------


def test_the_pipeline_stack_publishes_no_code_asset(assembly_dir: Path) -> None:
    # Its only file asset is its own template: nothing a commit's synth writes runs as code of the pipeline.
    manifest = json.loads((assembly_dir / "Pipeline.assets.json").read_text())
    assert [entry["source"] for entry in manifest["files"].values()] == [
        {"path": "Pipeline.template.json", "packaging": "file"}
    ]
    assert manifest["dockerImages"] == {}
    # Nor do the support stacks: self-mutation publishes templates only, so it needs no image-publishing role.
    for support in assembly_dir.glob("PipelineSupport-*.assets.json"):
        assert json.loads(support.read_text())["dockerImages"] == {}, support.name


def test_the_confirming_function_runs_our_code_inline(template: dict[str, Any]) -> None:
    _, function = _function(template)
    assert function["Properties"]["Code"] == {"ZipFile": security_diff._CONFIRM_FUNCTION}
    assert function["Properties"]["Runtime"].startswith("python3.")


def test_the_confirming_function_may_approve_only_the_security_diffs_confirmations(
    template: dict[str, Any], stages: list[dict[str, Any]], fixture_config: AppConfig
) -> None:
    confirmations = _confirmations(stages)
    deploying = {s["Name"] for s in stages if any(a["ActionTypeId"]["Category"] == "Deploy" for a in s["Actions"])}
    assert {stage for stage, _ in confirmations} == deploying, "every stage that deploys has one"
    _, function = _function(template)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = _statements(template, role)
    region, account = fixture_config.pipeline.region, fixture_config.pipeline.account
    prefix = f"arn:aws:codepipeline:{region}:{account}:{_pipeline_ref(template)}"
    assert _granted(statements, "codepipeline:GetPipelineState") == [prefix]
    assert _granted(statements, "codepipeline:PutApprovalResult") == sorted(
        f"{prefix}/{stage}/{action}" for stage, action in confirmations
    )
    assert all("*" not in _text(r) for s in statements for r in _list(s["Resource"]))
    variables = function["Properties"]["Environment"]["Variables"]
    assert json.loads(variables[security_diff.CONFIRMATIONS_VARIABLE]) == sorted(f"{s}/{a}" for s, a in confirmations)
    # No promotion approval and no pipeline-change approval is among them.
    approvals = {(s, a["Name"]) for s, a in _actions(stages) if a["ActionTypeId"]["Category"] == "Approval"}
    assert {a for _, a in approvals - confirmations} >= {"ApproveProduction", "ApprovePipelineChange"}


class _Pipelines:
    """CodePipeline's client as the function sees it: a pipeline state, and the approvals it records."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_pipeline_state(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_pipeline_state", kwargs))
        return self.state

    def put_approval_result(self, **kwargs: Any) -> None:
        self.calls.append(("put_approval_result", kwargs))


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _handler(monkeypatch: pytest.MonkeyPatch, client: _Pipelines, confirmations: list[str]) -> Any:
    """The function's handler, loaded from its inline code with `client` standing in for CodePipeline."""
    boto3 = types.ModuleType("boto3")
    boto3.client = lambda service: client  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "boto3", boto3)
    monkeypatch.setenv(security_diff.CONFIRMATIONS_VARIABLE, json.dumps(confirmations))
    namespace: dict[str, Any] = {}
    exec(compile(security_diff._CONFIRM_FUNCTION, "index.py", "exec"), namespace)
    return namespace["handler"]


def _waiting(stage: str, action: str) -> dict[str, Any]:
    latest = {"status": "InProgress", "token": "0f0e0d0c-0000-4000-8000-000000000001"}
    return {"stageStates": [{"stageName": stage, "actionStates": [{"actionName": action, "latestExecution": latest}]}]}


def test_the_confirming_function_approves_a_waiting_confirmation_as_cdk_pipelines_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = _Pipelines(_waiting("Production", "SecurityDiffProd.Confirm"))
    handler = _handler(monkeypatch, client, ["Production/SecurityDiffProd.Confirm"])
    # CDK Pipelines' payload: {"PipelineName", "StageName", "ActionName"}.
    event = {"PipelineName": "pipe", "StageName": "Production", "ActionName": "SecurityDiffProd.Confirm"}
    assert handler(event, _Context()) == {"approved": True}
    assert client.calls[-1] == (
        "put_approval_result",
        {
            "pipelineName": "pipe",
            "stageName": "Production",
            "actionName": "SecurityDiffProd.Confirm",
            "token": "0f0e0d0c-0000-4000-8000-000000000001",
            "result": {"summary": security_diff.APPROVED_SUMMARY, "status": "Approved"},
        },
    )


@pytest.mark.parametrize(
    ("stage", "action"),
    [
        ("Production", "ApproveProduction"),  # a promotion
        ("PipelineChange", "ApprovePipelineChange"),  # the definition guard's
        ("Staging", "SecurityDiffProd.Confirm"),  # a confirmation's name in another stage
    ],
)
def test_the_confirming_function_refuses_any_other_approval(
    monkeypatch: pytest.MonkeyPatch, stage: str, action: str
) -> None:
    client = _Pipelines(_waiting(stage, action))
    handler = _handler(monkeypatch, client, ["Production/SecurityDiffProd.Confirm"])
    event = {"PipelineName": "pipe", "StageName": stage, "ActionName": action}
    assert handler(event, _Context()) == {"approved": False}
    assert client.calls == []


def test_the_diff_sends_the_payload_the_function_reads(template: dict[str, Any], stages: list[dict[str, Any]]) -> None:
    commands = security_diff.diff_commands("console.aws.amazon.com")
    payload = next(c for c in commands if c.startswith("payload="))
    assert all(f'"{key}": process.env.' in payload for key in ("PipelineName", "StageName", "ActionName"))
    checks = [
        (stage, a) for stage, a in _actions(stages) if a["Name"].startswith("SecurityDiff") and ".Check" in a["Name"]
    ]
    assert checks
    for stage, check in checks:
        variables = {v["name"]: v["value"] for v in json.loads(_text(check["Configuration"]["EnvironmentVariables"]))}
        assert variables["STAGE_NAME"] == stage
        assert variables["ACTION_NAME"] == check["Name"].replace(".Check", ".Confirm")


# --- the security diff's project --------------------------------------------------------------------


def _diff_project(template: dict[str, Any]) -> str:
    (logical_id,) = [
        k
        for k, p in resources_of(template, "AWS::CodeBuild::Project").items()
        if "--security-only" in json.dumps(p["Properties"]["Source"])
    ]
    return logical_id


def test_the_diff_may_assume_only_the_stage_accounts_lookup_roles(
    template: dict[str, Any], fixture_config: AppConfig
) -> None:
    statements = _statements(template, _role_of(template, _diff_project(template)))
    expected = {generated.lookup_role_arn(e.partition, e.account, e.region) for e in fixture_config.environments}
    assert len({(e.account, e.region) for e in fixture_config.environments}) == len(expected) >= 3
    assert _granted(statements, "sts:AssumeRole") == sorted(expected)
    assert all(s.get("Condition") is None for s in statements if "sts:AssumeRole" in _list(s["Action"]))
    assert "*" not in [r for s in statements for r in _list(s["Resource"])]


def test_the_diff_compares_templates_from_an_empty_directory(template: dict[str, Any]) -> None:
    spec = json.loads(template["Resources"][_diff_project(template)]["Properties"]["Source"]["BuildSpec"])
    (diff,) = [c for c in spec["phases"]["build"]["commands"] if "cdk diff" in c]
    # No cdk.json of the commit's assembly is read (it could load a plug-in), and no change set is made.
    assert 'cd "$(mktemp -d)" && cdk diff --app "$CODEBUILD_SRC_DIR" --method=template' in diff
    # The install checks the assembly first and leaves it (npm reads an .npmrc in its working directory).
    assert 'cd "$(mktemp -d)" && npm install -g aws-cdk@2.' in spec["phases"]["install"]["commands"][-1]


# --- the asset-publishing roles --------------------------------------------------------------------


def _asset_roles(template: dict[str, Any]) -> dict[str, list[str]]:
    """Each asset-publishing role with the projects that run as it."""
    roles: dict[str, list[str]] = {}
    for logical_id in resources_of(template, "AWS::CodeBuild::Project"):
        if logical_id.startswith(("PipelineAssetsFileAsset", "PipelineAssetsDockerAsset")):
            roles.setdefault(_role_of(template, logical_id), []).append(logical_id)
    return roles


def test_asset_roles_start_no_builds_and_log_only_as_their_own_projects(
    template: dict[str, Any], stages: list[dict[str, Any]]
) -> None:
    roles = _asset_roles(template)
    assert len(roles) == 2
    for role, projects in roles.items():
        statements = _statements(template, role)
        assert not ASSET_BUILD_ACTIONS & {a for s in statements for a in _list(s["Action"])}, role
        for action in ("logs:CreateLogGroup", "codebuild:CreateReport"):
            granted = _granted(statements, action)
            assert granted, (role, action)
            assert all(any(f"<Ref:{p}>" in r for p in projects) for r in granted), granted
        wildcards = [r for s in statements for r in map(_text, _list(s["Resource"])) if r.endswith("*")]
        assert not [r for r in wildcards if r == "*" or r.endswith(("/aws/codebuild/*", "report-group/*"))]
    # The pipeline starts asset builds with a role of its own, which may start only this pipeline's projects.
    (assets,) = [s for s in stages if s["Name"] == "Assets"]
    assert {a["RoleArn"]["Fn::GetAtt"][0] for a in assets["Actions"]}.isdisjoint(roles)


# --- self-mutation ---------------------------------------------------------------------------------


def test_self_mutation_assumes_only_the_bootstrap_roles_it_deploys_with(
    template: dict[str, Any], fixture_config: AppConfig
) -> None:
    (project,) = [k for k in resources_of(template, "AWS::CodeBuild::Project") if "SelfMutation" in k]
    statements = _statements(template, _role_of(template, project))
    account, pipeline_region = fixture_config.pipeline.account, fixture_config.pipeline.region
    regions = {pipeline_region} | {e.region for e in fixture_config.environments}  # support stacks' regions
    assert len(regions) == 3
    assert _granted(statements, "sts:AssumeRole") == sorted(
        generated.bootstrap_role_arn(kind, "aws", account, region)
        for region in regions
        for kind in ("deploy", "file-publishing")
    )
    supports = regions - {pipeline_region}
    stacks = [(r, "CDKToolkit") for r in regions] + [(pipeline_region, "Pipeline")]
    stacks += [(r, f"PipelineSupport-{r}") for r in supports]
    assert _granted(statements, "cloudformation:DescribeStacks") == sorted(
        f"arn:aws:cloudformation:{region}:{account}:stack/{name}/*" for region, name in stacks
    )
    assert _granted(statements, "s3:ListBucket") == sorted(
        f"arn:aws:s3:::cdk-hnb659fds-assets-{account}-{region}" for region in regions
    )
    assert all(s.get("Condition") is None for s in statements)


def _artifact_bucket(template: dict[str, Any]) -> str:
    (logical_id,) = [k for k in resources_of(template, "AWS::S3::Bucket") if k.startswith("ArtifactStoreBucket")]
    return logical_id


# --- the whole stack -------------------------------------------------------------------------------


def test_no_grant_of_the_pipeline_stack_is_on_every_resource(template: dict[str, Any]) -> None:
    everywhere = [
        (logical_id, s["Action"])
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for logical_id, policy in resources_of(template, kind).items()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "*" in _list(s["Resource"])
    ]
    assert everywhere == []


def test_a_step_without_an_output_artifact_writes_nothing_to_the_artifact_bucket(
    template: dict[str, Any], stages: list[dict[str, Any]]
) -> None:
    outputs: dict[str, bool] = {}
    for _, action in _actions(stages):
        project = action["Configuration"].get("ProjectName")
        if isinstance(project, dict):
            outputs[project["Ref"]] = outputs.get(project["Ref"], False) or bool(action.get("OutputArtifacts"))
    assert sum(outputs.values()) == 2, "Synth and SignEvidence"
    bucket = f"<{_artifact_bucket(template)}.Arn>"
    for project, writes in outputs.items():
        if writes:
            continue
        statements = _statements(template, _role_of(template, project))
        written = [
            a
            for s in statements
            if any(_text(r).startswith(bucket) for r in _list(s["Resource"]))
            for a in _list(s["Action"])
            if a.startswith(ARTIFACT_WRITES)
        ]
        assert written == [], project
