"""What needs attention: the first section of report.md and report.html, for an ISSO and an authorizing official.

Three parts, each sentence read from fields of the model, so each is true of the run it describes:

- what changed since the signed-off baseline: the differences the gate fails on (`compliance.signoff`)
  and the improvements the baseline does not record yet, the first few listed;
- what is open: open findings, deviations awaiting approval, the items of the plan of action and
  milestones (selected as the POA&M selects them: `compliance.model.plan_of_action`), reviews coming
  due within `COMING_DUE_DAYS` and those due now;
- what needs the authorizing official: the decisions only an AO makes (a deviation to approve or
  reject, a review that is due, a deviation whose compensating control does not hold), or, with none,
  when the next review falls.

Where the date review dates were judged on is not the run's own date (`MONITORING_TODAY` can set it),
the section says so first, and the verdict too (`date_note`): what is due and what is approved follow
from that date. Each renderer turns the blocks into its own markup: a `Span` is text, an identifier
or a link to a section by its key (`SECTIONS`), so both reports say the same sentences.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from compliance.model import AcknowledgmentRecord, Approval, ComplianceModel, plan_of_action

# Reviews falling within this many days of the date review dates are judged on are "coming due".
COMING_DUE_DAYS = 30
# Changes since the baseline listed on the first screen; the baseline's own section lists them all.
CHANGES_SHOWN = 5
# Acknowledgments named on the first screen in a list of them (awaiting approval, not holding).
NAMES_SHOWN = 3
# The POA&M's file, as `compliance.oscal` writes it (a test holds the two names together: this module
# imports no OSCAL library).
POAM_FILE = "plan-of-action-and-milestones.json"

# The sections the first screen links to, by key; each report maps a key to one of its own anchors.
OPEN_FINDINGS = "open-findings"
AWAITING_APPROVAL = "awaiting-approval"
BASELINE = "baseline"
DUE_FOR_REVIEW = "due-for-review"
SECTIONS = (OPEN_FINDINGS, AWAITING_APPROVAL, BASELINE, DUE_FOR_REVIEW)


@dataclass(frozen=True)
class Span:
    """A run of text: plain, an identifier (a finding id, a path, a file: shown as code) or a link to a section."""

    text: str
    code: bool = False
    link: str = ""  # one of SECTIONS
    strong: bool = False  # a part's label: "Open:"


Line = tuple[Span, ...]


@dataclass(frozen=True)
class Item:
    """A list item, and the list under it."""

    line: Line
    items: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Block:
    """A paragraph, and the list under it."""

    lead: Line
    items: tuple[Item, ...] = ()


def _line(*parts: str | Span | Iterable[Span]) -> Line:
    spans: list[Span] = []
    for part in parts:
        if isinstance(part, str):
            spans.append(Span(part))
        elif isinstance(part, Span):
            spans.append(part)
        else:
            spans.extend(part)
    return tuple(spans)


def _code(text: str) -> Span:
    return Span(text, code=True)


def _label(text: str) -> Span:
    return Span(text, strong=True)


def _name(ack: AcknowledgmentRecord) -> Line:
    """An acknowledgment as the reports name it, "<finding> on <path>", each identifier apart."""
    return (_code(ack.finding), Span(" on "), _code(ack.path))


def _names(acks: list[AcknowledgmentRecord]) -> tuple[Line, ...]:
    """The first few acknowledgments by name, then how many more."""
    shown = [_name(a) for a in acks[:NAMES_SHOWN]]
    hidden = len(acks) - NAMES_SHOWN
    return (*shown, (Span(f"and {hidden} more"),)) if hidden > 0 else tuple(shown)


def awaiting_approval(model: ComplianceModel) -> list[AcknowledgmentRecord]:
    """The deviations awaiting the code owners' sign-off (`AcknowledgmentRecord.awaiting_approval`: an
    acknowledgment that accepted a finding, not approved by the signed-off baseline)."""
    return [a for a in model.acknowledgments if a.awaiting_approval]


def not_holding(model: ComplianceModel) -> list[AcknowledgmentRecord]:
    """The open deviations whose compensating control does not hold (a check fails, or it has none)."""
    return [a for a in plan_of_action(model).deviations if not a.holds]


def judged_on(model: ComplianceModel) -> date | None:
    """The date the gate judged review dates on, where the model records it."""
    return date.fromisoformat(model.judged_on) if model.judged_on else None


def run_date(model: ComplianceModel) -> date | None:
    """The run's own date (UTC), from its recorded time."""
    return date.fromisoformat(model.run.time[:10]) if model.run and model.run.time else None


def date_note(model: ComplianceModel) -> str:
    """ "review dates judged on <date>, not the run date <date>" where the two differ; "" where they agree or one is
    not recorded."""
    judged, ran = judged_on(model), run_date(model)
    if judged is None or ran is None or judged == ran:
        return ""
    return f"review dates judged on {judged.isoformat()}, not the run date {ran.isoformat()}"


def coming_due(model: ComplianceModel, today: date) -> list[AcknowledgmentRecord]:
    """The acknowledgments whose review date falls within `COMING_DUE_DAYS` of `today` (today included), earliest
    first."""
    last = today + timedelta(days=COMING_DUE_DAYS)
    due = [a for a in model.acknowledgments if a.review_by and today <= date.fromisoformat(a.review_by) <= last]
    return sorted(due, key=lambda a: a.review_by)


def attention(model: ComplianceModel) -> list[Block]:
    """The section's blocks, in order: the date review dates were judged on (only where it is not the run's),
    what changed since the baseline, what is open, what needs the authorizing official."""
    blocks = []
    judged, ran = judged_on(model), run_date(model)
    if date_note(model) and judged is not None and ran is not None:
        blocks.append(
            Block(
                _line(
                    _label(f"Review dates were judged on {judged.isoformat()}"),
                    f", not on the run's date, {ran.isoformat()} (",
                    _code("MONITORING_TODAY"),
                    " can set it): which reviews are due and which deviations are approved follow from "
                    f"{judged.isoformat()}.",
                )
            )
        )
    return [*blocks, _changes(model), _open(model), _authorizing_official(model)]


def _as_of(approval: Approval | None) -> Line:
    if approval is None:
        return ()
    if not approval.commit:
        return _line(f" ({approval.source})")
    return _line(" as of commit ", _code(approval.commit), f" ({approval.source})")


def _changes(model: ComplianceModel) -> Block:
    if not model.baseline_file:
        return Block(
            _line(_label("Changed since the signed-off baseline:"), " not known; no baseline was compared in this run.")
        )
    where = _line(
        _label("Changed since the signed-off baseline"), " ", _code(model.baseline_file), _as_of(model.approval)
    )
    differences, improvements = model.baseline_differences, model.baseline_improvements
    if not differences and not improvements:
        return Block(
            _line(where, ": nothing; every control's status, inherited service and acknowledgment is as it records.")
        )
    counts = f"{len(differences)} failing the gate until the baseline records them"
    if improvements:
        counts += f", {len(improvements)} improvement(s) it does not record yet"
    listed = [_line(d) for d in differences] + [_line(f"improvement: {i}") for i in improvements]
    items = [Item(line) for line in listed[:CHANGES_SHOWN]]
    if len(listed) > CHANGES_SHOWN:
        items.append(
            Item(_line(f"and {len(listed) - CHANGES_SHOWN} more: see ", Span("Compliance baseline", link=BASELINE)))
        )
    return Block(_line(where, f": {len(listed)} change(s), {counts}:"), tuple(items))


def _open(model: ComplianceModel) -> Block:
    return Block(
        _line(_label("Open:")),
        (_open_findings(model), _awaiting(model), _poam(model), _reviews(model)),
    )


def _open_findings(model: ComplianceModel) -> Item:
    found = len(plan_of_action(model).findings)  # each finding on each resource once, as the POA&M counts them
    if model.synth_errors:
        return Item(
            _line(
                f"Open findings: {len(model.synth_errors)} synth error(s) outside the packs and {found} finding(s) "
                "of the packs, each failing the gate: see ",
                Span("Open findings", link=OPEN_FINDINGS),
                ".",
            )
        )
    if not found:
        return Item(_line("Open findings: none."))
    return Item(
        _line(f"Open findings: {found}, each failing the gate: see ", Span("Open findings", link=OPEN_FINDINGS), ".")
    )


def _awaiting(model: ComplianceModel) -> Item:
    deviations = plan_of_action(model).deviations
    awaiting = awaiting_approval(model)
    if not deviations:
        return Item(_line("Deviations awaiting the code owners' sign-off: none; no acknowledgment accepts a finding."))
    if not awaiting:
        return Item(
            _line(
                f"Deviations awaiting the code owners' sign-off: none; the signed-off baseline records all "
                f"{len(deviations)}."
            )
        )
    unapproved = "; no signed-off baseline was compared, so none is signed off" if not model.baseline_file else ""
    return Item(
        _line(
            f"Deviations awaiting the code owners' sign-off: {len(awaiting)} of {len(deviations)}{unapproved} (see ",
            Span("Approval of deviations", link=AWAITING_APPROVAL),
            "):",
        ),
        _names(awaiting),
    )


def _poam(model: ComplianceModel) -> Item:
    plan = plan_of_action(model)
    if not plan.items:
        return Item(_line(f"Plan of action and milestones: nothing is open, so it has no item and no {POAM_FILE}."))
    return Item(
        _line(
            f"Plan of action and milestones: {plan.items} item(s) in ",
            _code(POAM_FILE),
            f": {len(plan.deviations)} open deviation(s), signed off or not (a sign-off accepts a risk for the "
            f"gate, it does not close it), and {len(plan.findings)} open finding(s).",
        )
    )


def _reviews(model: ComplianceModel) -> Item:
    today = judged_on(model)
    if today is None:
        return Item(_line("Reviews: this run recorded no date its review dates were judged on."))
    due = coming_due(model, today)
    soon = (
        f"{len(due)} acknowledgment(s) due in the {COMING_DUE_DAYS} days from {today.isoformat()}, the earliest on "
        f"{due[0].review_by}"
        if due
        else f"none due in the {COMING_DUE_DAYS} days from {today.isoformat()}"
    )
    overdue = len(model.review_overdue)
    if not overdue:
        return Item(_line(f"Reviews: {soon}; none due now."))
    return Item(
        _line(
            f"Reviews: {soon}; {overdue} due now, each failing the gate: see ",
            Span("Acknowledgments due for review", link=DUE_FOR_REVIEW),
            ".",
        )
    )


def _authorizing_official(model: ComplianceModel) -> Block:
    deviations = plan_of_action(model).deviations
    awaiting, failing, overdue = awaiting_approval(model), not_holding(model), len(model.review_overdue)
    if not (deviations or failing or overdue):
        return Block(_line(_label("Needs the authorizing official:"), " nothing; no acknowledgment accepts a finding."))
    items = []
    if deviations:
        items.append(_requests(model, deviations))
    if awaiting:
        items.append(
            Item(
                _line(
                    f"First, the code owners sign off (or reject) the {len(awaiting)} deviation(s) awaiting it, "
                    "listed above: until the baseline records them, the gate fails."
                )
            )
        )
    if overdue:
        items.append(
            Item(
                _line(
                    f"Review the {overdue} acknowledgment(s) due for review (each needs a new review date, or "
                    "removal): see ",
                    Span("Acknowledgments due for review", link=DUE_FOR_REVIEW),
                    ".",
                )
            )
        )
    if failing:
        items.append(
            Item(
                _line(f"Decide on the {len(failing)} deviation(s) whose compensating control does not hold:"),
                _names(failing),
            )
        )
    return Block(_line(_label("Needs the authorizing official:")), tuple(items))


def _requests(model: ComplianceModel, deviations: tuple[AcknowledgmentRecord, ...]) -> Item:
    """The deviation requests of the POA&M, which only the authorizing official accepts: the code owners' sign-off
    of the baseline lets the gate pass, and FedRAMP's request stays pending until the AO decides."""
    requests: dict[str, int] = {}
    for ack in deviations:
        requests[ack.kind.fedramp_request] = requests.get(ack.kind.fedramp_request, 0) + 1
    counted = ", ".join(f"{count} {name.replace('-', ' ')}(s)" for name, count in sorted(requests.items()))
    dates = [a.review_by for a in deviations if a.review_by]
    first = min(dates) if dates else ""
    review = f" The next review date is {first}, that of {dates.count(first)} of them." if first else ""
    return Item(
        _line(
            f"Accept or reject the {len(deviations)} deviation request(s) of the POA&M ({counted}), each pending in ",
            _code(POAM_FILE),
            ": the code owners' sign-off of the baseline lets the gate pass; it is not the authorizing official's "
            f"acceptance.{review}",
        )
    )
