"""The pipeline guards its own definition: a change waits for a person, an unchanged one goes on."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from config import AppConfig
from pipeline import definition_check, guard
from tests.conftest import StackArtifact, resources_of


@pytest.fixture(scope="module")
def template(stack: Callable[[str, str], StackArtifact]) -> dict[str, Any]:
    return stack("", "Pipeline").template_json


def _pipeline(template: dict[str, Any]) -> dict[str, Any]:
    (pipeline,) = resources_of(template, "AWS::CodePipeline::Pipeline").values()
    props: dict[str, Any] = pipeline["Properties"]
    return props


def _without_action(template: dict[str, Any], name: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    for stage in _pipeline(changed)["Stages"]:
        stage["Actions"] = [a for a in stage["Actions"] if a["Name"] != name]
    return changed


def test_an_unchanged_definition_goes_on_by_itself(template: dict[str, Any]) -> None:
    assert definition_check.compare(template, copy.deepcopy(template)) == (False, [])


def test_new_asset_hashes_are_not_a_change_of_definition(template: dict[str, Any]) -> None:
    text = json.dumps(template)
    hashes = set(re.findall(r"\b[0-9a-f]{64}\b", text))
    assert hashes, "the pipeline publishes assets named by their hash"
    for old in hashes:
        text = text.replace(old, "f" * 64)
    assert definition_check.compare(template, json.loads(text)) == (False, [])


def test_a_new_build_image_digest_is_a_change_of_definition(template: dict[str, Any]) -> None:
    # A commit must not move the pipeline's builds (self-mutation, the guard's own check) to other image
    # bytes without a person: the digest is not an asset hash.
    def pinned(digest: str) -> dict[str, Any]:
        changed = copy.deepcopy(template)
        for project in resources_of(changed, "AWS::CodeBuild::Project").values():
            image = f"123456789012.dkr.ecr.us-west-2.amazonaws.com/build@sha256:{digest}"
            project["Properties"]["Environment"]["Image"] = image
        return changed

    held, lines = definition_check.compare(pinned("a" * 64), pinned("b" * 64))
    assert held
    assert any("AWS::CodeBuild::Project" in line for line in lines), lines


def test_a_definition_without_a_promotion_approval_is_held_and_named(
    template: dict[str, Any], fixture_config: AppConfig
) -> None:
    last = fixture_config.waves[-1]
    name = last[0].stage_id if len(last) == 1 else "".join(p.capitalize() for p in (last[0].wave or "").split("-"))
    changed, lines = definition_check.compare(template, _without_action(template, f"Approve{name}"))
    assert changed
    assert lines[0] == f"LOST: the manual approval Approve{name} in stage {name}"
    assert f"stage {name}: action Approve{name} removed" in lines


def test_losing_the_security_diff_or_the_gated_synth_is_named(template: dict[str, Any]) -> None:
    diff = next(a["Name"] for s in _pipeline(template)["Stages"] for a in s["Actions"] if a["Name"].endswith(".Check"))
    _, lines = definition_check.compare(template, _without_action(template, diff))
    assert f"LOST: the security diff {diff.removesuffix('.Check')}" in lines[0]
    ungated = json.loads(json.dumps(template).replace("make test", "true"))
    _, lines = definition_check.compare(template, ungated)
    assert "LOST: the synth step that runs make test, then make synth (the compliance gate)" in lines


def test_a_wider_role_is_held(template: dict[str, Any]) -> None:
    changed = copy.deepcopy(template)
    logical_id, policy = next(iter(resources_of(changed, "AWS::IAM::Policy").items()))
    policy["Properties"]["PolicyDocument"]["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    held, lines = definition_check.compare(template, changed)
    assert held
    assert f"resource {logical_id} (AWS::IAM::Policy) changes PolicyDocument" in lines


def test_the_check_runs_as_a_script_with_its_exit_codes(template: dict[str, Any], tmp_path: Path) -> None:
    running, same, held = tmp_path / "running.json", tmp_path / "same.json", tmp_path / "held.json"
    running.write_text(json.dumps(template))
    same.write_text(json.dumps(template))
    held.write_text(json.dumps(_without_action(template, guard.APPROVAL_ACTION)))
    script = Path(definition_check.__file__)

    def run(*args: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *map(str, args)], capture_output=True, text=True, check=False
        )

    assert run(running, same).returncode == definition_check.UNCHANGED
    result = run(running, held)
    assert result.returncode == definition_check.CHANGED
    assert f"LOST: the manual approval {guard.APPROVAL_ACTION} in stage {guard.STAGE_NAME}" in result.stdout
    assert run(running, tmp_path / "absent.json").returncode == definition_check.UNREADABLE


def test_the_check_and_its_approval_sit_before_self_mutation(template: dict[str, Any]) -> None:
    stages = _pipeline(template)["Stages"]
    names = [s["Name"] for s in stages]
    assert names[names.index("Build") + 1 : names.index("UpdatePipeline")] == [guard.STAGE_NAME]
    (stage,) = [s for s in stages if s["Name"] == guard.STAGE_NAME]
    actions = {a["Name"]: (a["ActionTypeId"]["Category"], a["RunOrder"]) for a in stage["Actions"]}
    assert actions == {guard.CHECK_ACTION: ("Build", 1), guard.APPROVAL_ACTION: ("Approval", 2)}


def test_the_deployed_pipeline_carries_the_comparison_itself(template: dict[str, Any]) -> None:
    source = base64.b64encode(Path(definition_check.__file__).read_bytes()).decode("ascii")
    specs = [json.dumps(p["Properties"]["Source"]) for p in resources_of(template, "AWS::CodeBuild::Project").values()]
    assert sum(source in spec for spec in specs) == 1


def test_the_approving_function_may_approve_only_the_pipeline_change(template: dict[str, Any]) -> None:
    approvals = [
        s
        for logical_id, p in resources_of(template, "AWS::IAM::ManagedPolicy").items()
        if logical_id.startswith("DefinitionGuard")  # the security diff's confirming function has its own
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "codepipeline:PutApprovalResult" in json.dumps(s["Action"])
    ]
    (statement,) = approvals
    assert json.dumps(statement["Resource"]).endswith(f'/{guard.STAGE_NAME}/{guard.APPROVAL_ACTION}"]]}}')


def test_changes_outside_the_pipeline_alert_the_approvers(stack: Callable[[str, str], StackArtifact]) -> None:
    pipeline = stack("", "Pipeline").template
    (topic,) = pipeline.find_resources("AWS::SNS::Topic")
    for source in ("aws.cloudformation", "aws.sts"):  # the stack changed, or the deploy role assumed
        pipeline.has_resource_properties(
            "AWS::Events::Rule",
            {
                "EventPattern": Match.object_like({"source": [source], "detail-type": ["AWS API Call via CloudTrail"]}),
                "Targets": [Match.object_like({"Arn": {"Ref": topic}})],
            },
        )


def test_the_deploy_role_alert_receives_read_only_management_events(template: dict[str, Any]) -> None:
    # AssumeRole is a read-only management event: a rule in state ENABLED never sees it.
    (rule,) = [
        r
        for r in resources_of(template, "AWS::Events::Rule").values()
        if "AssumeRole" in r["Properties"]["EventPattern"].get("detail", {}).get("eventName", [])
    ]
    assert rule["Properties"]["State"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
