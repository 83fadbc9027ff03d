"""One list of packs: what registers them, which keep their findings, what reads their findings and ids."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from compliance import AcknowledgmentKind, acknowledge
from compliance.assembly import CloudAssembly
from compliance.checks import EncryptedAtRest
from compliance.evaluation import _reported_findings
from compliance.model import Status
from compliance.packs import PACKS, Pack


def test_each_pack_is_registered_and_evaluated_its_way() -> None:
    kinds = {p.name: (p.registered, p.keeps_findings, p.finding_prefix) for p in PACKS}
    assert kinds["NIST.800.53.R5"] == (True, True, "NIST.800.53.R5-")
    assert kinds["AwsSolutions"] == (True, True, "AwsSolutions-")
    assert kinds["Preflight"] == (True, True, "Preflight-")
    # The CDK runs its own template checks; their findings, open and acknowledged, are in its report.
    assert kinds["CloudFormation-Validate"] == (False, False, "CloudFormation-Validate::")
    assert kinds["ControlTower"] == (True, False, "ControlTower::")


# A finding id of each pack, as an acknowledgment names it.
EXAMPLES = {
    "NIST.800.53.R5": "NIST.800.53.R5-IAMNoInlinePolicy",
    "AwsSolutions": "AwsSolutions-IAM5[Resource::*]",
    "Preflight": "Preflight-RDSEngineVersion[postgres-15.4]",
    "CloudFormation-Validate": "CloudFormation-Validate::W3010",
    "ControlTower": "ControlTower::CT.S3.PR.4",
}


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_each_packs_findings_can_be_acknowledged_and_no_other(pack: Pack) -> None:
    bucket = s3.CfnBucket(cdk.Stack(cdk.App(), "Fixture"), "Bucket")
    params = {
        "reason": "A fixture acknowledgment, whose reason is long enough to be read.",
        "kind": AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
        "checks": [EncryptedAtRest()],
        "controls": ["AU-2"],
        "review_by": "2027-06-30",
    }
    acknowledge(bucket, EXAMPLES[pack.name], **params)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not a finding id"):
        acknowledge(bucket, f"Other{EXAMPLES[pack.name]}", **params)  # type: ignore[arg-type]


def test_a_pack_read_from_the_validation_report_needs_no_code_of_its_own(tmp_path: Path) -> None:
    guard = Pack("Guard", create=lambda _: None, report_plugin="cdk-validator-cfnguard")
    violation = {"ruleName": "CT.S3.PR.1", "description": "d", "violatingConstructs": [{"constructPath": "App/B"}]}
    report = {"pluginReports": [{"pluginName": "cdk-validator-cfnguard", "violations": [violation]}]}
    (tmp_path / "validation-report.json").write_text(json.dumps(report))
    found = _reported_findings(cdk.App(), CloudAssembly(tmp_path), guard)
    assert found == [(Status.NON_COMPLIANT, "Guard::CT.S3.PR.1", "App/B", "d")]
    assert (guard.registered, guard.keeps_findings, guard.finding_prefix) == (True, False, "Guard::")
