"""The compliance gate: what the packs find, what is acknowledged, and why."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from app import report_and_gate
from compliance import AcknowledgmentKind, acknowledge, acknowledgments_in, findings, register_packs
from compliance.assembly import REPORT_DIRECTORY, CloudAssembly
from compliance.checks import EncryptedAtRest, NotPublic, Versioned
from compliance.evaluation import stage_neutral
from compliance.gate import Finding, format_findings
from compliance.model import ComplianceModel, Status
from compliance.packs import CONTEXT
from config import AppConfig
from tests.conftest import StackArtifact


def test_fixture_app_has_no_open_findings(assembly_dir: Path, compliance_model: ComplianceModel) -> None:
    open_findings = findings(assembly_dir)
    assert open_findings == [], "\n".join(f.line() for f in open_findings)


def test_no_validation_report_and_a_failed_plugin_are_open_findings(tmp_path: Path) -> None:
    assert [f.rule for f in findings(tmp_path)] == ["NoValidationReport"]
    error = "Validation plugin 'Preflight' failed: boom"
    failed = {"pluginName": "Preflight", "conclusion": "failure", "violations": [], "metadata": {"error": error}}
    (tmp_path / "validation-report.json").write_text(json.dumps({"pluginReports": [failed]}))
    assert [(f.plugin, f.rule, f.message) for f in findings(tmp_path)] == [("Preflight", "PluginFailed", error)]


def test_cdk_reports_no_warnings(assembly_dir: Path) -> None:
    metadata = CloudAssembly(assembly_dir).metadata()
    warnings = [(path, data) for path, kind, data in metadata if kind in ("aws:cdk:warning", "aws:cdk:error")]
    assert warnings == []


def test_every_acknowledgment_is_audit_grade(fixture_app: cdk.App) -> None:
    acks = acknowledgments_in(fixture_app)
    assert acks, "the default app acknowledges findings"
    for ack in acks:
        assert len(ack.reason.split()) >= 8, ack
        assert ack.checks, ack
        assert len(ack.compensating_control.split()) >= 4, ack
        assert ack.controls, ack
        assert all(re.fullmatch(r"[A-Z]{2}-\d+(\(\d+\))?", c) for c in ack.controls), ack
        assert not re.search(r"\b(false positive|not needed|sample)\b", ack.reason, re.IGNORECASE), ack


def test_acknowledgments_sit_on_constructs_not_on_stacks_or_stages(fixture_app: cdk.App) -> None:
    found: dict[str, IConstruct] = {"": fixture_app}

    def at(path: str) -> IConstruct:
        # Down the tree one child at a time, each prefix once: the app has thousands of constructs.
        if path not in found:
            parent, _, name = path.rpartition("/")
            found[path] = at(parent).node.find_child(name)
        return found[path]

    for ack in acknowledgments_in(fixture_app):
        assert not isinstance(at(ack.path), cdk.Stack | cdk.Stage), ack.path


def _stage_acknowledgments(app: cdk.App, stage: str) -> set[tuple[str, str]]:
    """A stage's acknowledgments with the stage's own name and logical-id hashes taken out of the paths."""

    return {
        (stage_neutral(a.path, stage), a.finding)
        for a in acknowledgments_in(app)
        if a.path.startswith(f"Pipeline/{stage}/")
    }


def _workload(findings: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Outside the account baseline, whose acknowledgments follow the services each environment switches on."""
    return {f for f in findings if not f[0].startswith("Baseline/")}


def test_protected_environments_acknowledge_exactly_the_same_findings(
    fixture_app: cdk.App, fixture_config: AppConfig
) -> None:
    protected = [e.stage_id for e in fixture_config.environments if e.protected]
    assert len(protected) >= 2
    first, *others = (_workload(_stage_acknowledgments(fixture_app, stage)) for stage in protected)
    assert first
    assert all(other == first for other in others)


def test_an_unprotected_environment_acknowledges_more_only_where_its_config_differs(
    fixture_app: cdk.App, fixture_config: AppConfig
) -> None:
    protected = next(e.stage_id for e in fixture_config.environments if e.protected)
    config_driven = {
        "RDS3",
        "RDSMultiAZSupport",
        "RDS10",
        "RDSInstanceDeletionProtectionEnabled",
        "ELBDeletion",
        "AEC4",
        "LogGroupRetention",  # log_retention_days under a year, which only an unprotected environment may set
        "LogRetentionFedRAMP",  # and under FedRAMP's AU-11 retention (OMB M-21-31)
        # Control Tower's twins of the same settings, and of backups kept under a week.
        "CT.RDS.PR.1",
        "CT.RDS.PR.13",
        "CT.RDS.PR.8",
        "CT.ELASTICLOADBALANCING.PR.5",
        "CT.CLOUDWATCH.PR.2",
    }
    for env in fixture_config.environments:
        if env.protected:
            continue
        mine = _workload(_stage_acknowledgments(fixture_app, env.stage_id))
        theirs = _workload(_stage_acknowledgments(fixture_app, protected))
        assert theirs <= mine, env.name
        assert all(any(k in finding for k in config_driven) for _, finding in mine - theirs), mine - theirs


@pytest.mark.parametrize(
    ("finding", "kwargs"),
    [
        ("IAM5", {}),  # not a full finding id
        ("AwsSolutions-IAM5[Resource::*]", {"reason": "because"}),
        ("AwsSolutions-IAM5[Resource::*]", {"checks": []}),
        ("AwsSolutions-IAM5[Resource::*]", {"checks": ["the bucket is versioned"]}),
        ("AwsSolutions-IAM5[Resource::*]", {"controls": []}),
        ("AwsSolutions-IAM5[Resource::*]", {"controls": ["access control"]}),
        ("AwsSolutions-IAM5[Resource::*]", {"review_by": "next year"}),
        ("AwsSolutions-IAM5[Resource::*]", {"review_by": ""}),
        ("AwsSolutions-IAM5[Resource::*]", {"kind": "operational requirement"}),  # the kind's value, not the kind
        ("AwsSolutions-IAM5[Resource::*]", {"kind": None}),
    ],
)
def test_acknowledge_refuses_an_incomplete_acknowledgment(finding: str, kwargs: dict[str, object]) -> None:
    stack = cdk.Stack(cdk.App(), "Fixture")
    params: dict[str, object] = {
        "reason": "A reason that is long enough to be read by an auditor as one.",
        "kind": AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
        "checks": [Versioned()],
        "controls": ["AC-6"],
        "review_by": "2027-06-30",
        **kwargs,
    }
    with pytest.raises(ValueError, match=r"acknowledg|finding id"):
        acknowledge(stack, finding, **params)  # type: ignore[arg-type]


def test_a_finding_that_is_neither_fixed_nor_acknowledged_fails_the_gate(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path), context=CONTEXT)
    stack = cdk.Stack(app, "Fixture", env=cdk.Environment(account="123456789012", region="us-west-2"))
    s3.Bucket(stack, "Plain", encryption=s3.BucketEncryption.S3_MANAGED)
    register_packs(app)
    app.synth()
    open_findings = findings(tmp_path)
    rules = {f.rule for f in open_findings if f.path == "Fixture/Plain/Resource"}
    assert {
        "AwsSolutions-S1",
        "NIST.800.53.R5-S3BucketLoggingEnabled",
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
    } <= rules
    (first,) = [f for f in open_findings if f.rule == "AwsSolutions-S1"]
    assert first.line().startswith("AwsSolutions-S1 at Fixture/Plain/Resource: ")


def test_an_acknowledgment_suppresses_exactly_its_finding(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path), context=CONTEXT)
    stack = cdk.Stack(app, "Fixture", env=cdk.Environment(account="123456789012", region="us-west-2"))
    bucket = s3.Bucket(stack, "Plain", encryption=s3.BucketEncryption.S3_MANAGED)
    acknowledge(
        bucket,
        "AwsSolutions-S1",
        reason="This fixture bucket stands for one whose access is logged by CloudTrail data events.",
        kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
        checks=[EncryptedAtRest()],
        controls=["AU-2"],
        review_by="2027-06-30",
    )
    register_packs(app)
    app.synth()
    rules = {f.rule for f in findings(tmp_path) if f.path == "Fixture/Plain/Resource"}
    assert "AwsSolutions-S1" not in rules
    assert "NIST.800.53.R5-S3BucketLoggingEnabled" in rules


def test_a_deprecated_cdk_api_fails_the_synth() -> None:
    # Failure report #5: `container_insights=True` is deprecated; JSII_DEPRECATED=fail makes it an error.
    stack = cdk.Stack(cdk.App(), "Fixture")
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-west-2a", "us-west-2b"], nat_gateways=0)
    with pytest.raises(Exception, match=r"(?i)deprecated"):
        ecs.Cluster(stack, "Cluster", vpc=vpc, container_insights=True)


def test_the_pipeline_stack_is_covered_too(stack: Callable[[str, str], StackArtifact]) -> None:
    pipeline = stack("", "Pipeline").template_json
    suppressed = [
        r for r in pipeline["Resources"].values() if r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress")
    ]
    assert suppressed, "the pipeline's generated roles carry their acknowledgments"


def test_every_acknowledgment_has_checks_and_all_hold(compliance_model: ComplianceModel) -> None:
    assert compliance_model.acknowledgments
    failing = [
        f"{a.path} {a.finding}: {c.check} on {c.subject}: {c.evidence}"
        for a in compliance_model.acknowledgments
        for c in (a.failed_checks if a.checks else ())
    ]
    assert all(a.checks for a in compliance_model.acknowledgments)
    assert failing == []


def test_a_false_compensating_claim_fails_the_gate(tmp_path: Path) -> None:
    # The bucket is neither versioned nor blocked from public access, yet the acknowledgment says so.
    app = cdk.App(outdir=str(tmp_path), context={**CONTEXT, "aws:cdk:enable-path-metadata": True})
    stage = cdk.Stage(app, "Fixture", env=cdk.Environment(account="123456789012", region="us-west-2"))
    bucket = s3.Bucket(cdk.Stack(stage, "Store"), "Plain", encryption=s3.BucketEncryption.S3_MANAGED)
    acknowledge(
        bucket.node.default_child,  # type: ignore[arg-type]
        "AwsSolutions-S1",
        reason="This fixture bucket claims a compensating control that its template does not have.",
        kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
        checks=[EncryptedAtRest(), Versioned(), NotPublic()],
        controls=["AU-2"],
        review_by="2027-06-30",
    )
    register_packs(app)
    app.synth()
    open_findings = report_and_gate(app, tmp_path, stages=["Fixture"], external_prerequisites={})
    claims = [f for f in open_findings if f.rule.startswith("CompensatingControl")]
    assert {f.rule for f in claims} == {"CompensatingControl-Versioned", "CompensatingControl-NotPublic"}
    versioned = next(f for f in claims if f.rule == "CompensatingControl-Versioned")
    assert versioned.path == "Fixture/Store/Plain/Resource"
    assert "AwsSolutions-S1" in versioned.message
    assert "Fixture/Store/Plain/Resource" in versioned.message
    assert "VersioningConfiguration.Status is absent" in versioned.message
    # The finding it tried to accept is open again, and findings.json records every check with its result.
    data = json.loads((tmp_path / REPORT_DIRECTORY / "findings.json").read_text())
    model = ComplianceModel.from_json(data)
    (ack,) = model.acknowledgments
    assert [(c.check, c.holds) for c in ack.checks] == [
        ("EncryptedAtRest", True),
        ("Versioned", False),
        ("NotPublic", False),
    ]
    s1 = [e for e in model.evaluations if e.finding == "AwsSolutions-S1"]
    assert s1
    assert all(e.status is Status.NON_COMPLIANT for e in s1)
    assert "does not hold" in s1[0].message
    assert {e.acknowledgment for e in s1} == {ack.name}, "the finding names the acknowledgment that failed to accept it"
    # The report's first screen puts it before the authorizing official, and says which date reviews were judged on.
    assert model.judged_on
    report = (tmp_path / REPORT_DIRECTORY / "report.md").read_text()
    first = " ".join(report[report.index("## What needs attention") : report.index("## This run")].split())
    assert "- Decide on the 1 deviation(s) whose compensating control does not hold: " in first
    assert f"`{ack.finding}` on `{ack.path}`" in first


def _finding(rule: str, message: str = "it is wrong", path: str = "Pipeline/Dev/Data/Bucket") -> Finding:
    return Finding("compliance", rule, "error", path, message)


def test_the_gate_says_first_which_kind_of_failure_and_last_counts_each_kind() -> None:
    baseline_only = format_findings(
        [_finding("Baseline", "Pipeline: cm-2 was acknowledged, is now evidenced at synth", "compliance/baseline.json")]
    ).splitlines()
    assert baseline_only[0] == "Compliance gate FAILED: 1 baseline difference."
    assert "make baseline" in baseline_only[2]
    assert "compliance/baseline.json" in baseline_only[2]
    assert "compliance.acknowledge" not in "\n".join(baseline_only)  # nothing to acknowledge: record or fix
    assert baseline_only[-1] == (
        "Compliance gate: FAIL (0 open findings, 0 compensating controls that do not hold, 0 acknowledgments due for "
        "review, 1 baseline difference)"
    )

    mixed = format_findings(
        [_finding("AwsSolutions-S1"), _finding("CompensatingControl-Versioned"), _finding("NIST.800.53.R5-X")]
    ).splitlines()
    assert mixed[0] == "Compliance gate FAILED: 2 open findings, 1 compensating control that does not hold."
    assert mixed[2].startswith("Findings that are neither fixed nor acknowledged")
    assert mixed[-1] == (
        "Compliance gate: FAIL (2 open findings, 1 compensating control that does not hold, 0 acknowledgments due for "
        "review, 0 baseline differences)"
    )
