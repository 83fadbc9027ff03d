"""The pipeline: source, gated synth, self-mutation, then each wave of environments in file order."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template

from app import cli_version
from config import AppConfig, EnvironmentConfig
from config.rules import RESERVED_PIPELINE_STAGES, stage_actions
from config.schema import MAX_ENVIRONMENTS, stage_id_of
from tests.conftest import StackArtifact


@pytest.fixture(scope="module")
def pipeline(stack: Callable[[str, str], StackArtifact]) -> Template:
    return stack("", "Pipeline").template


@pytest.fixture(scope="module")
def pipeline_template(stack: Callable[[str, str], StackArtifact]) -> dict[str, Any]:
    return stack("", "Pipeline").template_json


@pytest.fixture(scope="module")
def pipeline_props(pipeline: Template) -> dict[str, Any]:
    """The CodePipeline's properties: its stages and actions, in order."""
    (resource,) = pipeline.find_resources("AWS::CodePipeline::Pipeline").values()
    props: dict[str, Any] = resource["Properties"]
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
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project"
    }
    return {logical_id: json.loads(text) for logical_id, text in specs.items() if text.lstrip().startswith("{")}


def _wave_name(wave: tuple[EnvironmentConfig, ...]) -> str:
    return wave[0].stage_id if len(wave) == 1 else stage_id_of(wave[0].wave or "")


def _prefix(wave: tuple[EnvironmentConfig, ...], env: EnvironmentConfig) -> str:
    """Actions of a wave of several stages carry the stage's id."""
    return f"{env.stage_id}." if len(wave) > 1 else ""


WORKLOAD_STACKS = {"Keys", "Network", "Data", "Service", "Observability"}


def test_stages_run_in_promotion_order(pipeline_props: dict[str, Any], fixture_config: AppConfig) -> None:
    names = [s["Name"] for s in pipeline_props["Stages"]]
    expected = [
        "Source",
        "Build",
        "PipelineChange",
        "UpdatePipeline",
        "Assets",
        "Evidence-Signing",
        *map(_wave_name, fixture_config.waves),
    ]
    assert names == expected


def test_pipeline_is_v2_and_triggered_by_pushes_to_the_branch(pipeline: Template, fixture_config: AppConfig) -> None:
    source = Capture()
    branch = fixture_config.pipeline.branch
    pipeline.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "PipelineType": "V2",
            "Triggers": [
                {
                    "ProviderType": "CodeStarSourceConnection",
                    "GitConfiguration": {"Push": [{"Branches": {"Includes": [branch]}}], "SourceActionName": source},
                }
            ],
        },
    )
    pipeline.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "Stages": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Name": "Source",
                            "Actions": [
                                Match.object_like(
                                    {
                                        "Name": source.as_string(),
                                        "Configuration": Match.object_like(
                                            {
                                                "FullRepositoryId": fixture_config.pipeline.repository,
                                                "BranchName": branch,
                                                "ConnectionArn": fixture_config.pipeline.connection_arn,
                                            }
                                        ),
                                    }
                                )
                            ],
                        }
                    )
                ]
            )
        },
    )


def _actions(pipeline_props: dict[str, Any], stage: str) -> list[tuple[str, str, int]]:
    (actions,) = [s["Actions"] for s in pipeline_props["Stages"] if s["Name"] == stage]
    return sorted(((a["Name"], a["ActionTypeId"]["Category"], a["RunOrder"]) for a in actions), key=lambda a: a[2])


def test_a_security_diff_per_stage_and_one_approval_before_each_wave_that_asks(
    pipeline_props: dict[str, Any], fixture_config: AppConfig
) -> None:
    approvals = unapproved = 0
    for wave in fixture_config.waves:
        actions = _actions(pipeline_props, _wave_name(wave))
        first_deploy = min(a[2] for a in actions if a[1] == "Deploy")
        diffs = []
        for env in wave:
            check, confirm = (
                next(a for a in actions if a[0] == f"SecurityDiff{env.stage_id}.{s}") for s in ("Check", "Confirm")
            )
            assert (check[1], confirm[1]) == ("Build", "Approval")
            assert check[2] < confirm[2] < first_deploy
            diffs.append(confirm)
        promotions = [a for a in actions if a[1] == "Approval" and not a[0].startswith("SecurityDiff")]
        if wave[0].approval:
            approvals += 1
            (approve,) = promotions
            assert approve[0] == f"Approve{_wave_name(wave)}"
            assert max(d[2] for d in diffs) < approve[2] < first_deploy
        else:  # the diff still runs, and a broadening still waits for a person; no promotion approval
            unapproved += 1
            assert promotions == []
        gates = [a for a in actions if a[1] == "Approval" or a[0].startswith("SecurityDiff")]
        assert len(gates) == 2 * len(wave) + int(wave[0].approval)
    assert approvals == sum(1 for wave in fixture_config.waves if wave[0].approval) >= 2
    assert unapproved >= 2, "the fixture has a first stage and a later one without approval"


def test_a_smoke_test_runs_after_each_stage_with_its_api_url(
    pipeline_props: dict[str, Any], fixture_config: AppConfig
) -> None:
    for wave in fixture_config.waves:
        actions = _actions(pipeline_props, _wave_name(wave))
        for env in wave:
            name = f"{_prefix(wave, env)}Smoke{env.stage_id}"
            (smoke,) = [a for a in actions if a[0] == name]
            assert smoke[1] == "Build"
            deploys = [a[2] for a in actions if a[1] == "Deploy" and a[0].startswith(_prefix(wave, env))]
            assert smoke[2] > max(deploys)
            (action,) = [
                a
                for s in pipeline_props["Stages"]
                if s["Name"] == _wave_name(wave)
                for a in s["Actions"]
                if a["Name"] == name
            ]
            variables = json.loads(action["Configuration"]["EnvironmentVariables"])
            api_url = next(v for v in variables if v["name"] == "API_URL")
            assert api_url["value"].startswith("#{")  # read from the stage's stack outputs at run time


def test_each_stage_deploys_every_workload_stack_in_its_region(
    pipeline_props: dict[str, Any], fixture_config: AppConfig
) -> None:
    stages = {s["Name"]: s["Actions"] for s in pipeline_props["Stages"]}
    for wave in fixture_config.waves:
        for env in wave:
            prefix = _prefix(wave, env)
            deploys = [
                a for a in stages[_wave_name(wave)] if a["Name"].startswith(prefix) and a["Name"].endswith(".Deploy")
            ]
            names = {a["Name"].removeprefix(prefix).removesuffix(".Deploy") for a in deploys}
            assert names == WORKLOAD_STACKS | ({"Baseline"} if env.account_baseline.services else set())
            other_region = env.region != fixture_config.pipeline.region
            assert all(a.get("Region") == (env.region if other_region else None) for a in deploys), env.name


def test_synth_step_runs_the_developer_make_targets(pipeline_template: dict[str, Any]) -> None:
    commands = [spec["phases"]["build"]["commands"] for spec in _projects(pipeline_template).values()]
    # The README's two commands, in this order: a red test run stops the pipeline before synth.
    assert ["make test", "make synth"] in commands


def test_self_mutation_uses_the_cli_version_package_json_pins(pipeline_template: dict[str, Any]) -> None:
    specs = _projects(pipeline_template).values()
    mutation = [s for s in specs if any("--exclusively" in c for c in s["phases"]["build"]["commands"])]
    assert len(mutation) == 1, "exactly one self-mutation project"
    (install,) = [c for c in mutation[0]["phases"]["install"]["commands"] if "npm install -g aws-cdk" in c]
    assert install.endswith(f"npm install -g aws-cdk@{cli_version()}")


def test_artifacts_are_encrypted_with_a_rotated_key_in_a_versioned_logged_bucket(pipeline: Template) -> None:
    key = Capture()
    pipeline.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LoggingConfiguration": Match.object_like({"DestinationBucketName": Match.any_value()}),
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]},
                            }
                        }
                    )
                ]
            },
        },
    )
    rotated = pipeline.find_resources("AWS::KMS::Key", {"Properties": Match.object_like({"EnableKeyRotation": True})})
    assert key.as_string() in rotated
    # Every key that encrypts rotates (the evidence key only signs: an asymmetric key cannot rotate).
    encrypting = pipeline.find_resources(
        "AWS::KMS::Key", {"Properties": Match.object_like({"KeyUsage": Match.absent()})}
    )
    assert set(encrypting) <= set(rotated)


def test_each_stage_deploys_to_its_configured_account_and_region(
    stacks: dict[str, StackArtifact], fixture_config: AppConfig
) -> None:
    for env in fixture_config.environments:
        stage_stacks = [s for s in stacks.values() if s.path.startswith(f"Pipeline/{env.stage_id}/")]
        expected = WORKLOAD_STACKS | ({"Baseline"} if env.account_baseline.services else set())
        assert {s.path.split("/")[-1] for s in stage_stacks} == expected
        for s in stage_stacks:
            assert (s.account, s.region) == (env.account, env.region), s.path
    pipeline = stacks["Pipeline"]
    assert (pipeline.account, pipeline.region) == (fixture_config.pipeline.account, fixture_config.pipeline.region)


def test_synth_publishes_test_and_compliance_reports(pipeline: Template, pipeline_template: dict[str, Any]) -> None:
    groups = pipeline.find_resources("AWS::CodeBuild::ReportGroup")
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


def test_approvers_are_notified_on_an_encrypted_topic(pipeline: Template, fixture_config: AppConfig) -> None:
    topic = Capture()
    # Promotions only: CDK's own security-diff confirmation approves itself on most runs.
    expected = [f"Approve{_wave_name(wave)}" for wave in fixture_config.waves if wave[0].approval]
    waiting = {
        "EventPattern": Match.object_like(
            {"detail": Match.object_like({"type": {"category": ["Approval"]}, "action": expected})}
        )
    }
    pipeline.has_resource_properties(
        "AWS::Events::Rule",
        {
            **waiting,
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Ref": topic},
                        # The message links to the run.
                        "InputTransformer": Match.object_like(
                            {
                                "InputTemplate": {
                                    "Fn::Join": ["", Match.array_with([Match.string_like_regexp("executions/")])]
                                }
                            }
                        ),
                    }
                )
            ],
        },
    )
    assert topic.as_string() in pipeline.find_resources(  # the topic is encrypted
        "AWS::SNS::Topic", {"Properties": Match.object_like({"KmsMasterKeyId": Match.any_value()})}
    )
    # One rule pages the approvers when a promotion waits: a second would page them twice.
    assert len(pipeline.find_resources("AWS::Events::Rule", {"Properties": waiting})) == 1


def test_build_logs_are_encrypted_and_retained(pipeline: Template) -> None:
    pipeline.all_resources_properties(
        "AWS::CodeBuild::Project",
        {"LogsConfig": {"CloudWatchLogs": Match.object_like({"Status": "ENABLED", "GroupName": Match.any_value()})}},
    )
    retention = Capture()
    pipeline.all_resources_properties(
        "AWS::Logs::LogGroup", {"KmsKeyId": Match.any_value(), "RetentionInDays": retention}
    )
    days = [retention.as_number()]
    while retention.next():
        days.append(retention.as_number())
    assert min(days) >= 365


def test_only_docker_asset_publishing_runs_privileged(pipeline: Template) -> None:
    privileged = pipeline.find_resources(
        "AWS::CodeBuild::Project", {"Properties": {"Environment": Match.object_like({"PrivilegedMode": True})}}
    )
    assert [logical_id for logical_id in privileged if "DockerAsset" in logical_id] == list(privileged)
    assert len(privileged) == 1  # the one project that builds images


def test_evidence_is_signed_after_synth_by_a_step_that_may_only_sign(
    pipeline: Template, pipeline_props: dict[str, Any]
) -> None:
    stages = pipeline_props["Stages"]
    names = [s["Name"] for s in stages]
    (evidence,) = [s for s in stages if s["Name"] == "Evidence-Signing"]
    deploying = [
        n for n, s in enumerate(stages) if any(a["ActionTypeId"]["Category"] == "Deploy" for a in s["Actions"])
    ]
    assert names.index("Build") < names.index("Evidence-Signing") < min(deploying)
    (sign,) = evidence["Actions"]
    # The assembly alone: no source checkout, so nothing of the commit is at hand to run.
    assert [i["Name"] for i in sign["InputArtifacts"]] == ["Synth_Output"]
    assert sign["OutputArtifacts"], "the envelope is kept with the run's artifacts"
    signing = {"Properties": Match.object_like({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})}
    pipeline.has_resource("AWS::KMS::Key", {**signing, "DeletionPolicy": "RetainExceptOnCreate"})
    (key_id,) = pipeline.find_resources("AWS::KMS::Key", signing)
    assert "EvidenceSigningKey" in key_id
    # Only the signing step's role may use the key, and only to sign with it.
    users = []
    for policy in pipeline.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if key_id in json.dumps(statement["Resource"]):
                assert statement["Action"] == "kms:Sign"
                assert statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
                users.append(policy["Metadata"]["aws:cdk:path"])
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "kms:Sign" not in actions or key_id in json.dumps(statement["Resource"])
    (signer,) = users
    assert signer.endswith("/Evidence-Signing/SignEvidence/SignEvidence/Role/DefaultPolicy/Resource")


def test_every_other_stage_region_has_our_hardened_replication_bucket(
    stacks: dict[str, StackArtifact], fixture_config: AppConfig, pipeline_props: dict[str, Any]
) -> None:
    other = {e.region for e in fixture_config.environments} - {fixture_config.pipeline.region}
    assert other, "the fixture deploys a stage in another region than the pipeline"
    supports = {s.region: s for s in stacks.values() if s.path.startswith("PipelineSupport-")}
    assert set(supports) == other
    assert not [s for s in stacks.values() if s.path.startswith("cross-region-stack")]  # CDK's own, unhardened
    stores = {store["Region"]: store["ArtifactStore"] for store in pipeline_props["ArtifactStores"]}
    assert set(stores) == other | {fixture_config.pipeline.region}
    for region, support in supports.items():
        assert support.account == fixture_config.pipeline.account
        template = support.template
        template.has_resource(
            "AWS::S3::Bucket",
            {
                # Kept on delete and replacement; a first create that rolls back leaves nothing behind.
                "DeletionPolicy": "RetainExceptOnCreate",
                "UpdateReplacePolicy": "Retain",
                "Properties": Match.object_like(
                    {
                        "BucketName": stores[region]["Location"],
                        "VersioningConfiguration": {"Status": "Enabled"},
                        "LoggingConfiguration": Match.object_like({"DestinationBucketName": Match.any_value()}),
                        "PublicAccessBlockConfiguration": Match.object_like({"BlockPublicPolicy": True}),
                    }
                ),
            },
        )
        template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "PolicyDocument": Match.object_like(
                    {
                        "Statement": Match.array_with(
                            [
                                Match.object_like(
                                    {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                                )
                            ]
                        )
                    }
                )
            },
        )
        alias = Capture()
        template.has_resource_properties("AWS::KMS::Alias", {"AliasName": alias})
        assert stores[region]["EncryptionKey"]["Id"].endswith(f":alias/{alias.as_string().removeprefix('alias/')}")
        template.has_resource(
            "AWS::KMS::Key",
            {"DeletionPolicy": "RetainExceptOnCreate", "Properties": Match.object_like({"EnableKeyRotation": True})},
        )


def test_the_pipeline_role_uses_only_its_own_replication_keys(
    pipeline: Template, stacks: dict[str, StackArtifact]
) -> None:
    aliases = sorted(
        a["Properties"]["AliasName"]
        for s in stacks.values()
        if s.path.startswith("PipelineSupport-")
        for a in s.template.find_resources("AWS::KMS::Alias").values()
    )
    policies = [p for k, p in pipeline.find_resources("AWS::IAM::Policy").items() if k.startswith("CodePipelineRole")]
    (statements,) = [p["Properties"]["PolicyDocument"]["Statement"] for p in policies]
    kms = [
        s
        for s in statements
        if all(a.startswith("kms:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    ]
    assert all("*" not in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]) for s in kms)
    (cross_region,) = [s for s in kms if "Condition" in s]
    assert sorted(cross_region["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"]) == aliases


def test_each_protected_stage_turns_termination_protection_on_after_its_deploy(
    pipeline_props: dict[str, Any], pipeline_template: dict[str, Any], fixture_config: AppConfig
) -> None:
    specs = {logical_id: json.dumps(spec) for logical_id, spec in _projects(pipeline_template).items()}
    protected = [(wave, env) for wave in fixture_config.waves for env in wave if env.protect_data]
    assert protected, "the fixture has protected environments"
    for wave, env in protected:
        actions = _actions(pipeline_props, _wave_name(wave))
        name = f"{_prefix(wave, env)}Protect{env.stage_id}"
        (protect,) = [a for a in actions if a[0] == name]
        deploys = [a[2] for a in actions if a[1] == "Deploy" and a[0].startswith(_prefix(wave, env))]
        assert protect[2] > max(deploys)
        data = f"{env.stage_id}-Data"
        (spec,) = [s for s in specs.values() if f"--stack-name {data}" in s and "update-termination-protection" in s]
        assert "--enable-termination-protection" in spec
        assert "EnableTerminationProtection" in spec  # and it checks that protection is on
        assert f"-deploy-role-{env.account}-{env.region}" in spec
    unprotected = [env for env in fixture_config.environments if not env.protect_data]
    assert all(f"Protect{env.stage_id}" not in json.dumps(pipeline_props) for env in unprotected)


def test_the_most_environments_a_pipeline_holds_fit_its_template_and_stages(
    stack: Callable[[str, str], StackArtifact], fixture_config: AppConfig
) -> None:
    # CloudFormation takes a template of at most 1 MB (1,048,576 bytes in S3); CodePipeline at most 50 stages.
    # The template is a fixed part (the pipeline's own resources, the checks it carries) and a part per
    # environment (its resources, named after its stage id, and its pipeline stage): the bound is the fixed
    # part plus the largest environment's part for each environment a configuration may have.
    def size(value: Any) -> int:
        return len(json.dumps(value, separators=(",", ":")))

    template = copy.deepcopy(stack("", "Pipeline").template_json)
    stage_ids = [env.stage_id for env in fixture_config.environments]
    per_stage = dict.fromkeys(stage_ids, 0)
    for logical_id, resource in list(template["Resources"].items()):
        owner = next((s for s in sorted(stage_ids, key=len, reverse=True) if s in logical_id), None)
        if owner is not None:
            per_stage[owner] += size(resource)
            del template["Resources"][logical_id]
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    for stage in list(pipeline["Properties"]["Stages"]):
        owners = [s for s in stage_ids if any(s in action["Name"] for action in stage["Actions"])]
        for owner in owners:
            per_stage[owner] += size(stage) // len(owners)
        if owners:
            pipeline["Properties"]["Stages"].remove(stage)
    fixed = size(template)
    assert all(per_stage.values()), per_stage
    assert fixed + max(per_stage.values()) * MAX_ENVIRONMENTS < 1_000_000, (fixed, per_stage)
    assert len(RESERVED_PIPELINE_STAGES) + MAX_ENVIRONMENTS <= 50


def test_the_configuration_counts_each_stages_actions_as_the_pipeline_has_them(
    pipeline_props: dict[str, Any], fixture_config: AppConfig
) -> None:
    # config/rules.py refuses a wave whose stage would pass CodePipeline's 50 actions by this count.
    actual = {stage["Name"]: len(stage["Actions"]) for stage in pipeline_props["Stages"]}
    for wave in fixture_config.waves:
        name = wave[0].stage_id if len(wave) == 1 else stage_id_of(wave[0].wave or wave[0].name)
        counted = int(wave[0].approval) + sum(
            stage_actions(protect_data=env.protect_data, baseline=bool(env.account_baseline.services)) for env in wave
        )
        assert actual[name] == counted, name


def test_the_source_action_may_use_a_codeconnections_connection(
    pipeline_template: dict[str, Any], fixture_config: AppConfig
) -> None:
    # IAM matches the action's service prefix with the connection ARN's: codestar-connections does not cover it.
    arn = fixture_config.pipeline.connection_arn
    assert ":codeconnections:" in arn
    granted = {
        action
        for policy in pipeline_template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy"
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Resource"] == arn
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert "codeconnections:UseConnection" in granted
