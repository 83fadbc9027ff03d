"""Security Hub automation rules: every acknowledgment with a control twin is suppressed exactly, and no more."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from compliance.model import ComplianceModel, Status, Suppression
from compliance.outputs.securityhub_rules import automation_rules, automation_rules_document
from compliance.references import TemplateIndex
from compliance.securityhub import (
    ARN_FORMATS,
    NO_ARN_FORM,
    NOTE_MAX,
    RESOURCE_IDS_PER_RULE,
    RULES_PER_REGION,
    controls,
)
from compliance.twins import twins
from scripts.lint_templates import lint
from scripts.securityhub_rules import build

_PARAMETER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


@pytest.fixture(scope="module")
def index(assembly_dir: Path) -> TemplateIndex:
    return TemplateIndex.load(assembly_dir)


@pytest.fixture(scope="module")
def document(approved_model: ComplianceModel) -> dict[str, Any]:
    return automation_rules_document(approved_model)


def _rules(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for entry in document["regions"].values() for rule in entry["rules"]]


def test_each_control_is_listed_once_and_each_config_rule_is_known_or_explained() -> None:
    ids = [c.control for c in controls()]
    assert len(ids) == len(set(ids))
    known = {t.config_rule for t in twins()}
    for control in controls():
        assert control.config_rule in known or control.note, control.control


def test_every_type_the_app_deploys_that_a_control_names_has_an_arn_form(index: TemplateIndex) -> None:
    deployed = {r.type for r in index.all_resources()}
    named = {t for c in controls() for t in c.resource_types}
    assert sorted((deployed & named) - set(ARN_FORMATS) - set(NO_ARN_FORM)) == []


def test_every_rule_names_its_control_and_resources_and_suppresses_with_the_reason(
    document: dict[str, Any], compliance_model: ComplianceModel
) -> None:
    reasons = {a.reason for a in compliance_model.acknowledgments}
    assert document["count"] == len(_rules(document)) > 0
    for rule in _rules(document):
        criteria = rule["Criteria"]
        assert [f["Comparison"] for f in criteria["ComplianceSecurityControlId"]] == ["EQUALS"]
        assert criteria["ResourceId"], "no rule without resource ids"
        assert all(f["Comparison"] == "EQUALS" for f in criteria["ResourceId"] + criteria["AwsAccountId"])
        assert len(criteria["ResourceId"]) <= RESOURCE_IDS_PER_RULE
        (action,) = rule["Actions"]
        assert action["Type"] == "FINDING_FIELDS_UPDATE"
        assert action["FindingFieldsUpdate"]["Workflow"] == {"Status": "SUPPRESSED"}
        note = action["FindingFieldsUpdate"]["Note"]["Text"]
        assert note in reasons
        assert len(note) <= NOTE_MAX
    assert all(entry["count"] <= RULES_PER_REGION for entry in document["regions"].values())
    assert document["over_quota"] == []
    assert document["unwritable"] == []


def test_each_suppression_follows_an_acknowledged_twin_finding(compliance_model: ComplianceModel) -> None:
    acknowledged = {(e.finding, e.path) for e in compliance_model.evaluations if e.status is Status.ACKNOWLEDGED}
    by_config_rule = {c.control: c.config_rule for c in controls()}
    twin_rules = {(t.config_rule, t.twin) for t in twins() if t.twin}
    assert compliance_model.suppressions
    for suppression in compliance_model.suppressions:
        assert (suppression.finding, suppression.path) in acknowledged
        assert (by_config_rule[suppression.control], suppression.finding.split("[")[0]) in twin_rules


def test_literal_arns_are_the_names_the_templates_fix(compliance_model: ComplianceModel, index: TemplateIndex) -> None:
    literal = [s for s in compliance_model.suppressions if not s.parameter]
    assert literal, "the replication buckets' fixed names make literal ARNs"
    for suppression in literal:
        view = index.resource(suppression.path)
        assert view is not None
        if view.type == "AWS::S3::Bucket":
            assert suppression.resource_ids == (f"arn:aws:s3:::{view.properties['BucketName']}",)


def test_each_parameter_is_a_resource_of_a_deployed_stack(document: dict[str, Any], index: TemplateIndex) -> None:
    names = {p["name"]: p for p in document["parameters"]}
    used = {
        name
        for rule in _rules(document)
        for f in rule["Criteria"]["ResourceId"]
        for name in _PARAMETER.findall(f["Value"])
    }
    assert used == set(names)
    stacks = {s.stack_name: s for s in index.stacks}
    for parameter in names.values():
        stack = stacks[parameter["stack"]]
        assert parameter["logical_id"] in stack.resources
        assert (stack.account, stack.region) == (parameter["account"], parameter["region"])
        assert parameter["command"].endswith("--output text")


def _suppression(
    path: str, reason: str = "The same reason, stated in a full sentence here.", **changes: Any
) -> Suppression:
    base = Suppression(
        control="S3.7",
        config_rule="S3_BUCKET_CROSS_REGION_REPLICATION_ENABLED",
        finding="NIST.800.53.R5-S3BucketReplicationEnabled",
        scope="Dev",
        account="710000000001",
        region="us-east-1",
        path=path,
        resource_type="AWS::S3::Bucket",
        reason=reason,
        resource_ids=(f"arn:aws:s3:::{path.lower()}",),
        approved=True,
    )
    return replace(base, **changes)


def test_only_an_approved_acknowledgment_suppresses_its_runtime_finding(
    compliance_model: ComplianceModel, approved_model: ComplianceModel
) -> None:
    assert automation_rules([_suppression("a", approved=False)]) == {}
    assert automation_rules([_suppression("a", approved=False), _suppression("b")])["us-east-1"][0]["Criteria"][
        "ResourceId"
    ] == [{"Comparison": "EQUALS", "Value": "arn:aws:s3:::b"}]
    # Evaluated without a signed-off baseline, nothing is approved: every suppression waits, no rule is written.
    requested = automation_rules_document(compliance_model)
    assert requested["count"] == 0
    assert len(requested["awaiting_approval"]) == len(compliance_model.suppressions) > 0
    assert automation_rules_document(approved_model)["awaiting_approval"] == []


def test_one_control_region_and_reason_make_one_rule_until_the_limit_splits_it() -> None:
    merged = automation_rules([_suppression("a"), _suppression("b", account="710000000002")])
    (rule,) = merged["us-east-1"]
    assert len(rule["Criteria"]["ResourceId"]) == 2
    assert len(rule["Criteria"]["AwsAccountId"]) == 2
    split = automation_rules([_suppression(f"bucket{i}") for i in range(RESOURCE_IDS_PER_RULE + 1)])
    assert [len(r["Criteria"]["ResourceId"]) for r in split["us-east-1"]] == [RESOURCE_IDS_PER_RULE, 1]
    assert [r["RuleName"].endswith(f"(part {n})") for n, r in enumerate(split["us-east-1"], start=1)] == [True, True]


def test_another_reason_or_region_is_another_rule_and_a_long_reason_is_refused() -> None:
    rules = automation_rules(
        [
            _suppression("a"),
            _suppression("b", reason="Another reason, for another resource."),
            _suppression("c", region="us-west-2"),
        ]
    )
    assert {region: len(r) for region, r in rules.items()} == {"us-east-1": 2, "us-west-2": 1}
    with pytest.raises(ValueError, match="a Security Hub note holds 512"):
        automation_rules([_suppression("a", reason="x" * (NOTE_MAX + 1))])


def test_the_optional_stack_holds_the_documents_rules_and_lints_clean(document: dict[str, Any], tmp_path: Path) -> None:
    app = build(json.loads(json.dumps(document)), tmp_path)
    assembly = app.synth()
    for region, entry in document["regions"].items():
        template = Template.from_json(assembly.get_stack_by_name(f"SecurityHubAutomation-{region}").template)
        template.resource_count_is("AWS::SecurityHub::AutomationRule", entry["count"])
        rendered = json.dumps(template.to_json())
        for parameter in {
            n for r in entry["rules"] for f in r["Criteria"]["ResourceId"] for n in _PARAMETER.findall(f["Value"])
        }:
            assert parameter in template.to_json()["Parameters"]
        assert "Fn::Sub" in rendered or not _PARAMETER.search(json.dumps(entry))
    passed, report = lint(tmp_path)
    assert passed, report
