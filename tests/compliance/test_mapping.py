"""The reviewed mapping of rules to the controls they evidence (compliance/data/control-evidence.tsv).

What a rule's pass shows, not what its description cites: no procedural control is ever evidenced at
synth, every citing rule of the catalogue is reviewed, FedRAMP's values are what a value rule is held to.
"""

from __future__ import annotations

import re

import pytest

from compliance.catalogue import all_rules, control_tower_rules
from compliance.mapping import NONE, evidence, table
from compliance.model import baseline, control_id

# Families whose every control is a policy, plan, programme, training, personnel, physical, acquisition,
# assessment, maintenance, media, incident-response or risk-assessment activity: no template can show one.
PROCEDURAL_FAMILIES = ("at", "ca", "ir", "ma", "mp", "pe", "pl", "pm", "ps", "ra", "sa", "sr")
# Controls of other families that are such activities as a whole: a plan, a documented baseline, an
# inventory, a process, a review, or advisories received from outside.
PROCEDURAL_CONTROLS = (
    "ac-2",  # account management: types, managers, approvals, reviews
    "ac-2.1",  # automated account management: the organisation's mechanisms, not a policy's shape
    "ac-5",  # separation of duties: duties identified and documented
    "ac-21",  # information sharing: users' decisions
    "au-6",  # audit record review and analysis: people reviewing
    "au-6.1",
    "au-6.3",
    "cm-2",  # the baseline configuration: the repository itself, not a rule's pass
    "cm-3",  # configuration change control: a process
    "cm-4",
    "cm-8",  # the component inventory
    "cm-9",  # the configuration management plan
    "cm-10",
    "cm-11",
    "cp-2",  # the contingency plan
    "cp-3",
    "cp-4",
    "si-5",  # security alerts and advisories received from outside
)


def _procedural(control: str) -> bool:
    family, _, number = control.partition("-")
    return family in PROCEDURAL_FAMILIES or number == "1" or control in PROCEDURAL_CONTROLS


def test_no_policy_plan_training_personnel_or_physical_control_is_evidenced_by_a_rule() -> None:
    mapped = [(row.rule, row.target) for row in table() if row.target != NONE and _procedural(row.control)]
    assert mapped == []
    # The enumeration covers what it says: every "-1" control of the baseline, and AT, PL, PS and PE whole.
    ids = {c.control for c in baseline()}
    assert {c for c in ids if c.endswith("-1")} <= {c for c in ids if _procedural(c)}
    assert {c for c in ids if c.split("-")[0] in ("at", "pl", "ps", "pe")} <= {c for c in ids if _procedural(c)}
    assert set(PROCEDURAL_CONTROLS) <= ids


def test_every_rule_that_cites_a_control_is_reviewed_and_every_row_names_a_rule_the_gate_runs() -> None:
    catalogue = {r.rule: r for r in (*all_rules(), *control_tower_rules())}
    citing = {name for name, rule in catalogue.items() if any(control_id(c) for c in rule.cited)}
    reviewed = {row.rule for row in table()}
    assert sorted(citing - reviewed) == [], "a rule that cites controls has no row: review what its pass shows"
    assert sorted(reviewed - set(catalogue)) == [], "a row names no rule of the catalogue"


def test_each_row_names_a_baseline_control_or_objective_a_citation_and_a_reason() -> None:
    ids = {c.control for c in baseline()}
    for row in table():
        assert row.basis.strip(), row
        if row.target == NONE:
            assert row.cited == NONE, row
            assert row.parameter == NONE, row
            continue
        assert row.control in ids, row
        assert row.cited == NONE or control_id(row.cited) == row.control, row
        assert row.parameter == NONE or re.match(r"^[a-z]{2}-\d+(\.\d+)?_(odp|prm)", row.parameter), row
    # No rule evidences a control twice through the same target.
    pairs = [(row.rule, row.target) for row in table() if row.target != NONE]
    assert len(pairs) == len(set(pairs))


@pytest.mark.parametrize(
    ("rule", "control"),
    [
        # What the review found cited for a control the rule does not show.
        ("NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled", "cp-1"),
        ("NIST.800.53.R5-APIGWSSLEnabled", "si-1"),
        ("NIST.800.53.R5-CloudWatchLogGroupRetentionPeriod", "at-4"),
        ("Preflight-AlarmActions", "ir-6"),
        ("Preflight-ContainerMemoryLimit", "sc-5"),
        ("NIST.800.53.R5-S3BucketLevelPublicAccessProhibited", "sc-7.7"),
        ("NIST.800.53.R5-CloudTrailLogFileValidationEnabled", "si-7"),
        # A client certificate is not TLS on the hop it is meant for.
        ("NIST.800.53.R5-APIGWSSLEnabled", "sc-8.1"),
        # A listener rule that passes what it does not judge (a TCP listener) shows no TLS.
        ("NIST.800.53.R5-ALBHttpToHttpsRedirection", "sc-8.1"),
    ],
)
def test_a_citation_the_rule_does_not_show_evidences_nothing(rule: str, control: str) -> None:
    cited = next(r for r in (*all_rules(), *control_tower_rules()) if r.rule == rule).cited
    assert any(control_id(c) == control for c in cited), f"{rule} no longer cites {control}"
    assert control not in {t.split("_obj")[0] for t in evidence()[rule]}


def test_au_11_is_judged_on_fedramp_s_value_not_aws_config_s_default() -> None:
    judges = {row.rule for row in table() if row.control == "au-11"}
    assert judges == {"Preflight-LogRetentionFedRAMP"}
    row = next(row for row in table() if row.rule == "Preflight-LogRetentionFedRAMP" and row.control == "au-11")
    assert row.parameter.startswith("au-11_odp")
    assert "M-21-31" in row.parameter
    for default in (
        "Preflight-LogGroupRetention",  # AWS Config's 365 days
        "ControlTower::CT.CLOUDWATCH.PR.2",  # a year
        "NIST.800.53.R5-CloudWatchLogGroupRetentionPeriod",  # any retention
    ):
        assert evidence()[default] == (), default


def test_sc_13_is_evidenced_by_no_rule_because_none_judges_fips_validated_cryptography() -> None:
    assert [row.rule for row in table() if row.control == "sc-13"] == []
    # Encryption rules cite it; their rows evidence encryption at rest instead.
    encryption = evidence()["NIST.800.53.R5-S3DefaultEncryptionKMS"]
    assert "sc-28.1" in encryption
    assert not any(t.startswith("sc-13") for t in encryption)


def test_value_rules_name_the_fedramp_parameter_they_judge() -> None:
    parameters = {(row.rule, row.control): row.parameter for row in table() if row.target != NONE}
    assert parameters[("Preflight-BackupPlanFrequency", "cp-9")].startswith("cp-09_odp.02")
    assert "daily" in parameters[("Preflight-BackupPlanFrequency", "cp-9")]
    assert parameters[("NIST.800.53.R5-KMSBackingKeyRotationEnabled", "sc-12")].startswith("sc-12_odp")
    assert parameters[("NIST.800.53.R5-VPCFlowLogsEnabled", "si-4.4")].startswith("si-4.4_prm_1")
