"""Control Tower's proactive controls at synth: the catalogue, the gate's acknowledgments, the report's list."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match

from compliance import acknowledge, control_tower, findings
from compliance.checks import KEY, SUBNET, ResolvedAtDeploy, Versioned
from compliance.model import ComplianceModel, Status
from compliance.packs import CONTEXT
from compliance.references import TemplateIndex
from compliance.report import controls_to_disable, render_markdown
from components.encryption_key import GrantsOnlyForAwsResources
from config import PROJECT_ROOT, ConfigError, parse_config
from tests.conftest import LAYOUTS, StackArtifact

# --- the catalogue: a canary for the plugin's bundled rule files -----------------------------------


def test_the_catalogue_is_read_from_the_installed_plugin() -> None:
    controls = control_tower.controls()
    # Canary: the layout of the plugin's bundle (rules/control-tower/cfn-guard/<service>/ct-*.guard, each with a
    # "Rule Identifier"/"Rule Name" and "Reports on" header and a "[CT.X.PR.N]:" message) is what this reads.
    assert len(controls) >= 200, "the plugin bundles far fewer Guard files than expected: has its layout changed?"
    for control in controls:
        assert control_tower.CONTROL_ID.fullmatch(control.control_id), control
        assert control.file_stem == control.control_id.lower().replace(".", "-"), control
        assert re.fullmatch(r"[a-z0-9_]+", control.rule), control
        assert control.resource_types, control
        assert all(re.fullmatch(r"AWS::\w+::\w+", t) for t in control.resource_types), control
    assert len({c.rule for c in controls}) == len(controls), "two controls share a Guard rule name"


def test_a_control_applies_to_every_type_its_rule_names_as_cloudformation_spells_it() -> None:
    by_id = control_tower.by_id()
    # Two Guard files report on 'AWS::AutoScaling::AutoscalingGroup' in their header; the rule matches the real type.
    assert by_id["CT.AUTOSCALING.PR.6"].resource_types == ("AWS::AutoScaling::AutoScalingGroup",)
    # A log group's control reads its key too: a template of keys alone cannot fail it, a log group's can.
    log_groups = by_id["CT.CLOUDWATCH.PR.3"]
    assert log_groups.queried_types >= {"AWS::Logs::LogGroup", "AWS::KMS::Key"}
    assert log_groups.applies_to({"AWS::Logs::LogGroup"})
    assert not log_groups.applies_to({"AWS::S3::Bucket"})
    for control in control_tower.controls():
        assert set(control.resource_types) <= control.queried_types, control


def test_a_control_cites_nist_controls_only_through_its_cdk_nag_twin() -> None:
    rules = {r.rule: r for r in control_tower.rules()}
    log_groups = rules["ControlTower::CT.CLOUDWATCH.PR.3"]
    assert "SC-28" in {c.split("(")[0] for c in log_groups.cited}
    assert "CloudWatchLogGroupEncrypted" in log_groups.description
    assert any(not r.cited for r in rules.values()), "controls without a twin cite nothing"
    assert "ControlTower::CT.S3.PR.4" not in {r.rule for r in control_tower.rules(["CT.S3.PR.4"])}


def test_a_finding_id_comes_from_the_violation_description() -> None:
    described = "[CT.NETWORK-FIREWALL.PR.1]: Require any AWS Network Firewall firewall policy to have a rule group"
    assert control_tower.finding_of(described) == "ControlTower::CT.NETWORK-FIREWALL.PR.1"
    assert control_tower.finding_of("no control id here") is None


# --- configuration ---------------------------------------------------------------------------------


def _with_disabled(controls: Any) -> dict[str, Any]:
    import yaml

    raw: dict[str, Any] = copy.deepcopy(yaml.safe_load(LAYOUTS.read_text()))
    raw["control_tower"] = {"disabled_controls": controls}
    return raw


@pytest.mark.parametrize(
    ("controls", "expected"),
    [
        (["CT.S3.PR.999"], "'CT.S3.PR.999', which is not a control the installed plugin bundles"),
        (["ct-s3-pr-4"], "'ct-s3-pr-4', which is not a control id like 'CT.S3.PR.4'"),
        (["CT.S3.PR.4", "CT.S3.PR.4"], "lists a control twice"),
    ],
)
def test_a_bad_disabled_control_is_refused_naming_the_field(controls: list[str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_disabled(controls), source="test.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("control_tower.disabled_controls"), problem
    assert expected in problem


def test_disabled_controls_are_accepted() -> None:
    config = parse_config(_with_disabled(["CT.S3.PR.4"]), source="test.yaml")
    assert config.control_tower.disabled_controls == ("CT.S3.PR.4",)


# --- the broken input: a log group the hook would refuse -------------------------------------------


def _small_app(
    tmp_path: Path, *, disabled: tuple[str, ...] = (), local_key: bool = False, acknowledged: bool = False
) -> Path:
    """One stack with a retained log group whose key is in another stack (or its own): synthesized, assembly dir."""
    app = cdk.App(outdir=str(tmp_path), context=CONTEXT)
    cdk.Validations.of(app).add_plugins(control_tower.validator(disabled))
    cdk.Aspects.of(app).add(GrantsOnlyForAwsResources())  # as on every stage: the log group is the one finding
    env = cdk.Environment(account="700000000007", region="us-east-1")
    keys = cdk.Stack(app, "Keys", env=env)
    logs_stack = cdk.Stack(app, "Logs", env=env)
    key = kms.Key(logs_stack if local_key else keys, "Key", enable_key_rotation=True)
    group = logs.LogGroup(logs_stack, "Group", encryption_key=key)
    if acknowledged:
        acknowledge(
            group.node.default_child,  # type: ignore[arg-type]
            "ControlTower::CT.CLOUDWATCH.PR.3",
            reason="The key is another stack's customer managed key, which the hook sees resolved at deploy.",
            checks=[ResolvedAtDeploy(prop="KmsKeyId", to=KEY)],
            controls=["SC-28"],
        )
    app.synth()
    return tmp_path


def _plugin_report(assembly: Path) -> dict[str, Any]:
    found = _plugin_report_or_none(assembly)
    assert found is not None, "the plugin reported nothing"
    return found


def _plugin_report_or_none(assembly: Path) -> dict[str, Any] | None:
    report = json.loads((assembly / "validation-report.json").read_text(encoding="utf-8"))
    return next((p for p in report["pluginReports"] if p["pluginName"] == control_tower.PLUGIN_NAME), None)


def test_a_cross_stack_key_is_a_finding_at_synth_the_gate_names(tmp_path: Path) -> None:
    open_findings = findings(_small_app(tmp_path))
    rules = {(f.rule, f.path) for f in open_findings}
    assert ("ControlTower::CT.CLOUDWATCH.PR.3", "Logs/Group/Resource") in rules
    line = next(f.line() for f in open_findings if f.rule == "ControlTower::CT.CLOUDWATCH.PR.3")
    assert "encrypted at rest with an AWS KMS key" in line


def test_a_key_of_the_same_stack_passes(tmp_path: Path) -> None:
    rules = {f.rule for f in findings(_small_app(tmp_path, local_key=True))}
    assert "ControlTower::CT.CLOUDWATCH.PR.3" not in rules


def test_an_acknowledged_control_is_suppressed_by_the_cdk_so_its_cli_accepts_the_assembly(tmp_path: Path) -> None:
    # The CDK CLI (synth, diff, deploy: the pipeline's self-mutation and security diff) refuses an assembly whose
    # validation report has a failed plugin; the CDK suppresses a violation only under the plugin's own rule name.
    assert _plugin_report(_small_app(tmp_path / "open"))["conclusion"] == "failure"
    plugin = _plugin_report(_small_app(tmp_path / "acknowledged", acknowledged=True))
    assert plugin["conclusion"] == "success"
    assert plugin.get("violations", []) == []
    (suppressed,) = plugin["suppressedViolations"]
    assert suppressed["ruleName"] == "cloudwatch_log_group_encrypted_check"
    assert suppressed["violatingConstructs"][0]["constructPath"] == "Logs/Group/Resource"
    # The acknowledgment's own id stays ours, and an unknown control is refused when acknowledged.
    assert control_tower.validation_id("ControlTower::CT.S3.PR.4").startswith(f"{control_tower.PLUGIN_NAME}::s3_")
    with pytest.raises(ValueError, match=re.escape("CT.S3.PR.999")):
        control_tower.validation_id("ControlTower::CT.S3.PR.999")


def test_a_clean_run_still_counts_as_run(tmp_path: Path) -> None:
    """The CDK leaves a plugin with nothing to report out of its report; the controls still passed."""
    from compliance.evaluation import evaluate

    assembly = tmp_path / "clean"
    app = cdk.App(outdir=str(assembly), context={"aws:cdk:enable-path-metadata": True, **CONTEXT})
    cdk.Validations.of(app).add_plugins(control_tower.validator())
    cdk.Aspects.of(app).add(GrantsOnlyForAwsResources())
    stack = cdk.Stack(app, "Logs", env=cdk.Environment(account="700000000007", region="us-east-1"))
    logs.LogGroup(stack, "Group", encryption_key=kms.Key(stack, "Key", enable_key_rotation=True))
    app.synth()
    assert _plugin_report_or_none(assembly) is None  # what the CDK writes for a clean plugin
    model = evaluate(app, assembly, stages=[])
    passed = {(e.rule, e.path) for e in model.evaluations if e.status is Status.COMPLIANT}
    assert ("ControlTower::CT.CLOUDWATCH.PR.3", "Logs/Group/Resource") in passed


def test_a_disabled_control_is_not_checked(tmp_path: Path) -> None:
    rules = {f.rule for f in findings(_small_app(tmp_path, disabled=("CT.CLOUDWATCH.PR.3",)))}
    assert "ControlTower::CT.CLOUDWATCH.PR.3" not in rules


def test_acknowledge_takes_a_control_tower_finding_id() -> None:
    stack = cdk.Stack(cdk.App(), "Fixture")
    reason = "A reason that is long enough to be read by an auditor as one."
    acknowledge(stack, "ControlTower::CT.S3.PR.4", reason=reason, checks=[Versioned()], controls=["AU-9"])
    with pytest.raises(ValueError, match="not a finding id"):
        acknowledge(
            stack, "ControlTower::s3_event_notifications", reason=reason, checks=[Versioned()], controls=["AU-9"]
        )


@jsii.implements(cdk.IPolicyValidationContextBeta1)
class _Templates:
    def __init__(self, paths: list[str]) -> None:
        self._paths = paths

    @property
    def template_paths(self) -> list[str]:
        return self._paths

    @property
    def app_construct(self) -> Any:
        raise AssertionError("the plugin reads only the template paths")


def _violations(report: cdk.PolicyValidationPluginReportBeta1) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {
        (v.rule_name, Path(r.template_path).name, r.resource_logical_id, tuple(sorted(r.locations or ())))
        for v in report.violations
        for r in v.violating_resources
    }


def test_running_template_by_template_finds_what_the_plugin_finds_with_every_rule(tmp_path: Path) -> None:
    """Canary for the per-template run: the stock plugin with all its rules, over the same templates, agrees."""
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    from compliance.control_tower_validator import ControlTowerValidator

    app = cdk.App(outdir=str(tmp_path), context=CONTEXT)
    env = cdk.Environment(account="700000000007", region="us-east-1")
    keys, workload = cdk.Stack(app, "Keys", env=env), cdk.Stack(app, "Workload", env=env)
    logs.LogGroup(workload, "Group", encryption_key=kms.Key(keys, "Key"))  # a referenced type, in another stack
    s3.Bucket(workload, "Bucket")
    sqs.Queue(workload, "Queue")
    # The resource type the Guard files' header misspells.
    autoscaling.CfnAutoScalingGroup(workload, "Group2", min_size="1", max_size="1", availability_zones=["us-east-1a"])
    templates = sorted(str(p) for p in Path(app.synth().directory).glob("*.template.json"))

    stock = CfnGuardValidator(control_tower_rules_enabled=True, max_buffer=control_tower.MAX_BUFFER_BYTES)
    expected = _violations(stock.validate(_Templates(templates)))
    assert {v[0] for v in expected} >= {
        "cloudwatch_log_group_encrypted_check",  # across stacks: the key's type is read in another template
        "autoscaling_mixed_instances_policy_multiple_instance_types_check",
    }
    assert _violations(ControlTowerValidator().validate(_Templates(templates))) == expected


# --- ResolvedAtDeploy on plain templates -----------------------------------------------------------


def _index(group_key: Any, *, export: bool = True) -> TemplateIndex:
    keys = {
        "Resources": {"Key": {"Type": KEY, "Properties": {}}, "Subnet": {"Type": SUBNET, "Properties": {}}},
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "App-Keys:KeyArn"}}}
        if export
        else {},
    }
    logs_template = {
        "Resources": {
            "Local": {"Type": KEY, "Properties": {}},
            "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": group_key}},
        }
    }
    return TemplateIndex.from_templates({"App/Keys": keys, "App/Logs": logs_template})


@pytest.mark.parametrize(
    ("value", "holds"),
    [
        ({"Fn::ImportValue": "App-Keys:KeyArn"}, True),  # another stack's key: the hook sees its ARN
        ({"Fn::GetAtt": ["Local", "Arn"]}, False),  # the synth-time rule reads this itself
        ("arn:aws:kms:us-east-1:700000000007:key/1", False),  # a literal: no reference to prove
        ({"Fn::ImportValue": "App-Keys:Missing"}, False),  # not an export of this app
        (None, False),
    ],
)
def test_resolved_at_deploy_holds_only_for_a_cross_stack_reference_of_the_right_type(value: Any, holds: bool) -> None:
    (result,) = ResolvedAtDeploy(prop="KmsKeyId", to=KEY).evaluate("App/Logs/Group", _index(value))
    assert result.holds is holds, result.evidence


def test_resolved_at_deploy_refuses_a_reference_to_the_wrong_type() -> None:
    (result,) = ResolvedAtDeploy(prop="KmsKeyId", to=SUBNET).evaluate(
        "App/Logs/Group", _index({"Fn::ImportValue": "App-Keys:KeyArn"})
    )
    assert not result.holds
    assert "not a reference to AWS::EC2::Subnet" in result.evidence


# --- the fixture app ---------------------------------------------------------------------------------


def test_the_plugin_ran_on_every_stage_and_nothing_is_open(
    compliance_model: ComplianceModel, assembly_dir: Path
) -> None:
    evaluated = [e for e in compliance_model.evaluations if e.pack == control_tower.PACK]
    assert {e.scope for e in evaluated} == set(compliance_model.scopes)
    open_findings = [e for e in evaluated if e.status is Status.NON_COMPLIANT]
    assert open_findings == [], [(e.finding, e.path, e.message) for e in open_findings]
    gate = findings(assembly_dir)
    assert [f for f in gate if f.plugin == control_tower.PLUGIN_NAME] == []


def test_the_cdk_cli_accepts_the_assembly_the_pipeline_deploys_from(assembly_dir: Path) -> None:
    """Self-mutation (`cdk -a . deploy`) and the security diff (`cdk -a . diff`) read the same report as this."""
    report = json.loads((assembly_dir / "validation-report.json").read_text(encoding="utf-8"))
    assert [p["pluginName"] for p in report["pluginReports"] if p["conclusion"] != "success"] == []
    cli = [str(PROJECT_ROOT / "node_modules" / ".bin" / "cdk"), "-a", str(assembly_dir), "synth", "--quiet"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([*cli, "--no-notices", "**"], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_kms_key_lets_only_aws_services_create_grants(stacks: dict[str, StackArtifact]) -> None:
    deny = Match.object_like(
        {
            "Effect": "Deny",
            "Action": "kms:CreateGrant",
            "Principal": {"AWS": "*"},
            "Resource": "*",
            "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        }
    )
    with_keys = [artifact.template for artifact in stacks.values() if artifact.template.find_resources(KEY)]
    assert with_keys
    for template in with_keys:
        template.all_resources_properties(
            KEY, {"KeyPolicy": Match.object_like({"Statement": Match.array_with([deny])})}
        )


def test_controls_to_disable_are_the_acknowledgments_the_hook_would_still_refuse(
    compliance_model: ComplianceModel,
) -> None:
    acknowledged = [
        e for e in compliance_model.evaluations if e.pack == control_tower.PACK and e.status is Status.ACKNOWLEDGED
    ]
    assert acknowledged
    listed = {
        (f"{control_tower.FINDING_PREFIX}{c.control}", p)
        for c in controls_to_disable(compliance_model)
        for p in c.paths
    }
    resolved = {
        (a.finding, a.path)
        for a in compliance_model.acknowledgments
        if any(c.check == "ResolvedAtDeploy" and c.holds for c in a.checks)
    }
    assert resolved, "cross-stack keys and subnets are acknowledged as resolved at deploy"
    for e in acknowledged:
        passes = any(e.finding == f and (e.path == p or e.path.startswith(p + "/")) for f, p in resolved)
        assert ((e.finding, e.path) in listed) is not passes, (e.finding, e.path)
    markdown = render_markdown(compliance_model)
    assert "### Control Tower controls this deployment needs disabled for its organisational unit" in markdown
    for item in controls_to_disable(compliance_model):
        assert f"`{item.control}`" in markdown


def test_the_report_round_trips_the_disabled_controls(compliance_model: ComplianceModel) -> None:
    data = json.loads(json.dumps(compliance_model.to_json()))
    data["disabled_controls"] = ["CT.S3.PR.4"]
    assert ComplianceModel.from_json(data).disabled_controls == ["CT.S3.PR.4"]
