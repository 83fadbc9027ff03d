"""The pipeline guards its own definition: a change waits for a person, an unchanged one goes on."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from config import AppConfig
from pipeline import assembly_check, definition_check, guard
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


def test_a_new_asset_hash_in_the_pipeline_account_is_a_change_of_definition(template: dict[str, Any]) -> None:
    # An asset hash here is code the pipeline account runs (a function's): new code waits for a person.
    text = json.dumps(template)
    hashes = set(re.findall(r"\b[0-9a-f]{64}\b", text))
    assert hashes, "the template names its synth project's configuration by a hash"
    changed = json.loads(text.replace(sorted(hashes)[0], "f" * 64))
    held, lines = definition_check.compare(template, changed)
    assert held
    assert lines


def test_the_workloads_assets_never_reach_the_pipeline_accounts_templates(
    assembly_dir: Path, stacks: dict[str, StackArtifact]
) -> None:
    # So a push that only changes the workload's code leaves every compared template as it was.
    workload = {
        asset
        for manifest in assembly_dir.glob("assembly-*/*.assets.json")
        for kind in ("files", "dockerImages")
        for asset in json.loads(manifest.read_text())[kind]
    }
    assert workload
    for name in (n for n in json.loads((assembly_dir / "manifest.json").read_text())["artifacts"]):
        template = assembly_dir / f"{name}.template.json"
        if template.exists():
            assert not workload & set(re.findall(r"[0-9a-f]{64}", template.read_text())), name


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ("Parameters", {"Extra": {"Type": "String", "Default": "x"}}),
        ("Mappings", {"Accounts": {"a": {"b": "c"}}}),
        ("Conditions", {"Never": {"Fn::Equals": ["a", "b"]}}),
        ("Transform", "AWS::Serverless-2016-10-31"),
        ("Rules", {}),
        ("Outputs", {"Leak": {"Value": "x", "Export": {"Name": "x"}}}),
        ("Metadata", {"AWS::CloudFormation::Interface": {}}),
    ],
)
def test_every_template_section_is_part_of_the_definition(template: dict[str, Any], section: str, value: Any) -> None:
    changed = copy.deepcopy(template)
    changed[section] = value
    held, lines = definition_check.compare(template, changed)
    assert held
    assert f"template section {section} changes" in lines


def test_resource_metadata_that_changes_behaviour_is_compared_and_the_construct_path_is_not(
    template: dict[str, Any],
) -> None:
    changed = copy.deepcopy(template)
    logical_id, resource = next(iter(resources_of(changed, "AWS::CodeBuild::Project").items()))
    resource.setdefault("Metadata", {})["aws:cdk:path"] = "Pipeline/Renamed/Resource"
    assert definition_check.compare(template, changed) == (False, [])
    resource["Metadata"]["AWS::CloudFormation::Init"] = {"config": {"commands": {"x": {"command": "id"}}}}
    held, lines = definition_check.compare(template, changed)
    assert held
    assert f"resource {logical_id} (AWS::CodeBuild::Project) changes Metadata" in lines


def test_every_pipeline_account_stack_is_compared(stacks: dict[str, StackArtifact], template: dict[str, Any]) -> None:
    support = {name: s.template_json for name, s in stacks.items() if name.startswith("PipelineSupport-")}
    assert support, "the fixture layout has stages outside the pipeline's region"
    name, running = sorted(support.items())[0]
    widened = copy.deepcopy(running)
    next(iter(widened["Resources"].values()))["DeletionPolicy"] = "Delete"
    running_stacks = {"Pipeline": template, **support}
    proposed = {"Pipeline": template, **support, name: widened}
    held, lines = definition_check.compare_stacks(running_stacks, proposed, pipeline_stack="Pipeline")
    assert held
    assert any(line.startswith(f"stack {name}: resource ") and "DeletionPolicy" in line for line in lines), lines
    added = {**proposed, "Extra": running}
    _, lines = definition_check.compare_stacks(running_stacks, added, pipeline_stack="Pipeline")
    assert "stack Extra is not one of the running definition's stacks: this run would deploy it" in lines
    fresh = {**running_stacks, name: None}
    _, lines = definition_check.compare_stacks(fresh, proposed | {name: running}, pipeline_stack="Pipeline")
    assert lines == [f"stack {name} does not exist yet: this run would create it"]


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


def _fake_aws(tmp_path: Path, running: dict[str, dict[str, Any]]) -> dict[str, str]:
    """An `aws` stand-in whose `cloudformation get-template` answers from `running` (absent: no such stack)."""
    for name, body in running.items():
        (tmp_path / f"{name}.running.json").write_text(json.dumps(body))
    aws = tmp_path / "aws"
    aws.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != "--stack-name" ]; do shift; done\n'
        f'file="{tmp_path}/$2.running.json"\n'
        '[ -f "$file" ] && cat "$file" && exit 0\n'
        'echo "An error occurred (ValidationError) when calling the GetTemplate operation: Stack with id $2 does not'
        ' exist" >&2; exit 254\n'
    )
    aws.chmod(0o755)
    return {"PATH": f"{tmp_path}:/usr/bin:/bin"}


def test_the_check_runs_as_a_script_with_its_exit_codes(
    assembly_dir: Path, stacks: dict[str, StackArtifact], tmp_path: Path
) -> None:
    top_level = {n: s for n, s in stacks.items() if "/" not in n}
    listed = " ".join(f"{n}@{s.region}" for n, s in top_level.items())
    script = Path(definition_check.__file__)
    # As the pipeline runs it: a script beside assembly_check.py, not a module of the project.
    beside = tmp_path / "checks"
    beside.mkdir()
    for path in guard.CHECKS:
        (beside / path.name).write_text(path.read_text())

    def run(running: dict[str, dict[str, Any]], assembly: Path = assembly_dir) -> subprocess.CompletedProcess[str]:
        folder = tmp_path / f"aws-{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        environment = {**_fake_aws(folder, running), "PIPELINE_STACKS": listed, "STACK_NAME": "Pipeline"}
        return subprocess.run(
            [sys.executable, str(beside / script.name), str(assembly)],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
        )

    same = {n: s.template_json for n, s in top_level.items()}
    result = run(same)
    assert result.returncode == definition_check.UNCHANGED, result.stdout + result.stderr
    assert f"({len(top_level)} stacks compared)" in result.stdout
    held = run({**same, "Pipeline": _without_action(same["Pipeline"], guard.APPROVAL_ACTION)})
    assert held.returncode == definition_check.CHANGED
    assert f"stage {guard.STAGE_NAME}: action {guard.APPROVAL_ACTION} added" in held.stdout
    missing = run({n: t for n, t in same.items() if n != "Pipeline"})
    assert missing.returncode == definition_check.CHANGED
    assert "stack Pipeline does not exist yet" in missing.stdout
    crafted = tmp_path / "crafted"
    shutil.copytree(assembly_dir, crafted, copy_function=os.link)
    (crafted / "cdk.json").write_text("{}")
    refused = run(same, crafted)
    assert refused.returncode == assembly_check.REFUSED
    assert "cdk.json: the CDK CLI runs and reads" in refused.stdout


def test_the_check_and_its_approval_sit_before_self_mutation(template: dict[str, Any]) -> None:
    stages = _pipeline(template)["Stages"]
    names = [s["Name"] for s in stages]
    assert names[names.index("Build") + 1 : names.index("UpdatePipeline")] == [guard.STAGE_NAME]
    (stage,) = [s for s in stages if s["Name"] == guard.STAGE_NAME]
    actions = {a["Name"]: (a["ActionTypeId"]["Category"], a["RunOrder"]) for a in stage["Actions"]}
    assert actions == {guard.CHECK_ACTION: ("Build", 1), guard.APPROVAL_ACTION: ("Approval", 2)}


def test_the_deployed_pipeline_carries_the_comparison_itself(template: dict[str, Any]) -> None:
    check = next(
        p for n, p in resources_of(template, "AWS::CodeBuild::Project").items() if n.startswith("DefinitionGuardCheck")
    )
    commands = json.loads(check["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"]
    assert commands[0] == guard.unpack_checks()
    carried = {
        Path(target).name: gzip.decompress(base64.b64decode(encoded))
        for encoded, target in re.findall(r"echo (\S+) \| base64 -d \| gunzip > (\S+)", commands[0])
    }
    assert carried == {path.name: path.read_bytes() for path in guard.CHECKS}
    assert any(f'python3 {guard.DEFINITION_CHECK} "$CODEBUILD_SRC_DIR"' in c for c in commands)


def test_the_check_reads_exactly_the_running_templates_of_its_own_stacks(template: dict[str, Any]) -> None:
    check = next(
        p for n, p in resources_of(template, "AWS::CodeBuild::Project").items() if n.startswith("DefinitionGuardCheck")
    )
    variables = {v["Name"]: v["Value"] for v in check["Properties"]["Environment"]["EnvironmentVariables"]}
    listed = dict(item.split("@") for item in variables["PIPELINE_STACKS"].split())
    assert listed["Pipeline"]
    assert len(listed) > 1
    reads = [
        s["Resource"]
        for p in resources_of(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "cloudformation:GetTemplate"
    ]
    (resources,) = reads
    rendered = json.dumps(resources)
    for name, region in listed.items():
        assert f":cloudformation:{region}:" in rendered
        assert f":stack/{name}/*" in rendered
    assert "*:" not in rendered.replace(":*", "")


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


def test_changes_by_principals_without_a_role_session_alert_too(template: dict[str, Any]) -> None:
    # `anything-but` matches only a field that exists: an IAM user's or the root user's call has no sessionIssuer.
    rules = [
        r["Properties"]["EventPattern"]["detail"]
        for r in resources_of(template, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"].get("detail-type") == ["AWS API Call via CloudTrail"]
    ]
    assert len(rules) == 2
    for detail in rules:
        issuers = [
            alternative["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] for alternative in detail["$or"]
        ]
        assert [{"exists": False}] in issuers
        assert any("anything-but" in condition for issuer in issuers for condition in issuer)


def test_one_execution_at_a_time_is_an_invariant(template: dict[str, Any]) -> None:
    # A newer run's synth must not run, and write the artifact bucket, while an older run waits for approval.
    assert _pipeline(template)["ExecutionMode"] == "QUEUED"
    changed = copy.deepcopy(template)
    _pipeline(changed)["ExecutionMode"] = "SUPERSEDED"
    _, lines = definition_check.compare(template, changed)
    assert lines[0].startswith("LOST: one execution at a time (QUEUED)")


def test_the_deploy_role_alert_receives_read_only_management_events(template: dict[str, Any]) -> None:
    # AssumeRole is a read-only management event: a rule in state ENABLED never sees it.
    (rule,) = [
        r
        for r in resources_of(template, "AWS::Events::Rule").values()
        if "AssumeRole" in r["Properties"]["EventPattern"].get("detail", {}).get("eventName", [])
    ]
    assert rule["Properties"]["State"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
