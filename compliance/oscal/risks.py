"""The risks of a synth, as the assessment results and the POA&M carry them: acknowledgments and open findings.

An acknowledgment is a deviation: `deviation-requested` while its compensating control holds and
no approval is recorded, `deviation-approved` only with one, `open` where its checks fail. An open
finding is an `open` risk whose remediation is the rule's own advice. Each risk carries its
likelihood and impact as the tool rates them at synth (initial values for the assessor to adjust),
its remediations, and, where the acknowledgment has a review date, that date as its deadline and
as the milestone of its planned remediation.

`approval` and `review_by` are read from an acknowledgment record where it has them: the first
decides `deviation-approved` and becomes a risk-log entry, the second the deadline and milestone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from compliance.model import (
    AcknowledgmentRecord,
    Approval,
    ComplianceModel,
    Control,
    Evaluation,
    control_id,
    open_deviation,
    plan_of_action,
)
from compliance.oscal.base import FEDRAMP_NS, NIST_NS, Stamp, origins, present, prop, timestamp, tool_of
from compliance.oscal.base import as_datetime as _as_datetime

APPROVED, REQUESTED, OPEN = "deviation-approved", "deviation-requested", "open"


def approved(ack: AcknowledgmentRecord) -> bool:
    """Whether the signed-off baseline approves the acknowledgment (`compliance.signoff`)."""
    return ack.approved


def review_by(ack: AcknowledgmentRecord) -> datetime | None:
    """The date by which the acknowledgment is reviewed again, where the record carries one."""
    return _as_datetime(getattr(ack, "review_by", None))


def risk_status(ack: AcknowledgmentRecord) -> str:
    """Approved only where an approval is recorded; requested while the compensating control holds; else open."""
    if not ack.holds:
        return OPEN
    return APPROVED if approved(ack) else REQUESTED


@dataclass(frozen=True)
class Rating:
    """Likelihood and impact (NIST SP 800-30 levels) as the tool rates a risk at synth, and why."""

    likelihood: str
    impact: str
    basis: str

    @property
    def risk(self) -> str:
        """SP 800-30 Table I-2, for the levels used here: the lower of the two where one is low."""
        levels = ("low", "moderate", "high")
        return levels[min(levels.index(self.likelihood), levels.index(self.impact))]


# A FedRAMP Moderate system's FIPS 199 categorization bounds the impact; the tool does not rate it lower
# without a person's review.
_IMPACT = "moderate"


def rating(*, compensated: bool) -> Rating:
    if compensated:
        return Rating("low", _IMPACT, "a compensating control, checked against the template at synth, holds")
    return Rating("moderate", _IMPACT, "no compensating control holds at synth")


def _characterization(stamp: Stamp, tools: list[str], rated: Rating) -> dict[str, Any]:
    initial = [prop("state", "initial", ns=FEDRAMP_NS)]
    return {
        "origin": origins(stamp, tools)[0],
        "facets": [
            {"name": "likelihood", "system": NIST_NS, "value": rated.likelihood, "remarks": rated.basis},
            {"name": "impact", "system": NIST_NS, "value": rated.impact, "remarks": "the system's FIPS 199 level"},
            {"name": "risk", "system": FEDRAMP_NS, "value": rated.risk, "props": initial},
        ],
    }


def _controls(labels: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    ids = dict.fromkeys(cid for label in labels if (cid := control_id(label)))
    return [prop("impacted-control-id", cid, ns=FEDRAMP_NS) for cid in ids]


def _milestone(stamp: Stamp, key: tuple[str, ...], due: datetime | None) -> dict[str, Any]:
    """The planned response: review the deviation by its date (a milestone), or set a date where none is."""
    planned: dict[str, Any] = {
        "uuid": stamp.uuid("remediation", "planned", *key),
        "lifecycle": "planned",
        "title": "Review the deviation",
        "description": "Review the acknowledgment: approve it (recorded), fix the resource, or narrow the finding.",
    }
    if due is None:
        planned["remarks"] = "No review date is recorded for this acknowledgment: set one."
        return planned
    planned["tasks"] = [
        {
            "uuid": stamp.uuid("milestone", *key),
            "type": "milestone",
            "title": f"Reviewed by {due.date().isoformat()}",
            "timing": {"on-date": {"date": timestamp(due)}},
        }
    ]
    return planned


def packs_of_findings(model: ComplianceModel) -> dict[str, str]:
    """Finding id -> the pack that reported it (what names the tool behind an acknowledgment)."""
    return {e.finding: e.pack for e in model.evaluations}


def acknowledgment_key(ack: AcknowledgmentRecord) -> tuple[str, ...]:
    """What names an acknowledged deviation: the finding on its resource (the scope is in the path)."""
    return ("acknowledgment", ack.path, ack.finding)


def risk_uuid(stamp: Stamp, key: tuple[str, ...]) -> str:
    return stamp.uuid("risk", *key)


# FedRAMP's extension for the deviation request an acknowledgment makes (GSA fedramp-automation, POA&M guide 4.5.1
# and 4.5.2; `AcknowledgmentKind.fedramp_request`). Its value is the request's state: "investigating" until
# evidence supports it, "pending" once it does. "approved" is the authorizing official's decision, which the synth
# does not record: the code owners' sign-off of the baseline approves a deviation for this gate (the risk's status
# says so), not for FedRAMP, so it never writes "approved".


def _deviation_request(ack: AcknowledgmentRecord) -> list[dict[str, Any]]:
    """FedRAMP's property of the deviation request the acknowledgment makes: pending where its compensating control
    holds (the evidence the request rests on), investigating where it does not."""
    return [prop(ack.kind.fedramp_request, "pending" if ack.holds else "investigating", ns=FEDRAMP_NS)]


def acknowledgment_risk(
    stamp: Stamp, ack: AcknowledgmentRecord, pack: str, approval: Approval | None = None
) -> dict[str, Any]:
    """The acknowledgment as a risk; `approval` is the model's record of the baseline that approves deviations."""
    key = acknowledgment_key(ack)
    tools = [tool_of(pack)]
    due = review_by(ack)
    risk: dict[str, Any] = present(
        {
            "uuid": risk_uuid(stamp, key),
            "title": f"{ack.finding} on {ack.path}",
            "description": ack.reason,
            "statement": f"Compensating control, checked at synth: {ack.compensating_control}.",
            "props": [
                prop("scope", ack.scope),
                prop("acknowledgment-kind", str(ack.kind)),
                *_deviation_request(ack),
                *_controls(ack.controls),
                *(prop("nist-control", c) for c in ack.controls),
            ],
            "status": risk_status(ack),
            "origins": origins(stamp, tools),
            "characterizations": [_characterization(stamp, tools, rating(compensated=ack.holds))],
            "mitigating-factors": [
                {
                    "uuid": stamp.uuid("mitigating-factor", *key, str(n)),
                    "description": f"{check.check}: {check.claim}; {'holds' if check.holds else 'does not hold'} on "
                    f"{check.subject or 'no resource'} ({check.evidence})",
                }
                for n, check in enumerate(ack.checks)
            ]
            or None,
            "deadline": timestamp(due) if due else None,
            "remediations": [
                {
                    "uuid": stamp.uuid("remediation", "recommendation", *key),
                    "lifecycle": "recommendation",
                    "title": "Fix the resource",
                    "description": f"Change {ack.path} so that {ack.finding} no longer applies, then remove the "
                    "acknowledgment.",
                },
                _milestone(stamp, key, due),
            ],
        }
    )
    if approved(ack) and approval is not None:
        risk["risk-log"] = {
            "entries": [
                {
                    "uuid": stamp.uuid("risk-log", *key),
                    "title": "Deviation approved",
                    "start": timestamp(stamp.time),
                    "status-change": APPROVED,
                    "remarks": f"recorded in {approval.baseline} as of commit {approval.commit or 'unknown'} "
                    f"({approval.committed or 'date unknown'}, by {approval.author or 'unknown'}); code owners: "
                    f"{', '.join(approval.reviewers) or 'none named'}; source: {approval.source}",
                }
            ]
        }
    return risk


def finding_key(evaluation: Evaluation) -> tuple[str, ...]:
    return ("open-finding", evaluation.scope, evaluation.pack, evaluation.finding, evaluation.path)


def finding_risk(stamp: Stamp, model: ComplianceModel, evaluation: Evaluation) -> dict[str, Any]:
    key = finding_key(evaluation)
    cited = next((r.cited for r in model.rules if r.rule == evaluation.rule), ())
    tools = [tool_of(evaluation.pack)]
    advice = evaluation.message or f"{evaluation.rule} fails on this resource."
    return {
        "uuid": risk_uuid(stamp, key),
        "title": f"{evaluation.finding} on {evaluation.path}",
        "description": advice,
        "statement": f"Open at synth: {evaluation.rule} fails on {evaluation.path} ({evaluation.resource_type}); "
        "the gate fails until it is fixed or acknowledged.",
        "props": [prop("scope", evaluation.scope), *_controls(list(cited))],
        "status": OPEN,
        "origins": origins(stamp, tools),
        "characterizations": [_characterization(stamp, tools, rating(compensated=False))],
        "remediations": [
            {
                "uuid": stamp.uuid("remediation", "recommendation", *key),
                "lifecycle": "recommendation",
                "title": "Fix the resource",
                "description": advice,
            }
        ],
    }


def open_findings(model: ComplianceModel) -> list[Evaluation]:
    """The non-compliant evaluations, each once (`compliance.model.plan_of_action`, which the reports count too)."""
    return list(plan_of_action(model).findings)


@dataclass(frozen=True)
class Deviations:
    """A model's acknowledgments by name (`AcknowledgmentRecord.name`): a control's deviations found without reading
    every acknowledgment for every control."""

    acks: tuple[AcknowledgmentRecord, ...]
    positions: dict[str, tuple[int, ...]]  # name -> where in `acks`

    @staticmethod
    def of(acks: Iterable[AcknowledgmentRecord]) -> Deviations:
        listed = tuple(acks)
        positions: dict[str, tuple[int, ...]] = {}
        for n, ack in enumerate(listed):
            positions[ack.name] = (*positions.get(ack.name, ()), n)
        return Deviations(listed, positions)

    def behind(self, control: Control) -> list[AcknowledgmentRecord]:
        """The acknowledgments behind the control's deviation status (`Control.deviations` names them), in order."""
        found = {n for name in control.deviations for n in self.positions.get(name, ())}
        return [self.acks[n] for n in sorted(found)]


def related_findings(control: Control, found: list[Evaluation]) -> list[Evaluation]:
    """The open findings of one of the control's rules."""
    resources = set(control.resources)
    return [e for e in found if e.rule in control.rules and f"{e.scope}:{e.path}" in resources]


def is_open(ack: AcknowledgmentRecord) -> bool:
    """Whether the acknowledgment is an open deviation (`compliance.model.open_deviation`, which the reports count
    too): it accepted a finding, approved or not."""
    return open_deviation(ack)
