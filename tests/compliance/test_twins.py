"""The twin table: every rule of the account baseline's conformance pack is classified, and the gate holds it.

A Config rule with a synth-time twin is checked before deployment: the fixture app passes the twin
or carries an acknowledgment, so the account is not non-compliant against its own baseline except
where the report says so. A rule without a twin says why, and the templates are held to that.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.catalogue import all_rules, config_rule_controls
from compliance.model import ComplianceModel, Status
from compliance.references import TemplateIndex
from compliance.runtime import config_rules
from compliance.twins import NO_TWIN_RELATIONS, ResourceSelector, classification, twins, twins_of

PACK_RULES = tuple(rule.source_identifier for rule in config_rules())


@pytest.fixture(scope="module")
def index(assembly_dir: Path) -> TemplateIndex:
    return TemplateIndex.load(assembly_dir)


def test_every_rule_of_the_pack_is_classified_once_per_twin() -> None:
    rows = twins()
    assert set(PACK_RULES) <= {t.config_rule for t in rows}
    pairs = [(t.config_rule, t.twin) for t in rows]
    assert len(pairs) == len(set(pairs)), "a twin is listed twice"
    for rule in PACK_RULES:
        kinds = {t.relation for t in rows if t.config_rule == rule}
        assert kinds <= NO_TWIN_RELATIONS or not kinds & NO_TWIN_RELATIONS, f"{rule} both has and lacks a twin"


def test_no_rule_that_concerns_what_we_deploy_is_left_unchecked() -> None:
    assert [t.config_rule for t in twins() if t.relation == "unchecked"] == []


def test_every_twin_is_a_rule_the_gate_runs() -> None:
    known = {r.rule for r in all_rules()}
    packs = {r.pack for r in all_rules()}
    for twin in twins():
        if twin.twin and twin.pack in packs:
            assert twin.twin in known, f"{twin.config_rule}: {twin.twin} is not a rule of the {twin.pack} pack"
        elif twin.twin:
            # A pack not registered yet (the Control Tower rules) may be named; its rows wait for it.
            assert twin.twin.startswith("ControlTower::"), twin.twin


def test_rules_absent_from_the_app_concern_no_type_it_deploys(index: TemplateIndex) -> None:
    deployed = list(index.all_resources())
    for twin in (t for t in twins() if t.relation == "absent"):
        hits = [r.path for r in deployed for s in twin.config_types if s.matches(r.type, r.properties)]
        assert hits == [], f"{twin.config_rule} is classified absent but the app deploys {hits[:3]}"


def test_twinned_config_rules_leave_nothing_open_in_the_fixture_app(compliance_model: ComplianceModel) -> None:
    twinned = {t.twin for t in twins() if t.twin}
    open_ = [
        (e.rule, e.path) for e in compliance_model.evaluations if e.rule in twinned and e.status is Status.NON_COMPLIANT
    ]
    assert open_ == []
    acknowledged = {
        e.rule for e in compliance_model.evaluations if e.rule in twinned and e.status is Status.ACKNOWLEDGED
    }
    assert acknowledged, "the fixture app acknowledges twins, which the runtime outlook reports"


def test_the_classification_counts_each_rule_once_per_pack(compliance_model: ComplianceModel) -> None:
    counts = classification(PACK_RULES)
    assert compliance_model.twin_classification == counts
    without = sum(n for kind, n in counts.items() if kind.startswith("no twin"))
    assert counts["twinned"] + without == len(PACK_RULES)
    preflight = {t.config_rule for t in twins() if t.pack == "Preflight" and t.config_rule in PACK_RULES}
    assert counts["Preflight"] == len(preflight)


def test_runtime_controls_come_from_nist_twins_only() -> None:
    mapping = config_rule_controls()
    assert "S3_BUCKET_LOGGING_ENABLED" in mapping
    assert "au-2" in mapping["S3_BUCKET_LOGGING_ENABLED"]
    assert "S3_BUCKET_DEFAULT_LOCK_ENABLED" not in mapping, "a Preflight twin claims no control at runtime"
    for rule in mapping:
        assert any(t.pack == "NIST.800.53.R5" for t in twins_of(rule)), rule


@pytest.mark.parametrize(
    ("selector", "resource_type", "properties", "matches"),
    [
        (
            "AWS::ElasticLoadBalancingV2::LoadBalancer[Type=application]",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            {},
            True,
        ),
        (
            "AWS::ElasticLoadBalancingV2::LoadBalancer[Type=application]",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            {"Type": "network"},
            False,
        ),
        ("AWS::S3::Bucket", "AWS::S3::Bucket", {"BucketName": "x"}, True),
        ("AWS::S3::Bucket", "AWS::SNS::Topic", {}, False),
    ],
)
def test_selectors(selector: str, resource_type: str, properties: dict[str, str], matches: bool) -> None:
    assert ResourceSelector.parse(selector).matches(resource_type, properties) is matches


def test_a_malformed_selector_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a resource type"):
        ResourceSelector.parse("S3 bucket")
