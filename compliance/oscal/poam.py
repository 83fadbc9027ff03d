"""`plan-of-action-and-milestones.json`: the open deviations of a synth, each a POA&M item with its risk.

Open: an acknowledgment that accepted a finding, approved or not (its risk is `deviation-requested`
until the signed-off baseline approves it, then `deviation-approved`, and `open` where its compensating
control fails: approval accepts a risk and does not close it), and every open finding (a failing
control). Each item's risk carries the milestone of its review: the acknowledgment's review
date where the record has one (`compliance.oscal.risks`), else a remark that none is set. An item's
uuid is its deviation's (the acknowledged finding on its resource): the same in every run, so a
deviation keeps its POA&M identity from month to month; its risk is this run's. Nothing open, no
POA&M: OSCAL requires at least one item.
"""

from __future__ import annotations

from typing import Any

from compliance.model import ComplianceModel
from compliance.oscal.base import (
    FEDRAMP_NS,
    SYSTEM_SECURITY_PLAN,
    Stamp,
    assessment_assets,
    metadata,
    prop,
    subject_uuid,
)
from compliance.oscal.risks import (
    acknowledgment_key,
    acknowledgment_risk,
    finding_key,
    finding_risk,
    is_open,
    open_findings,
    packs_of_findings,
    review_by,
)


def _item(key: tuple[str, ...], risk: dict[str, Any], remarks: str) -> dict[str, Any]:
    item_uuid = subject_uuid("poam-item", *key)
    return {
        "uuid": item_uuid,
        "title": risk["title"],
        "description": risk["description"],
        "props": [prop("POAM-ID", f"SYNTH-{item_uuid[:8].upper()}", ns=FEDRAMP_NS)],
        "related-risks": [{"risk-uuid": risk["uuid"]}],
        "remarks": remarks,
        "origins": risk["origins"],
    }


def plan_of_action_and_milestones(model: ComplianceModel) -> dict[str, Any] | None:
    """The POA&M of the synth's open deviations; None where nothing is open."""
    stamp, packs = Stamp.of(model), packs_of_findings(model)
    risks, items = [], []
    for ack in filter(is_open, model.acknowledgments):
        risk = acknowledgment_risk(stamp, ack, packs.get(ack.finding, ""), model.approval)
        due = review_by(ack)
        when = f"Review by {due.date().isoformat()} (the milestone)." if due else "No review date is recorded: set one."
        risks.append(risk)
        items.append(_item(acknowledgment_key(ack), risk, f"Status {risk['status']}. {when}"))
    for evaluation in open_findings(model):
        risk = finding_risk(stamp, model, evaluation)
        risks.append(risk)
        items.append(_item(finding_key(evaluation), risk, "Open finding: the gate fails until it is fixed."))
    if not items:
        return None
    return {
        "uuid": stamp.uuid("plan-of-action-and-milestones"),
        "metadata": metadata(stamp, "FedRAMP Moderate monitoring platform: plan of action and milestones"),
        "import-ssp": {"href": SYSTEM_SECURITY_PLAN},
        "system-id": {"identifier-type": "https://ietf.org/rfc/rfc4122", "id": stamp.system_id},
        "local-definitions": {"assessment-assets": assessment_assets(stamp)},
        "risks": risks,
        "poam-items": items,
    }
