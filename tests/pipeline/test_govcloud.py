"""The same app synthesizes cleanly with the pipeline and every stage in AWS GovCloud (US)."""

from __future__ import annotations

import json
import re
from concurrent.futures import Future
from pathlib import Path
from xml.etree import ElementTree

from compliance import findings
from compliance.assembly import CloudAssembly
from compliance.model import ComplianceModel
from config import PROJECT_ROOT, load_config
from tests.background import Finished
from tests.conftest import GOVCLOUD, AppRun


def test_the_fixture_is_all_govcloud() -> None:
    config = load_config(GOVCLOUD)
    assert {e.partition for e in config.environments} == {"aws-us-gov"}
    assert config.pipeline.region.startswith("us-gov-")


def test_govcloud_has_no_open_findings_but_a_missing_ca_bundle(
    govcloud_run: AppRun, govcloud_assembly: Path, govcloud_model: ComplianceModel
) -> None:
    # GovCloud's RDS CA bundle cannot be taken from a package registry: until it is committed as
    # service/certs/rds-ca-aws-us-gov.pem (README, "RDS CA bundles"), each stage fails closed at synth.
    lines = [f.line() for f in findings(govcloud_assembly)]
    bundle = PROJECT_ROOT / "service" / "certs" / "rds-ca-aws-us-gov.pem"
    missing = [line for line in lines if "rds-ca-aws-us-gov.pem is missing" in line]
    assert [line for line in lines if line not in missing] == []
    stages = len(load_config(GOVCLOUD).environments)
    assert len(missing) == (0 if bundle.is_file() else stages)
    assert govcloud_run.finished.result().returncode == (0 if bundle.is_file() else 1)  # the gate says so too


def test_the_reports_verdict_is_the_gate_s_when_what_fails_it_is_no_pack_s_finding(
    govcloud_run: AppRun, govcloud_assembly: Path, govcloud_model: ComplianceModel
) -> None:
    # The missing CA bundle is an error annotation, not a finding of a pack: the evidence must still say FAIL where
    # the gate failed, and name what failed it.
    failed = govcloud_run.finished.result().returncode != 0
    reports = govcloud_assembly / "compliance"
    annotations = [f.line() for f in findings(govcloud_assembly) if f.plugin == "Construct Annotations"]
    assert failed == bool(annotations)
    assert [e.split(": ", 1)[1] for e in govcloud_model.synth_errors] == annotations
    assert govcloud_model.passed is not failed
    verdict = (reports / "report.md").read_text().split("\n\n")[1]
    assert verdict.startswith(f"**Synth gate: {'FAIL' if failed else 'PASS'}**")
    junit = ElementTree.parse(reports / "junit.xml").getroot()
    assert junit.get("errors") == str(len(annotations))
    errors = [e.get("message") for e in junit.iter("error")]
    assert errors == govcloud_model.synth_errors


def test_govcloud_resources_name_no_other_partition(govcloud_assembly: Path) -> None:
    for stack in CloudAssembly(govcloud_assembly).stacks:
        resources = stack.resources
        text = json.dumps(resources)
        assert set(re.findall(r'"arn:([a-z-]+):', text)) <= {"aws-us-gov"}, stack.path
        # Our links point at the GovCloud console, the security diff's included. (cdk-monitoring-constructs
        # writes commercial-console links into its dashboard titles: cosmetic, and not ours to change.)
        ours = {k: v for k, v in resources.items() if v["Type"] != "AWS::CloudWatch::Dashboard"}
        assert "console.aws.amazon.com" not in json.dumps(ours)


def test_govcloud_templates_pass_cfn_lint_in_their_region(govcloud_lint: Future[Finished]) -> None:
    finished = govcloud_lint.result()  # scripts/lint_templates.py over the GovCloud assembly
    assert finished.returncode == 0, finished.output
