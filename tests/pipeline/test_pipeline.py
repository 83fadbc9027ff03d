"""The pipeline: source, gated synth, self-mutation, then dev -> approval -> staging -> approval -> prod."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from app import cli_version
from config import AppConfig
from tests.conftest import StackArtifact, resources_of


@pytest.fixture(scope="module")
def pipeline_template(stack: Callable[[str, str], StackArtifact]) -> dict[str, Any]:
    return stack("", "Pipeline").template_json


@pytest.fixture(scope="module")
def pipeline_props(pipeline_template: dict[str, Any]) -> dict[str, Any]:
    (pipeline,) = resources_of(pipeline_template, "AWS::CodePipeline::Pipeline").values()
    props: dict[str, Any] = pipeline["Properties"]
    return props


def _buildspec_text(spec: Any) -> str:
    """A buildspec as text; references inside an Fn::Join become `<Ref:...>`/`<GetAtt:...>` markers."""
    if isinstance(spec, str):
        return spec
    (parts,) = spec.values()
    return "".join(
        p if isinstance(p, str) else "<" + json.dumps(p, sort_keys=True).replace('"', "'") + ">" for p in parts[1]
    )


def _projects(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every CodeBuild project whose buildspec is inline JSON, parsed."""
    specs = {
        logical_id: _buildspec_text(r["Properties"]["Source"]["BuildSpec"])
        for logical_id, r in resources_of(template, "AWS::CodeBuild::Project").items()
    }
    return {logical_id: json.loads(text) for logical_id, text in specs.items() if text.lstrip().startswith("{")}


def test_stages_run_in_promotion_order(pipeline_props: dict[str, Any]) -> None:
    names = [s["Name"] for s in pipeline_props["Stages"]]
    assert names == ["Source", "Build", "UpdatePipeline", "Assets", "Evidence", "Dev", "Staging", "Prod"]


def test_pipeline_is_v2_and_triggered_by_pushes_to_the_branch(
    pipeline_props: dict[str, Any], default_config: AppConfig
) -> None:
    assert pipeline_props["PipelineType"] == "V2"
    (trigger,) = pipeline_props["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    assert trigger["GitConfiguration"]["Push"] == [{"Branches": {"Includes": [default_config.pipeline.branch]}}]
    source = pipeline_props["Stages"][0]["Actions"][0]
    assert trigger["GitConfiguration"]["SourceActionName"] == source["Name"]
    assert source["Configuration"]["FullRepositoryId"] == default_config.pipeline.repository
    assert source["Configuration"]["BranchName"] == default_config.pipeline.branch
    assert source["Configuration"]["ConnectionArn"] == default_config.pipeline.connection_arn


def _actions(pipeline_props: dict[str, Any], stage: str) -> list[tuple[str, str, int]]:
    (actions,) = [s["Actions"] for s in pipeline_props["Stages"] if s["Name"] == stage]
    return sorted(((a["Name"], a["ActionTypeId"]["Category"], a["RunOrder"]) for a in actions), key=lambda a: a[2])


def test_security_diff_then_approval_gate_staging_and_prod(pipeline_props: dict[str, Any]) -> None:
    for stage in ("Staging", "Prod"):
        actions = _actions(pipeline_props, stage)
        check, confirm, approve = actions[0], actions[1], actions[2]
        assert check[:2] == (f"SecurityDiff{stage}.Check", "Build")
        assert confirm[:2] == (f"SecurityDiff{stage}.Confirm", "Approval")
        assert approve[:2] == (f"Approve{stage}", "Approval")
        assert check[2] < confirm[2] < approve[2] < min(a[2] for a in actions if a[1] == "Deploy")
    assert all(category != "Approval" for _, category, _ in _actions(pipeline_props, "Dev"))


def test_a_smoke_test_runs_after_each_stage_with_its_api_url(pipeline_props: dict[str, Any]) -> None:
    for stage in ("Dev", "Staging", "Prod"):
        actions = _actions(pipeline_props, stage)
        name, category, run_order = actions[-1]
        assert (name, category) == (f"Smoke{stage}", "Build")
        assert run_order > max(a[2] for a in actions if a[1] == "Deploy")
        (smoke,) = [
            a for s in pipeline_props["Stages"] if s["Name"] == stage for a in s["Actions"] if a["Name"] == name
        ]
        variables = json.loads(smoke["Configuration"]["EnvironmentVariables"])
        api_url = next(v for v in variables if v["name"] == "API_URL")
        assert api_url["value"].startswith("#{")  # read from the stage's stack outputs at run time


def test_each_stage_deploys_every_workload_stack(pipeline_props: dict[str, Any]) -> None:
    stages = {s["Name"]: s["Actions"] for s in pipeline_props["Stages"]}
    for name in ("Dev", "Staging", "Prod"):
        deployed = {a["Name"].removesuffix(".Deploy") for a in stages[name] if a["Name"].endswith(".Deploy")}
        assert deployed == {"Keys", "Network", "Data", "Service", "Observability", "Baseline"}


def test_synth_step_runs_the_developer_make_targets(pipeline_template: dict[str, Any]) -> None:
    commands = [spec["phases"]["build"]["commands"] for spec in _projects(pipeline_template).values()]
    # The README's two commands, in this order: a red test run stops the pipeline before synth.
    assert ["make test", "make synth"] in commands


def test_self_mutation_uses_the_cli_version_package_json_pins(pipeline_template: dict[str, Any]) -> None:
    specs = _projects(pipeline_template).values()
    mutation = [s for s in specs if any("deploy Pipeline" in c for c in s["phases"]["build"]["commands"])]
    assert len(mutation) == 1, "exactly one self-mutation project"
    assert f"npm install -g aws-cdk@{cli_version()}" in mutation[0]["phases"]["install"]["commands"]


def test_artifacts_are_encrypted_with_a_rotated_key_in_a_versioned_logged_bucket(
    pipeline_template: dict[str, Any],
) -> None:
    keys = [k for k in resources_of(pipeline_template, "AWS::KMS::Key").values() if "KeyUsage" not in k["Properties"]]
    assert len(keys) == 2  # artifacts; build logs and notifications (the evidence key only signs)
    assert all(key["Properties"]["EnableKeyRotation"] is True for key in keys)
    buckets = resources_of(pipeline_template, "AWS::S3::Bucket")
    artifacts = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    assert len(artifacts) == 1
    props = artifacts[0]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert (
        props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    )


def test_each_stage_deploys_to_its_configured_account_and_region(
    stacks: dict[str, StackArtifact], default_config: AppConfig
) -> None:
    for env in default_config.environments:
        stage_stacks = [s for s in stacks.values() if s.path.startswith(f"Pipeline/{env.stage_id}/")]
        expected = {"Keys", "Network", "Data", "Service", "Observability"} | (
            {"Baseline"} if env.account_baseline else set()
        )
        assert {s.path.split("/")[-1] for s in stage_stacks} == expected
        for s in stage_stacks:
            assert (s.account, s.region) == (env.account, env.region), s.path
    pipeline = stacks["Pipeline"]
    assert (pipeline.account, pipeline.region) == (default_config.pipeline.account, default_config.pipeline.region)


def test_synth_publishes_test_and_compliance_reports(pipeline_template: dict[str, Any]) -> None:
    groups = resources_of(pipeline_template, "AWS::CodeBuild::ReportGroup")
    assert len(groups) == 2
    synth = next(
        spec
        for spec in _projects(pipeline_template).values()
        if spec["phases"]["build"]["commands"][:1] == ["make test"]
    )
    reports = synth["reports"]
    # Each report group's ARN (a reference in the buildspec) keys one report.
    assert sorted(reports) == sorted(f"<{{'Fn::GetAtt': ['{g}', 'Arn']}}>" for g in groups)
    files = sorted(f for report in reports.values() for f in report["files"])
    assert files == ["junit.xml", "reports/pytest.xml"]
    assert all(report["file-format"] == "JUNITXML" for report in reports.values())
    assert synth["artifacts"]["base-directory"] == "cdk.out"  # the compliance report travels with the run


def test_approvers_are_notified_on_an_encrypted_topic(
    pipeline_template: dict[str, Any], default_config: AppConfig
) -> None:
    (topic,) = resources_of(pipeline_template, "AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    rules = resources_of(pipeline_template, "AWS::Events::Rule").values()
    waiting = [r for r in rules if "Approval" in json.dumps(r["Properties"]["EventPattern"])]
    assert len(waiting) == 1
    (target,) = waiting[0]["Properties"]["Targets"]
    assert "InputTransformer" in target
    assert "executions/" in json.dumps(target["InputTransformer"])  # the message links to the run
    # Promotions only: CDK's own security-diff confirmation approves itself on most runs.
    assert waiting[0]["Properties"]["EventPattern"]["detail"]["action"] == ["ApproveStaging", "ApproveProd"]


def test_build_logs_are_encrypted_and_retained(pipeline_template: dict[str, Any]) -> None:
    for project in resources_of(pipeline_template, "AWS::CodeBuild::Project").values():
        logs = project["Properties"]["LogsConfig"]["CloudWatchLogs"]
        assert logs["Status"] == "ENABLED"
        assert "GroupName" in logs
    for group in resources_of(pipeline_template, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" in group["Properties"]
        assert group["Properties"]["RetentionInDays"] >= 365


def test_only_docker_asset_publishing_runs_privileged(pipeline_template: dict[str, Any]) -> None:
    privileged = [
        logical_id
        for logical_id, project in resources_of(pipeline_template, "AWS::CodeBuild::Project").items()
        if project["Properties"]["Environment"].get("PrivilegedMode")
    ]
    assert len(privileged) == 1
    assert "DockerAsset" in privileged[0]


def test_evidence_is_signed_after_synth_by_a_step_that_may_only_sign(
    pipeline_template: dict[str, Any], pipeline_props: dict[str, Any]
) -> None:
    stages = pipeline_props["Stages"]
    names = [s["Name"] for s in stages]
    (evidence,) = [s for s in stages if s["Name"] == "Evidence"]
    deploying = [
        n for n, s in enumerate(stages) if any(a["ActionTypeId"]["Category"] == "Deploy" for a in s["Actions"])
    ]
    assert names.index("Build") < names.index("Evidence") < min(deploying)
    (sign,) = evidence["Actions"]
    assert {i["Name"] for i in sign["InputArtifacts"]} >= {"Synth_Output"}
    assert sign["OutputArtifacts"], "the signature is kept with the run's artifacts"
    keys = {k: r for k, r in resources_of(pipeline_template, "AWS::KMS::Key").items() if "EvidenceSigningKey" in k}
    ((key_id, key),) = keys.items()
    assert key["Properties"]["KeySpec"] == "ECC_NIST_P256"
    assert key["Properties"]["KeyUsage"] == "SIGN_VERIFY"
    assert key["DeletionPolicy"] == "RetainExceptOnCreate"
    # Only the signing step's role may sign, and only with this key.
    signers = []
    for policy in resources_of(pipeline_template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "kms:Sign" in actions:
                assert sorted(actions) == ["kms:GetPublicKey", "kms:Sign"]
                assert statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
                signers.append(policy["Metadata"]["aws:cdk:path"])
    assert signers == ["Pipeline/Pipeline/Pipeline/Evidence/SignEvidence/SignEvidence/Role/DefaultPolicy/Resource"]
    (project,) = [p for p in _projects(pipeline_template).values() if "sign_evidence.py" in json.dumps(p)]
    assert "requirements-evidence.txt" in json.dumps(project["phases"]["install"])
