"""Control statuses that mean what they say: satisfied only through a rule of the reviewed mapping, never
through an acknowledgment; a deviation approved only where the signed-off baseline records it; review dates.

The hand-built cases inject their own mapping (rule -> objectives), so they hold whatever the reviewed
table says; the fixture app's cases hold the table and the statuses together.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

import aws_cdk as cdk
import pytest

from compliance import AcknowledgmentKind, acknowledge, signoff
from compliance.checks import Versioned
from compliance.gate import REVIEW, kind_of, review_failures
from compliance.mapping import evidence
from compliance.model import (
    AcknowledgmentRecord,
    Assessment,
    ComplianceModel,
    Control,
    ControlStatus,
    Evaluation,
    Rule,
    Status,
    control_id,
    controls_from,
)
from tests.compliance.test_mapping import _procedural
from tests.synth_runs import RUN_DATE

TLS, LOGS = "NIST.800.53.R5-TlsRule", "NIST.800.53.R5-LogsRule"
RULES = [
    Rule("NIST.800.53.R5", TLS, "", ("SC-8(1)", "SI-1a.2"), ("AWS::S3::BucketPolicy",)),
    Rule("NIST.800.53.R5", LOGS, "", ("AU-12a",), ("AWS::S3::Bucket",)),
]
# The injected mapping: the TLS rule evidences SC-8(1) (not SI-1, which it cites); the logging rule one AU-12 objective.
EVIDENCE = {TLS: ("sc-8.1",), LOGS: ("au-12_obj.a",)}


def _evaluation(rule: str, status: Status, path: str, scope: str = "Prod") -> Evaluation:
    return Evaluation(scope, "NIST.800.53.R5", rule, rule, status, f"Pipeline/{scope}/{path}", "AWS::S3::Bucket")


def _ack(path: str, finding: str, controls: tuple[str, ...] = (), *, approved: bool = False) -> AcknowledgmentRecord:
    return AcknowledgmentRecord(
        "Prod", f"Pipeline/Prod/{path}", finding, "A reason.", "checked", controls, 1,
        AcknowledgmentKind.OPERATIONAL_REQUIREMENT, review_by="2027-06-30", approved=approved,
    )  # fmt: skip


def _status(
    evaluations: list[Evaluation], acknowledgments: Sequence[AcknowledgmentRecord] = (), control: str = "sc-8.1"
) -> Control:
    controls = controls_from(RULES, evaluations, acknowledgments=acknowledgments, evidence=EVIDENCE)
    return next(c for c in controls if c.control == control)


def test_a_control_is_evidenced_only_through_a_rule_the_mapping_names_never_through_a_citation() -> None:
    passed = [_evaluation(TLS, Status.COMPLIANT, "Bucket/Policy")]
    assert _status(passed).status is ControlStatus.EVIDENCED
    assert _status(passed).objectives == ("sc-8.1",)
    assert _status(passed).status.assessment is Assessment.SATISFIED
    # SI-1 is cited by the same rule, and is a policy: nothing evidences it.
    assert _status(passed, control="si-1").status is ControlStatus.NOT_CHECKED
    assert _status(passed, control="si-1").status.assessment is Assessment.NOT_ASSESSED
    # The logging rule evidences its objective, and with it the control's status.
    logged = _status([_evaluation(LOGS, Status.COMPLIANT, "Bucket")], control="au-12")
    assert (logged.status, logged.objectives) == (ControlStatus.EVIDENCED, ("au-12_obj.a",))


def test_an_acknowledged_finding_is_a_deviation_requested_until_approved_and_never_satisfies() -> None:
    accepted = _evaluation(TLS, Status.ACKNOWLEDGED, "Listener")
    passed = _evaluation(TLS, Status.COMPLIANT, "Bucket/Policy")
    requested = _ack("Listener", TLS)
    only = _status([accepted], [requested])
    assert (only.status, only.status.assessment) == (ControlStatus.DEVIATION_REQUESTED, Assessment.NOT_SATISFIED)
    assert only.deviations == (f"{TLS} on Pipeline/Prod/Listener",)
    # Approved, it is still not satisfied: only an acknowledgment stands behind it.
    approved = _status([accepted], [replace(requested, approved=True)])
    assert (approved.status, approved.status.assessment) == (ControlStatus.DEVIATION_APPROVED, Assessment.NOT_SATISFIED)
    # Beside a pass it is partial, requested or approved.
    assert _status([accepted, passed], [requested]).status is ControlStatus.PARTIAL_REQUESTED
    assert _status([accepted, passed], [replace(requested, approved=True)]).status is ControlStatus.PARTIAL_APPROVED
    assert _status([accepted, passed], [requested]).status.assessment is Assessment.PARTIAL
    # A finding acknowledged by a construct of a library, with no acknowledgment of ours, is never approved.
    assert _status([accepted, passed]).status is ControlStatus.PARTIAL_REQUESTED
    # An open finding fails the control, whatever else stands beside it.
    assert _status([accepted, passed, _evaluation(TLS, Status.NON_COMPLIANT, "Other")], [requested]).status is (
        ControlStatus.FAILING
    )


def test_the_controls_an_acknowledgment_declares_count_for_their_status() -> None:
    # The acknowledgment accepts a logging finding and declares SC-8(1) and AC-6.
    accepted = _evaluation(LOGS, Status.ACKNOWLEDGED, "Bucket")
    declaring = _ack("Bucket", LOGS, ("SC-8(1)", "AC-6"))
    passed = _evaluation(TLS, Status.COMPLIANT, "Bucket/Policy")
    assert _status([accepted, passed], [declaring]).status is ControlStatus.PARTIAL_REQUESTED
    assert _status([accepted, passed], [declaring], control="ac-6").status is ControlStatus.DEVIATION_REQUESTED
    assert _status([accepted, passed], [replace(declaring, approved=True)], control="ac-6").status is (
        ControlStatus.DEVIATION_APPROVED
    )
    # An acknowledgment that accepted nothing here declares nothing here.
    assert _status([passed], [declaring]).status is ControlStatus.EVIDENCED


def test_no_control_of_the_fixture_app_is_satisfied_through_an_acknowledgment_or_a_procedural_part(
    compliance_model: ComplianceModel, approved_model: ComplianceModel
) -> None:
    for model in (compliance_model, approved_model):
        per_scope = [
            controls_from(
                model.rules,
                [e for e in model.evaluations if e.scope == scope],
                acknowledgments=[a for a in model.acknowledgments if a.scope == scope],
            )
            for scope in model.scopes
        ]
        for controls in (model.controls, *per_scope):
            satisfied = [c for c in controls if c.status is ControlStatus.EVIDENCED]
            assert satisfied, "the fixture app evidences some controls"
            for control in satisfied:
                assert not _procedural(control.control), control.control
                assert control.deviations == (), control.control
                mapped = {
                    rule for rule, ids in evidence().items() if any(i.split("_obj")[0] == control.control for i in ids)
                }
                assert set(control.rules) <= mapped, control.control
                assert control.resources, control.control
            # Whatever an acknowledgment accepts or declares is a deviation, never satisfied.
            for control in controls:
                if control.deviations:
                    assert control.status.deviation, control.control
    # Every control an acknowledgment that accepted a finding declares is a deviation.
    declared = {control_id(c) for a in compliance_model.acknowledgments if a.matched > 0 for c in a.controls}
    statuses = {c.control: c.status for c in compliance_model.controls}
    assert declared
    assert all(statuses[c].deviation for c in declared if c in statuses)


def test_the_signed_off_baseline_approves_what_it_records_as_it_is(compliance_model: ComplianceModel) -> None:
    recorded = signoff.snapshot(compliance_model)
    model = copy.deepcopy(compliance_model)
    signoff.approve(model, recorded, today=RUN_DATE)
    assert all(a.approved for a in model.acknowledgments if a.matched > 0)
    assert not [
        c for c in model.controls if c.status in (ControlStatus.PARTIAL_REQUESTED, ControlStatus.DEVIATION_REQUESTED)
    ]
    assert any(c.status is ControlStatus.PARTIAL_APPROVED for c in model.controls)
    assert all(s.approved for s in model.suppressions)
    # Another review date than the recorded one, or a baseline that lacks it, is a request again.
    moved = copy.deepcopy(compliance_model)
    first = moved.acknowledgments[0]
    moved.acknowledgments[0] = replace(first, review_by="2027-01-15")
    signoff.approve(moved, recorded, today=RUN_DATE)
    assert not moved.acknowledgments[0].approved
    assert all(a.approved for a in moved.acknowledgments[1:] if a.matched > 0 and a.path != first.path)
    regressions = signoff.compare(recorded, signoff.snapshot(moved)).regressions
    assert any(" is to be reviewed by 2027-01-15, not " in line for line in regressions), regressions
    unrecorded = copy.deepcopy(compliance_model)
    signoff.approve(unrecorded, None, today=RUN_DATE)
    assert not any(a.approved for a in unrecorded.acknowledgments)
    # Past its review date, nothing the baseline records is approved.
    late = copy.deepcopy(compliance_model)
    signoff.approve(late, recorded, today=date(2028, 1, 1))
    assert not any(a.approved for a in late.acknowledgments)


@pytest.mark.parametrize(
    ("review_by", "today", "due"),
    [
        ("2027-06-30", date(2027, 6, 30), ""),  # the day itself is still within it
        ("2027-06-30", date(2027, 7, 1), "which has passed (2027-07-01)"),
        ("2027-06-30", date(2026, 6, 29), ""),  # 366 days ahead: a year, with a leap day to spare
        ("2027-06-30", date(2026, 6, 28), "more than 366 days after 2026-06-28"),
        ("", date(2027, 1, 1), "no review date"),
    ],
)
def test_an_acknowledgment_past_or_without_its_review_date_fails_the_gate_naming_it(
    review_by: str, today: date, due: str
) -> None:
    record = replace(_ack("Role/Policy", "AwsSolutions-IAM5[Resource::*]"), review_by=review_by)
    model = ComplianceModel(["Prod"], [], [], [record], [], {})
    signoff.review(model, today=today)
    failures = review_failures(model)
    if not due:
        assert failures == []
        assert model.review_overdue == []
        return
    (failure,) = failures
    assert failure.path == record.path
    assert failure.message.startswith(record.name)
    assert due in failure.message
    assert kind_of(failure) is REVIEW
    assert not model.passed
    assert model.review_overdue == [failure.message]


def test_acknowledge_records_the_review_date_and_refuses_one_that_is_not_a_date() -> None:
    stack = cdk.Stack(cdk.App(), "Fixture")
    reason = "A reason that is long enough to be read by an auditor as one."
    kind = AcknowledgmentKind.OPERATIONAL_REQUIREMENT
    record = acknowledge(
        stack,
        "AwsSolutions-S1",
        reason=reason,
        kind=kind,
        checks=[Versioned()],
        controls=["AU-2"],
        review_by="2027-03-31",
    )
    assert record.review_by == "2027-03-31"
    for bad in ("31/03/2027", "soon", ""):
        with pytest.raises(ValueError, match="review_by"):
            acknowledge(
                stack,
                "AwsSolutions-S1",
                reason=reason,
                kind=kind,
                checks=[Versioned()],
                controls=["AU-2"],
                review_by=bad,
            )


def test_the_shipped_acknowledgments_are_due_within_a_year_of_the_tests_date_and_not_all_on_one_day(
    compliance_model: ComplianceModel,
) -> None:
    dates = {a.review_by for a in compliance_model.acknowledgments}
    assert len(dates) > 2, dates
    assert all(RUN_DATE < date.fromisoformat(d) <= RUN_DATE + timedelta(days=signoff.MAX_REVIEW_DAYS) for d in dates)
