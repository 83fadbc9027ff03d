"""The runtime outlook: what the account baseline's Config rules will report on what the fixture app acknowledged.

Every claim of the report's "At runtime" section is derived from the templates; these tests derive
it again from the templates and the acknowledgments, independently, and compare.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest

from compliance.model import ComplianceModel, RuntimeOutcome, Status
from compliance.outlook import GLOBAL_TYPES
from compliance.outputs.markdown import render_markdown
from compliance.references import TemplateIndex
from compliance.runtime import config_rules
from compliance.twins import twins_by_synth_rule

PACK_RULES = {rule.source_identifier for rule in config_rules()}
NAG_PACKS = ("NIST.800.53.R5", "AwsSolutions")


@pytest.fixture(scope="module")
def index(assembly_dir: Path) -> TemplateIndex:
    return TemplateIndex.load(assembly_dir)


def test_each_acknowledged_twin_finding_is_a_non_compliant_result_and_nothing_else_is(
    compliance_model: ComplianceModel, index: TemplateIndex
) -> None:
    by_twin = twins_by_synth_rule()
    expected: set[tuple[str, str]] = set()
    for evaluation in compliance_model.evaluations:
        view = index.resource(evaluation.path)
        if evaluation.status is not Status.ACKNOWLEDGED or view is None:
            continue
        for row in by_twin.get(evaluation.rule, ()):
            if row.config_rule in PACK_RULES and row.covers(view.type, view.properties):
                expected.add((row.config_rule, evaluation.path))
    results = [r for r in compliance_model.runtime_results if r.outcome is not RuntimeOutcome.NOT_CHECKED]
    assert {(r.config_rule, r.path) for r in results} == expected
    assert len(results) == len(expected)
    reasons = {(a.path, a.finding): a.reason for a in compliance_model.acknowledgments}
    for result in results:
        assert any(result.reason == reason for (path, finding), reason in reasons.items() if finding == result.finding)


def test_a_network_load_balancer_is_not_judged_by_the_config_rule_for_elb_logs(
    compliance_model: ComplianceModel, index: TemplateIndex
) -> None:
    network = [
        e.path
        for e in compliance_model.evaluations
        if e.rule == "NIST.800.53.R5-ELBLoggingEnabled"
        and e.status is Status.ACKNOWLEDGED
        and (view := index.resource(e.path)) is not None
        and view.properties.get("Type") == "network"
    ]
    assert network, "the fixture acknowledges the load balancers' missing access logs"
    assert not [r for r in compliance_model.runtime_results if r.config_rule == "ELB_LOGGING_ENABLED"]


def test_under_our_pack_means_a_conformance_pack_in_that_account_and_region(
    compliance_model: ComplianceModel, index: TemplateIndex
) -> None:
    packs = {
        (s.account, s.region)
        for s in index.stacks
        if any(r["Type"] == "AWS::Config::ConformancePack" for r in s.resources.values())
    }
    for result in compliance_model.runtime_results:
        here = (result.account, result.region) in packs
        anywhere = result.resource_type in GLOBAL_TYPES and any(a == result.account for a, _ in packs)
        assert result.monitored is (here or anywhere), result
    assert {r.monitored for r in compliance_model.runtime_results} == {True, False}


def test_what_no_synth_rule_reads_is_exactly_the_plain_resources(
    compliance_model: ComplianceModel, fixture_app: cdk.App
) -> None:
    plain = {
        node.node.path
        for node in fixture_app.node.find_all()
        if type(node) is cdk.CfnResource and node.cfn_resource_type.startswith("AWS::")
    }
    unread = {r.path for r in compliance_model.runtime_results if r.outcome is RuntimeOutcome.NOT_CHECKED}
    assert plain
    assert unread == plain
    passed = [
        (e.rule, e.path)
        for e in compliance_model.evaluations
        if e.path in plain and e.pack in NAG_PACKS and e.status is Status.COMPLIANT
    ]
    assert passed == [], "cdk-nag's rules do not read a plain CfnResource, so nothing of theirs passed it"


def test_the_report_shows_each_config_rule_with_its_count(compliance_model: ComplianceModel) -> None:
    markdown = render_markdown(compliance_model)
    section = markdown.split("## At runtime", 1)[1].split("## Control matrix", 1)[0]
    rules = {r.config_rule for r in compliance_model.runtime_results if r.outcome is not RuntimeOutcome.NOT_CHECKED}
    assert f"AWS Config rules our acknowledgments leave NON_COMPLIANT ({len(rules)} rules)" in section
    for rule in rules:
        count = sum(
            1
            for r in compliance_model.runtime_results
            if r.config_rule == rule and r.outcome is not RuntimeOutcome.NOT_CHECKED
        )
        assert any(line.startswith(f"| `{rule}` |") and f"| {count} |" in line for line in section.splitlines()), rule
    assert "Resources no synth rule reads" in section
    assert f"of the {len(PACK_RULES)} AWS Config rules".lower() in section.lower()
