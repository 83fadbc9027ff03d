"""The reports' first section, what needs attention, on small hand-made models: each sentence follows from the model.

Every model here goes through `compliance.signoff` as a run does (its review of the dates, and where a
baseline is involved its comparison), so what the section lists is what the gate computes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from compliance import signoff
from compliance.model import (
    AcknowledgmentKind,
    AcknowledgmentRecord,
    Approval,
    CheckResult,
    ComplianceModel,
    Evaluation,
    RunIdentity,
    Status,
    plan_of_action,
)
from compliance.outputs.attention import CHANGES_SHOWN, COMING_DUE_DAYS, NAMES_SHOWN, POAM_FILE, coming_due
from compliance.outputs.html import render_html
from compliance.outputs.markdown import render_markdown, verdict_line

TODAY = date(2026, 6, 1)
NIST = "NIST.800.53.R5"
LOGGING = f"{NIST}-S3BucketLoggingEnabled"
ENCRYPTION = f"{NIST}-S3DefaultEncryptionKMS"
WILDCARD = "AwsSolutions-IAM5[Resource::*]"
RUN = RunIdentity(
    commit="0123abc",
    commit_source="git",
    config_file="config/environments.yaml",
    config_sha256="a" * 64,
    pipeline_account="123456789012",
    pipeline_region="us-west-2",
    stages={"Dev": "123456789012 us-west-2"},
    tools={"aws-cdk-lib": "2.0.0"},
    time=f"{TODAY.isoformat()}T09:30:00Z",
)
APPROVAL = Approval(
    baseline="compliance/baseline.json",
    commit="4567def",
    committed="2026-05-01T00:00:00+00:00",
    author="A Maintainer",
    reviewers=("@example/compliance-reviewers",),
    source="git",
)


def _ack(
    name: str, review_by: date, *, approved: bool = True, holds: bool = True, matched: int = 1, finding: str = LOGGING
) -> AcknowledgmentRecord:
    path = f"Pipeline/Dev/Data/{name}/Resource"
    check = CheckResult("Versioned", "the S3 bucket is versioned", path, holds, "Enabled" if holds else "absent")
    return AcknowledgmentRecord(
        scope="Dev",
        path=path,
        finding=finding,
        reason=f"The {name} bucket keeps no access log of its own, by design.",
        compensating_control="the S3 bucket is versioned",
        controls=("AU-9",),
        kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
        matched=matched,
        checks=(check,),
        review_by=review_by.isoformat(),
        approved=approved,
    )


def _evaluation(ack: AcknowledgmentRecord) -> Evaluation:
    """The finding `ack` matched: accepted where its compensating control holds, open where it does not."""
    return Evaluation(
        scope=ack.scope,
        pack=NIST,
        rule=ack.finding.split("[")[0],
        finding=ack.finding,
        status=Status.ACKNOWLEDGED if ack.holds else Status.NON_COMPLIANT,
        path=ack.path,
        resource_type="AWS::S3::Bucket",
        message="The S3 bucket has no server access logs.",
        reason=ack.reason,
        acknowledgment=ack.name,
    )


def _open_finding(name: str) -> Evaluation:
    return Evaluation(
        "Dev",
        NIST,
        ENCRYPTION,
        ENCRYPTION,
        Status.NON_COMPLIANT,
        f"Pipeline/Dev/Data/{name}/Resource",
        "AWS::S3::Bucket",
    )


def _model(
    acks: list[AcknowledgmentRecord], *, judged: date = TODAY, extra: list[Evaluation] | None = None
) -> ComplianceModel:
    """A run of the Dev stage with `acks`, compared with a baseline, its review dates judged on `judged`."""
    model = ComplianceModel(
        scopes=["Pipeline", "Dev"],
        rules=[],
        evaluations=[_evaluation(a) for a in acks if a.matched] + (extra or []),
        acknowledgments=acks,
        controls=[],
        resources_per_scope={"Pipeline": 1, "Dev": len(acks)},
        run=RUN,
        baseline_file=APPROVAL.baseline,
        approval=APPROVAL,
    )
    signoff.review(model, today=judged)
    return model


def _flat(text: str) -> str:
    return " ".join(text.split())


def _section(model: ComplianceModel, *, emphasis: bool = False) -> str:
    """report.md's first section, as it is wrapped (without the bold marks of its labels, unless `emphasis`)."""
    markdown = render_markdown(model)
    section = markdown[markdown.index("## What needs attention") : markdown.index("## This run")]
    return section if emphasis else section.replace("**", "")


class _Text(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.feed(page)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_section(model: ComplianceModel) -> str:
    """report.html's first section, as its text reads."""
    page = render_html(model)
    start = page.index('<section id="attention">')
    return _flat("".join(_Text(page[start : page.index("</section>", start)]).parts))


def test_with_nothing_open_nothing_awaits_the_authorizing_official_and_the_next_review_is_named() -> None:
    later = TODAY + timedelta(days=COMING_DUE_DAYS + 60)
    acks = [_ack("Logs", later), _ack("Exports", later), _ack("Archive", later + timedelta(days=30))]
    model = _model(acks)
    assert model.passed
    section = _section(model)
    text = _flat(section)
    assert (
        f"Changed since the signed-off baseline `{APPROVAL.baseline}` as of commit `{APPROVAL.commit}` "
        f"({APPROVAL.source}): nothing;" in text
    )
    assert "- Open findings: none." in text
    assert (
        f"- Deviations awaiting the code owners' sign-off: none; the signed-off baseline records all {len(acks)}."
        in text
    )
    assert (
        f"- Plan of action and milestones: {len(acks)} item(s) in `{POAM_FILE}`: {len(acks)} open deviation(s)" in text
    )
    assert f"- Reviews: none due in the {COMING_DUE_DAYS} days from {TODAY.isoformat()}; none due now." in text
    # Signed off for the gate, the deviations still wait for the authorizing official: FedRAMP's requests are pending.
    assert (
        f"Needs the authorizing official: - Accept or reject the {len(acks)} deviation request(s) of the POA&M "
        f"({len(acks)} operational requirement(s)), each pending in `{POAM_FILE}`: the code owners' sign-off of the "
        "baseline lets the gate pass; it is not the authorizing official's acceptance." in text
    )
    assert f"The next review date is {later.isoformat()}, that of 2 of them." in text
    assert "judged on" not in text, "the dates were judged on the run's own date"
    labels = ("Changed since the signed-off baseline", "Open:", "Needs the authorizing official:")
    assert all(f"**{label}**" in _section(model, emphasis=True) for label in labels)
    # One screen: the section fits in 25 lines of a terminal.
    assert len(section.strip().splitlines()) <= 25
    html = _html_section(model)
    assert "What needs attention" in html
    for sentence in ("Open findings: none.", f"Accept or reject the {len(acks)} deviation request(s) of the POA&M"):
        assert sentence in html


def test_a_requested_deviation_is_open_and_awaits_the_authorizing_official() -> None:
    later = TODAY + timedelta(days=200)
    approved, requested = _ack("Logs", later), _ack("Exports", later, approved=False)
    model = _model([approved, requested])
    markdown = render_markdown(model)
    text = _flat(_section(model))
    assert (
        "- Deviations awaiting the code owners' sign-off: 1 of 2 "
        "(see [Approval of deviations](#approval-of-deviations)): "
        f"- `{requested.finding}` on `{requested.path}`" in text
    )
    assert approved.path not in text
    assert (
        "- First, the code owners sign off (or reject) the 1 deviation(s) awaiting it, listed above: until the "
        "baseline records them, the gate fails." in text
    )
    assert "nothing awaits a decision" not in text
    # The link lands on the section that lists every deviation awaiting approval.
    approval = markdown[markdown.index("### Approval of deviations") :]
    assert f"- `{requested.finding}` on `{requested.path}`" in approval.split("###", 2)[1]
    page = render_html(model)
    assert '<a href="#awaiting-approval">Approval of deviations</a>' in page
    assert 'id="awaiting-approval"' in page
    assert f"{requested.finding} on {requested.path}" in _html_section(model)


def test_names_of_deviations_awaiting_approval_are_cut_to_the_first_few() -> None:
    later = TODAY + timedelta(days=200)
    acks = [_ack(f"Bucket{n}", later, approved=False) for n in range(NAMES_SHOWN + 2)]
    text = _flat(_section(_model(acks)))
    assert f"Deviations awaiting the code owners' sign-off: {len(acks)} of {len(acks)}" in text
    assert all(a.path in text for a in acks[:NAMES_SHOWN])
    assert not any(a.path in text for a in acks[NAMES_SHOWN:])
    assert "- and 2 more" in text


def test_an_overdue_review_and_one_coming_due_are_counted_and_the_overdue_one_needs_the_ao() -> None:
    overdue = _ack("Logs", TODAY - timedelta(days=1), approved=False)
    soon = _ack("Exports", TODAY + timedelta(days=10))
    later = _ack("Archive", TODAY + timedelta(days=200))
    model = _model([overdue, soon, later])
    assert len(model.review_overdue) == 1
    assert not model.passed
    markdown = render_markdown(model)
    text = _flat(_section(model))
    assert (
        f"- Reviews: 1 acknowledgment(s) due in the {COMING_DUE_DAYS} days from {TODAY.isoformat()}, the earliest on "
        f"{soon.review_by}; 1 due now, each failing the gate: see "
        "[Acknowledgments due for review](#acknowledgments-due-for-review)." in text
    )
    assert "- Review the 1 acknowledgment(s) due for review (each needs a new review date, or removal)" in text
    assert "### Acknowledgments due for review" in markdown
    assert f"{overdue.name}: to be reviewed by {overdue.review_by}, which has passed" in _flat(markdown)
    page = render_html(model)
    assert 'id="due-for-review"' in page
    assert '<a href="#due-for-review">' in page


def test_reviews_coming_due_are_those_within_the_days_from_the_judging_date() -> None:
    dates = [TODAY, TODAY + timedelta(days=COMING_DUE_DAYS), TODAY + timedelta(days=COMING_DUE_DAYS + 1)]
    acks = [_ack(f"Bucket{n}", when) for n, when in enumerate(dates)]
    assert [a.review_by for a in coming_due(_model(acks), TODAY)] == [d.isoformat() for d in dates[:2]]


def test_a_compensating_control_that_does_not_hold_needs_the_authorizing_official() -> None:
    broken = _ack("Logs", TODAY + timedelta(days=200), holds=False)
    model = _model([broken, _ack("Exports", TODAY + timedelta(days=200))])
    text = _flat(_section(model))
    assert "- Open findings: 1, each failing the gate: see [Open findings](#open-findings)." in text
    assert f"- Decide on the 1 deviation(s) whose compensating control does not hold: - `{broken.finding}`" in text
    markdown = render_markdown(model)
    found = markdown[markdown.index("## Open findings") :].split("\n## ", 1)[0]
    assert f"Dev: `{broken.finding}` on `{broken.path}`" in _flat(found)


def test_baseline_differences_are_listed_as_the_gate_computes_them(tmp_path: Path) -> None:
    later = TODAY + timedelta(days=200)
    recorded = _model([_ack("Logs", later)])
    baseline = tmp_path / "baseline.json"
    signoff.write(recorded, baseline)
    added = _ack("Exports", later, finding=WILDCARD, approved=False)
    model = _model([_ack("Logs", later), added])
    signoff.apply(model, baseline, shown_as=APPROVAL.baseline, today=TODAY)
    model.approval = APPROVAL
    differences = model.baseline_differences
    assert any("new acknowledgment of" in d for d in differences)
    text = _flat(_section(model))
    assert f"as of commit `{APPROVAL.commit}` ({APPROVAL.source}): {len(differences)} change(s), " in text
    assert f"{len(differences)} failing the gate until the baseline records them:" in text
    for difference in differences:
        assert f"- {difference}" in text
    # The deviation it adds is not approved yet: it awaits the authorizing official.
    assert f"`{added.finding}` on `{added.path}`" in text
    assert (
        "- First, the code owners sign off (or reject) the 1 deviation(s) awaiting it, listed above: until the "
        "baseline records them, the gate fails." in text
    )


def test_a_long_list_of_changes_is_cut_and_points_to_the_baseline_section() -> None:
    model = _model([_ack("Logs", TODAY + timedelta(days=200))])
    differences = [f"Dev: ac-{n} was evidenced at synth, is now not checked at synth" for n in range(CHANGES_SHOWN + 1)]
    improvements = ["Dev: acknowledgment removed: AwsSolutions-S1 on Data/Old/Resource"]
    model = replace(model, baseline_differences=differences, baseline_improvements=improvements)
    markdown = render_markdown(model)
    text = _flat(_section(model))
    listed = len(differences) + len(improvements)
    assert (
        f"{listed} change(s), {len(differences)} failing the gate until the baseline records them, "
        f"{len(improvements)} improvement(s) it does not record yet:" in text
    )
    assert all(f"- {d}" in text for d in differences[:CHANGES_SHOWN])
    assert differences[CHANGES_SHOWN] not in text
    assert f"- and {listed - CHANGES_SHOWN} more: see [Compliance baseline](#compliance-baseline)" in text
    assert "### Compliance baseline" in markdown
    assert differences[CHANGES_SHOWN] in markdown


def test_an_improvement_alone_is_a_change_too() -> None:
    model = _model([_ack("Logs", TODAY + timedelta(days=200))])
    improvement = "Dev: acknowledgment removed: AwsSolutions-S1 on Data/Old/Resource"
    text = _flat(_section(replace(model, baseline_improvements=[improvement])))
    assert f"- improvement: {improvement}" in text
    assert ": nothing;" not in text


def test_without_a_baseline_no_change_is_named_and_every_deviation_awaits_approval() -> None:
    acks = [_ack("Logs", TODAY + timedelta(days=200), approved=False)]
    model = replace(_model(acks), baseline_file="", approval=None)
    text = _flat(_section(model))
    assert "Changed since the signed-off baseline: not known; no baseline was compared in this run." in text
    assert (
        "Deviations awaiting the code owners' sign-off: 1 of 1; "
        "no signed-off baseline was compared, so none is signed off" in text
    )


@pytest.mark.parametrize("days_before", [0, 2])
def test_the_judging_date_is_named_only_where_it_is_not_the_runs(days_before: int) -> None:
    judged = TODAY - timedelta(days=days_before)
    model = _model([_ack("Logs", TODAY + timedelta(days=200))], judged=judged)
    assert model.judged_on == judged.isoformat()
    verdict = verdict_line(model)
    section = _flat(_section(model))
    html = render_html(model)
    note = f"review dates judged on {judged.isoformat()}, not the run date {TODAY.isoformat()}"
    sentence = f"Review dates were judged on {judged.isoformat()}, not on the run's date, {TODAY.isoformat()}"
    if days_before:
        assert note in verdict
        assert sentence in section
        assert note in html
        assert sentence in _html_section(model)
    else:
        assert "judged on" not in verdict
        assert "judged on" not in section
        assert "judged on" not in html


def test_the_plan_of_action_counts_the_items_the_poam_writes() -> None:
    from compliance.oscal import POAM
    from compliance.oscal.poam import plan_of_action_and_milestones

    assert POAM_FILE == POAM
    later = TODAY + timedelta(days=200)
    stale = _ack("Gone", later, matched=0)
    twice = _open_finding("Open")
    model = _model([_ack("Logs", later), stale], extra=[twice, twice, _open_finding("Other")])
    plan = plan_of_action(model)
    document = plan_of_action_and_milestones(model)
    assert document is not None
    assert plan.items == len(document["poam-items"]) == 3
    text = _flat(_section(model))
    assert (
        f"- Plan of action and milestones: {plan.items} item(s) in `{POAM_FILE}`: {len(plan.deviations)} open "
        "deviation(s), signed off or not (a sign-off accepts a risk for the gate, it does not close it), and "
        f"{len(plan.findings)} open finding(s)." in text
    )
    empty = _model([])
    assert plan_of_action_and_milestones(empty) is None
    assert f"nothing is open, so it has no item and no {POAM_FILE}." in _flat(_section(empty))
    assert "Needs the authorizing official: nothing; no acknowledgment accepts a finding." in _flat(_section(empty))
