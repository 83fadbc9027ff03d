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


def _projects(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: json.loads(r["Properties"]["Source"]["BuildSpec"])
        for logical_id, r in resources_of(template, "AWS::CodeBuild::Project").items()
        if r["Properties"]["Source"]["BuildSpec"].lstrip().startswith("{")
    }


def test_stages_run_in_promotion_order(pipeline_props: dict[str, Any]) -> None:
    names = [s["Name"] for s in pipeline_props["Stages"]]
    assert names == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Staging", "Prod"]


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


def test_a_manual_approval_comes_first_in_staging_and_prod_only(pipeline_props: dict[str, Any]) -> None:
    stages = {s["Name"]: s["Actions"] for s in pipeline_props["Stages"]}
    for name in ("Staging", "Prod"):
        first = min(stages[name], key=lambda a: a["RunOrder"])
        assert first["ActionTypeId"]["Category"] == "Approval", name
        deploys = [a["RunOrder"] for a in stages[name] if a["ActionTypeId"]["Category"] == "Deploy"]
        assert min(deploys) > first["RunOrder"]
    assert all(a["ActionTypeId"]["Category"] != "Approval" for a in stages["Dev"])


def test_each_stage_deploys_every_workload_stack(pipeline_props: dict[str, Any]) -> None:
    stages = {s["Name"]: s["Actions"] for s in pipeline_props["Stages"]}
    for name in ("Dev", "Staging", "Prod"):
        deployed = {a["Name"].removesuffix(".Deploy") for a in stages[name] if a["Name"].endswith(".Deploy")}
        assert deployed == {"Keys", "Network", "Data", "Service", "Observability"}


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
    (key,) = resources_of(pipeline_template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
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
        assert {s.path.split("/")[-1] for s in stage_stacks} == {"Keys", "Network", "Data", "Service", "Observability"}
        for s in stage_stacks:
            assert (s.account, s.region) == (env.account, env.region), s.path
    pipeline = stacks["Pipeline"]
    assert (pipeline.account, pipeline.region) == (default_config.pipeline.account, default_config.pipeline.region)
