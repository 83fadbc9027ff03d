"""The auditor's reports, checked on real synth output."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from app import report_and_gate
from compliance import findings, register_packs
from compliance.assembly import REPORT_DIRECTORY
from compliance.catalogue import all_rules, nag_rules
from compliance.evaluation import stage_neutral
from compliance.model import ComplianceModel, ControlStatus, Status, acknowledgments_by_name, baseline, control_id
from compliance.packs import CONTEXT
from compliance.report import write_reports
from config import AppConfig


@pytest.fixture(scope="module")
def report_dir(compliance_model: ComplianceModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("compliance")
    write_reports(compliance_model, directory)
    return directory


def test_rules_come_from_the_installed_packs() -> None:
    rules = nag_rules()
    packs = {r.pack for r in rules}
    assert packs == {"NIST.800.53.R5", "AwsSolutions"}
    nist = [r for r in rules if r.pack == "NIST.800.53.R5"]
    assert len(nist) > 50
    assert all(r.cited for r in nist), "every NIST rule cites its controls"
    assert all(r.resource_types for r in rules), "every rule names the resource types it reads"
    bucket_logging = next(r for r in nist if r.rule == "NIST.800.53.R5-S3BucketLoggingEnabled")
    assert bucket_logging.resource_types == ("AWS::S3::Bucket",)
    assert "AU-2b" in bucket_logging.cited


def test_cited_labels_map_onto_the_baseline() -> None:
    ids = {c.control for c in baseline()}
    assert len(ids) == 323
    assert control_id("SC-7(4)(b)") == "sc-7.4"
    assert control_id("CP-9d") == "cp-9"
    cited = {control_id(label) for r in all_rules() for label in r.cited}
    assert "sc-28.1" in cited & ids
    assert len(cited & ids) > 40


def test_no_acknowledgment_is_stale(compliance_model: ComplianceModel) -> None:
    stale = [(a.path, a.finding) for a in compliance_model.acknowledgments if a.matched == 0]
    assert stale == [], "remove acknowledgments whose finding no longer occurs"


def test_every_acknowledged_evaluation_carries_its_reason(compliance_model: ComplianceModel) -> None:
    acknowledged = [e for e in compliance_model.evaluations if e.status is Status.ACKNOWLEDGED]
    assert acknowledged
    ours = [e for e in acknowledged if not e.rule.startswith("CloudFormation-Validate::F")]
    assert all("Compensating control (checked at synth):" in e.reason for e in ours)


def test_each_evaluation_names_the_acknowledgment_that_matched_it(compliance_model: ComplianceModel) -> None:
    # Named once, in the evaluation, so no report has to find it again by walking the construct path.
    acknowledgments = acknowledgments_by_name(compliance_model.acknowledgments)
    named = Counter(e.acknowledgment for e in compliance_model.evaluations if e.acknowledgment)
    assert named
    assert set(named) == {a.name for a in acknowledgments.values() if a.matched > 0}
    assert all(named[a.name] == a.matched for a in acknowledgments.values() if a.matched >= 0)
    for evaluation in compliance_model.evaluations:
        ack = acknowledgments.get(evaluation.acknowledgment)
        if ack is None:
            assert evaluation.acknowledgment == ""
            assert "Compensating control (checked at synth):" not in evaluation.reason
            continue
        assert (ack.scope, ack.finding) == (evaluation.scope, evaluation.finding)
        assert evaluation.path == ack.path or evaluation.path.startswith(ack.path + "/")
        assert evaluation.reason.startswith(f"{ack.reason} Compensating control (checked at synth): ")


def test_the_report_agrees_with_the_gate(compliance_model: ComplianceModel, assembly_dir: Path) -> None:
    failing = [e for e in compliance_model.evaluations if e.status is Status.NON_COMPLIANT]
    assert len(failing) == len(findings(assembly_dir)) == 0
    assert not [c for c in compliance_model.controls if c.status is ControlStatus.FAILING]


def test_protected_environments_report_the_same_acknowledgments(
    compliance_model: ComplianceModel, fixture_config: AppConfig
) -> None:
    def of(scope: str) -> set[tuple[str, str]]:
        return {
            (stage_neutral(a.path, scope), a.finding)
            for a in compliance_model.acknowledgments
            if a.scope == scope and not a.path.startswith(f"Pipeline/{scope}/Baseline/")
        }

    first, *others = (of(e.stage_id) for e in fixture_config.environments if e.protected)
    assert first
    assert others
    assert all(other == first for other in others)
    assert compliance_model.config_differences, "the first environment's config-driven acknowledgments are listed"
    first_stage = fixture_config.environments[0].stage_id
    assert all(d.startswith(f"{first_stage}: ") for d in compliance_model.config_differences)


def test_counts_add_up_across_the_files(compliance_model: ComplianceModel, report_dir: Path) -> None:
    data = json.loads((report_dir / "findings.json").read_text())
    assert len(data["evaluations"]) == len(compliance_model.evaluations)
    reported = [e for e in compliance_model.evaluations if e.status is not Status.COMPLIANT]
    sarif = json.loads((report_dir / "report.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    assert len(run["results"]) == len(reported)
    assert all(r["message"]["text"] and r["ruleId"] for r in run["results"])
    suppressed = [r for r in run["results"] if r.get("suppressions")]
    assert len(suppressed) == sum(1 for e in reported if e.status is Status.ACKNOWLEDGED)
    junit = ET.parse(report_dir / "junit.xml").getroot()
    pairs = {(e.scope, e.rule) for e in compliance_model.evaluations}
    assert len(junit.findall(".//testcase")) == len(pairs)
    rows = list(csv.DictReader((report_dir / "controls.csv").read_text().splitlines()))
    assert len(rows) == len(baseline())  # a row for each control of the baseline
    markdown = (report_dir / "report.md").read_text()
    for scope in compliance_model.scopes:
        assert f"| {scope} | {compliance_model.resources_per_scope[scope]} |" in markdown


def test_a_failing_app_writes_its_report_and_fails_the_gate(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path), context={**CONTEXT, "aws:cdk:enable-path-metadata": True})
    stage = cdk.Stage(app, "Fixture", env=cdk.Environment(account="123456789012", region="us-west-2"))
    s3.Bucket(cdk.Stack(stage, "Store"), "Plain", encryption=s3.BucketEncryption.S3_MANAGED)
    register_packs(app)
    app.synth()
    open_findings = report_and_gate(app, tmp_path, stages=["Fixture"], external_prerequisites={})
    assert any(f.rule == "NIST.800.53.R5-S3DefaultEncryptionKMS" for f in open_findings)
    report = tmp_path / REPORT_DIRECTORY
    rows = {r["control"]: r for r in csv.DictReader((report / "controls.csv").read_text().splitlines())}
    assert rows["sc-28.1"]["status"] == "failing"
    assert "NIST.800.53.R5-S3DefaultEncryptionKMS" in rows["sc-28.1"]["rules"]
    junit = ET.parse(report / "junit.xml").getroot()
    assert int(junit.get("failures", "0")) > 0
    sarif = json.loads((report / "report.sarif").read_text())
    assert any(r["level"] == "error" for r in sarif["runs"][0]["results"])


def test_runtime_monitoring_is_reported_apart_from_synth(
    compliance_model: ComplianceModel, fixture_config: AppConfig
) -> None:
    runtime = [c for c in compliance_model.controls if c.runtime]
    assert runtime, "the fixture switches AWS Config on"
    assert all(m.startswith("AWS Config ") for c in runtime for m in c.runtime)
    with_baseline = {e.stage_id: e.account_baseline.services for e in fixture_config.environments}
    assert set(compliance_model.runtime_services) == {s for s, on in with_baseline.items() if on}
    for stage, services in compliance_model.runtime_services.items():
        assert set(services) == with_baseline[stage]


def test_reports_re_render_from_findings_json_alone(compliance_model: ComplianceModel, tmp_path: Path) -> None:
    from scripts import report

    write_reports(compliance_model, tmp_path)
    original = (tmp_path / "report.md").read_text()
    for name in ("controls.csv", "report.md", "report.sarif", "junit.xml"):
        (tmp_path / name).unlink()
    assert report.main([str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text() == original
    assert (tmp_path / "junit.xml").exists()
    assert report.main([str(tmp_path / "absent")]) == 2
