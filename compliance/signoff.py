"""The signed-off compliance baseline: what a reviewer accepted, compared with every synth.

`compliance/baseline.json` is committed. Per scope (the pipeline and each stage, by
name), it records the status at synth of every control that synth assesses and the
set of acknowledgments, each with its kind, its review date and the resources it accepts a finding on;
a stage that leaves services of its account baseline to a landing zone also records them under
`inherited`, each with its provider and the controls the stage inherits from it. Paths are
stage-relative and stage-neutral, and account ids, regions, partitions and the
source repository's name are written as placeholders, so editing what a team is
told to edit (accounts, regions, zones, sizes, e-mails) never changes it; adding or
removing an environment does, because that is a change to review.

The committed baseline is also the record of approval: an acknowledgment it records, on every
resource it accepts a finding on and with the same kind and review date, is an approved deviation
(`approve`); any other is a deviation requested. A control's status recorded here is the one it
has once this run's acknowledgments are approved, so a new acknowledgment shows as one line, its
own, rather than as a line per control it touches.

A run regresses when a scope disappears or appears, a control's status drops
(evidenced -> partial -> not checked -> not satisfied -> failing), a control becomes or stops being
inherited, a service is inherited from another provider (or newly, or no longer), or an
acknowledgment is added, accepts more resources than recorded, or has another kind or review date. Each
regression is one line, and fails the gate unless the baseline committed with the change records it
(`make baseline` rewrites the file from a synth; the diff is then part of the review). Improvements
(a control evidenced, an acknowledgment removed) pass, and the report lists them
until the baseline records them too. An acknowledgment past its review date fails the gate whatever
the baseline says (`review`). Standard library only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from compliance.model import (
    AcknowledgmentKind,
    AcknowledgmentRecord,
    ComplianceModel,
    ControlStatus,
    Evaluation,
    Inheritance,
    Status,
    controls_from,
    inherited_controls,
)

SCHEMA = "fedramp-monitoring/compliance-baseline/3"
# What each schema records that the one before it did not: what a baseline of an earlier schema lacks.
_SCHEMA_ADDS = {
    "fedramp-monitoring/compliance-baseline/2": "each acknowledgment's review date, and the controls' new statuses",
    "fedramp-monitoring/compliance-baseline/3": "each acknowledgment's kind",
}
DEFAULT_PATH = Path(__file__).resolve().parent / "baseline.json"
# Higher is better: losing rank is a regression. Not satisfied ranks below not checked: an acknowledgment that
# declares a control nothing else evidences is a deviation to review, and removing it is an improvement.
_RANK = {
    ControlStatus.EVIDENCED: 7,
    ControlStatus.PARTIAL_APPROVED: 6,
    ControlStatus.PARTIAL_REQUESTED: 5,
    ControlStatus.NOT_CHECKED: 4,
    ControlStatus.DEVIATION_APPROVED: 3,
    ControlStatus.DEVIATION_REQUESTED: 2,
    ControlStatus.FAILING: 0,
}
# The longest an acknowledgment may wait for its next review, in days from the run: FedRAMP reviews a deviation
# request at least yearly, with the annual assessment.
MAX_REVIEW_DAYS = 366
_ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_REGION = re.compile(r"\b[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9](?![0-9])")
_PARTITION = re.compile(r"\barn:aws(?:-[a-z-]+)?:")
_SOURCE_ACTION = re.compile(r"/Source/[^/]+/")
# The replication bucket of a pipeline support stack ('PipelineSupport-ap-southeast-2') is named from the
# stack's name, cut short: 'pipelinesupport-ap-southeeplicationbucket<hash>'. The cut region is a region.
_SUPPORT_BUCKET = re.compile(r"\bpipelinesupport-[a-z0-9-]+?(?=r?eplicationbucket)")


def deployment_neutral(text: str) -> str:
    """Text with partitions, account ids and regions written as placeholders (a provider's name, for one)."""
    text = _PARTITION.sub("arn:<partition>:", text)
    text = _SUPPORT_BUCKET.sub("pipelinesupport-<region>", text)
    text = _ACCOUNT.sub("<account>", text)
    return _REGION.sub("<region>", text)


def neutral(text: str, scope: str) -> str:
    """A path or finding id with the stage, logical-id hashes, subnet numbers and deployment targets taken out."""
    if scope != "Pipeline":
        text = text.removeprefix(f"Pipeline/{scope}/").replace(scope, "<stage>").replace(scope.lower(), "<stage>")
    text = deployment_neutral(text)
    text = re.sub(r"Subnet\d+/", "Subnet<n>/", text)
    text = re.sub(r"[0-9A-F]{8}\b", "<hash>", text)
    text = re.sub(r"[0-9a-f]{12,}", "<hash>", text)  # the hash in a generated physical name
    return _SOURCE_ACTION.sub("/Source/<repository>/", text)


def snapshot(model: ComplianceModel) -> dict[str, Any]:
    """The baseline document of a run: what it records once this run's acknowledgments are approved."""
    scopes: dict[str, Any] = {}
    by_scope: dict[str, list[Evaluation]] = {}
    for evaluation in model.evaluations:
        by_scope.setdefault(evaluation.scope, []).append(evaluation)
    acks: dict[str, list[AcknowledgmentRecord]] = {}
    for ack in model.acknowledgments:
        acks.setdefault(ack.scope, []).append(ack)
    kinds = _kinds(model)
    for scope in model.scopes:
        evaluations = by_scope.get(scope, [])
        inheritances = [i for i in model.inheritances if i.scope == scope]
        records = [replace(a, approved=True) for a in acks.get(scope, [])]
        controls = controls_from(
            model.rules, evaluations, inherited=inherited_controls(inheritances), acknowledgments=records
        )
        scopes[scope] = {
            "controls": {c.control: str(c.status) for c in controls if c.status is not ControlStatus.NOT_CHECKED},
            "acknowledgments": _acknowledgments(acks.get(scope, []), evaluations, kinds),
        }
        if inheritances:  # only where a stage inherits: a baseline without any keeps its form
            scopes[scope]["inherited"] = _inherited(inheritances)
    return {"schema": SCHEMA, "scopes": scopes}


def _key(ack: AcknowledgmentRecord) -> str:
    """How the baseline names an acknowledgment: "<finding> on <path>", stage-neutral."""
    return f"{neutral(ack.finding, ack.scope)} on {neutral(ack.path, ack.scope)}"


def _acknowledged(evaluations: list[Evaluation]) -> dict[tuple[str, str], list[Evaluation]]:
    """The acknowledged evaluations, by scope and finding id (a finding every stage has, looked up in its own)."""
    found: dict[tuple[str, str], list[Evaluation]] = {}
    for evaluation in evaluations:
        if evaluation.status is Status.ACKNOWLEDGED:
            found.setdefault((evaluation.scope, evaluation.finding), []).append(evaluation)
    return found


def _accepted_on(ack: AcknowledgmentRecord, acknowledged: dict[tuple[str, str], list[Evaluation]]) -> set[str]:
    """The stage-neutral paths of the resources where `ack` accepted a finding (`acknowledged`: by scope and
    finding id)."""
    return {
        neutral(e.path, ack.scope)
        for e in acknowledged.get((ack.scope, ack.finding), [])
        if e.path == ack.path or e.path.startswith(ack.path + "/")
    }


def _acknowledgments(
    acks: list[AcknowledgmentRecord],
    evaluations: list[Evaluation],
    kinds: dict[tuple[str, str], AcknowledgmentKind],
) -> dict[str, dict[str, Any]]:
    """Each acknowledgment of one scope (`acks`, `evaluations`: that scope's) as "<finding> on <path>": its kind (of
    `kinds`, `_kinds` of the model), its review date and the resources it accepts a finding on. Where several share
    a name (their paths differ only by a hash), the entry has the earliest review date and the kind that comes first
    in `AcknowledgmentKind`, the one weighed first."""
    acknowledgments: dict[str, dict[str, Any]] = {}
    acknowledged = _acknowledged(evaluations)
    for ack in acks:
        key = _key(ack)
        entry = acknowledgments.setdefault(
            key, {"kind": str(kinds[(ack.scope, key)]), "review_by": ack.review_by, "resources": []}
        )
        entry["review_by"] = min(entry["review_by"], ack.review_by)
        entry["resources"] = sorted(set(entry["resources"]) | _accepted_on(ack, acknowledged))
    return dict(sorted(acknowledgments.items()))


def _kinds(model: ComplianceModel) -> dict[tuple[str, str], AcknowledgmentKind]:
    """(scope, name in the baseline) -> the kind the baseline records: of the acknowledgments that share the name,
    the kind that comes first in `AcknowledgmentKind`, the one weighed first."""
    order = list(AcknowledgmentKind)
    kinds: dict[tuple[str, str], AcknowledgmentKind] = {}
    for ack in model.acknowledgments:
        key = (ack.scope, _key(ack))
        kinds[key] = min(kinds.get(key, ack.kind), ack.kind, key=order.index)
    return kinds


def _inherited(inheritances: list[Inheritance]) -> dict[str, Any]:
    """Each inherited service with its provider (accounts and regions as placeholders) and the controls it gives."""
    return {i.service: {"from": deployment_neutral(i.provider), "controls": list(i.controls)} for i in inheritances}


@dataclass
class Comparison:
    regressions: list[str] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)


def compare(committed: dict[str, Any], current: dict[str, Any]) -> Comparison:
    """One line per difference between the committed baseline and this run, regressions apart from improvements."""
    result = Comparison()
    recorded, recording = committed.get("schema", SCHEMA), current.get("schema", SCHEMA)
    if recorded != recording:
        adds = f" (which adds {_SCHEMA_ADDS[recording]})" if recording in _SCHEMA_ADDS else ""
        result.regressions.append(
            f"the baseline is of schema {recorded!r}; this run records {recording!r}{adds}: "
            "record it again (`make baseline`) and review the diff"
        )
        return result
    old_scopes, new_scopes = committed.get("scopes", {}), current.get("scopes", {})
    for scope in old_scopes.keys() - new_scopes.keys():
        result.regressions.append(f"{scope}: in the baseline but not in this run (an environment was removed)")
    for scope in new_scopes.keys() - old_scopes.keys():
        result.regressions.append(f"{scope}: in this run but not in the baseline (an environment was added)")
    for scope in [s for s in new_scopes if s in old_scopes]:
        old, new = old_scopes[scope], new_scopes[scope]
        _compare_inherited(scope, old.get("inherited", {}), new.get("inherited", {}), result)
        _compare_controls(scope, old, new, result)
        _compare_acknowledgments(scope, old["acknowledgments"], new["acknowledgments"], result)
    return result


def _compare_inherited(scope: str, old: dict[str, Any], new: dict[str, Any], result: Comparison) -> None:
    """A service inherited from another provider, newly or no longer: each is a change to review."""
    for service in sorted(old.keys() | new.keys()):
        before, after = old.get(service, {}).get("from"), new.get(service, {}).get("from")
        if before == after:
            continue
        if before is None:
            line = f"{scope}: {service} is now inherited from {after}"
        elif after is None:
            line = f"{scope}: {service} was inherited from {before}, is no longer inherited"
        else:
            line = f"{scope}: {service} was inherited from {before}, is now inherited from {after}"
        result.regressions.append(line)


def _described(control: str, status: str, scope: dict[str, Any]) -> str:
    """A control's status as a difference names it: an inherited one with its providers."""
    if status != ControlStatus.INHERITED:
        return status
    providers = [entry["from"] for entry in scope.get("inherited", {}).values() if control in entry["controls"]]
    return f"inherited from {' and '.join(providers) or 'a landing zone'}"


def _compare_controls(scope: str, old: dict[str, Any], new: dict[str, Any], result: Comparison) -> None:
    """Each control whose status changed; into or out of inherited is a change to review, like a drop."""
    not_checked, inherited = str(ControlStatus.NOT_CHECKED), str(ControlStatus.INHERITED)
    for control in sorted(old["controls"].keys() | new["controls"].keys()):
        before, after = old["controls"].get(control, not_checked), new["controls"].get(control, not_checked)
        if before == after:
            continue
        worse = inherited in (before, after) or _RANK[ControlStatus(after)] < _RANK[ControlStatus(before)]
        (result.regressions if worse else result.improvements).append(
            f"{scope}: {control} was {_described(control, before, old)}, is now {_described(control, after, new)}"
        )


def _compare_acknowledgments(
    scope: str, old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], result: Comparison
) -> None:
    for ack in sorted(old.keys() | new.keys()):
        if ack not in old:
            result.regressions.append(f"{scope}: new acknowledgment of {ack}")
        elif ack not in new:
            result.improvements.append(f"{scope}: acknowledgment removed: {ack}")
        else:
            before, after = old[ack], new[ack]
            wider = sorted(set(after["resources"]) - set(before["resources"]))
            narrower = sorted(set(before["resources"]) - set(after["resources"]))
            if wider:
                result.regressions.append(f"{scope}: acknowledgment of {ack} widened to {', '.join(wider)}")
            if narrower:
                result.improvements.append(f"{scope}: acknowledgment of {ack} no longer needed on {len(narrower)}")
            if before.get("kind") != after.get("kind"):
                result.regressions.append(
                    f"{scope}: acknowledgment of {ack} is of kind {after.get('kind')}, not {before.get('kind')}"
                )
            if before["review_by"] != after["review_by"]:
                result.regressions.append(
                    f"{scope}: acknowledgment of {ack} is to be reviewed by {after['review_by']}, "
                    f"not {before['review_by']}"
                )


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def write(model: ComplianceModel, path: Path) -> Path:
    """Record this run as the baseline (what `make baseline` does)."""
    path.write_text(render(snapshot(model)), encoding="utf-8", newline="\n")
    return path


def apply(model: ComplianceModel, path: Path, *, shown_as: str, today: date) -> None:
    """Compare the run with the baseline at `path`, record the outcome in the model (for the reports), and
    approve what the baseline records (`approve`); `today` is the run's date."""
    model.baseline_file = shown_as
    if not path.exists():
        model.baseline_differences = [f"{shown_as}: no compliance baseline; run `make baseline` and commit it"]
        approve(model, None, today=today)
        return
    committed = json.loads(path.read_text(encoding="utf-8"))
    comparison = compare(committed, snapshot(model))
    model.baseline_differences = comparison.regressions
    model.baseline_improvements = comparison.improvements
    approve(model, committed, today=today)


def approve(model: ComplianceModel, committed: dict[str, Any] | None, *, today: date) -> None:
    """Mark each acknowledgment approved where the committed baseline records it, on every resource it accepts a
    finding on and with its kind and review date, and the date has not passed on `today`; then give the controls and the
    Security Hub suppressions the statuses that follow. With no baseline (`None`), nothing is approved. The model
    records `today`, the date review dates were judged on."""
    model.judged_on = today.isoformat()
    scopes = (committed or {}).get("scopes", {}) if (committed or {}).get("schema") == SCHEMA else {}
    acknowledged = _acknowledged(model.evaluations)
    kinds = _kinds(model)
    records = []
    for ack in model.acknowledgments:
        recorded = scopes.get(ack.scope, {}).get("acknowledgments", {}).get(_key(ack))
        approved = (
            recorded is not None
            and recorded.get("kind") == kinds[(ack.scope, _key(ack))]
            and recorded.get("review_by") == ack.review_by
            and _accepted_on(ack, acknowledged) <= set(recorded.get("resources", []))
            and not ack.overdue(today)
        )
        records.append(replace(ack, approved=approved))
    model.acknowledgments = records
    by_finding: dict[tuple[str, str], list[AcknowledgmentRecord]] = {}
    for record in records:
        by_finding.setdefault((record.scope, record.finding), []).append(record)
    model.suppressions = [
        replace(s, approved=_approved(s.finding, s.scope, s.path, by_finding)) for s in model.suppressions
    ]
    model.controls = controls_from(
        model.rules,
        model.evaluations,
        {c.control: c.runtime for c in model.controls if c.runtime},
        inherited_controls(model.inheritances),
        acknowledgments=records,
    )


def _approved(finding: str, scope: str, path: str, records: dict[tuple[str, str], list[AcknowledgmentRecord]]) -> bool:
    """Whether the acknowledgment that accepts `finding` on the resource at `path` is approved (`records`: by scope
    and finding id)."""
    candidates = [a for a in records.get((scope, finding), []) if path == a.path or path.startswith(a.path + "/")]
    nearest = max(candidates, key=lambda a: len(a.path), default=None)
    return nearest is not None and nearest.approved


def review(model: ComplianceModel, *, today: date) -> None:
    """Record in the model, one line each, the acknowledgments whose review date has passed on `today`, has none,
    or lies more than `MAX_REVIEW_DAYS` ahead: each fails the gate. The model records `today` too, so the reports
    say which date the review dates were judged on."""
    model.judged_on = today.isoformat()
    latest = today + timedelta(days=MAX_REVIEW_DAYS)
    lines: list[str] = []
    for ack in model.acknowledgments:
        if not ack.review_by:
            lines.append(f"{ack.name}: no review date")
        elif ack.overdue(today):
            lines.append(f"{ack.name}: to be reviewed by {ack.review_by}, which has passed ({today.isoformat()})")
        elif date.fromisoformat(ack.review_by) > latest:
            lines.append(
                f"{ack.name}: to be reviewed by {ack.review_by}, more than {MAX_REVIEW_DAYS} days after "
                f"{today.isoformat()}: review a deviation at least yearly"
            )
    model.review_overdue = lines
