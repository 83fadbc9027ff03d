"""What several report formats share: the tool's name, the scopes in report order and what each adds up to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from compliance.model import (
    AcknowledgmentKind,
    AcknowledgmentRecord,
    ComplianceModel,
    Evaluation,
    Status,
)

TOOL_NAME = "fedramp-monitoring-compliance"


@dataclass(frozen=True)
class ScopeCounts:
    """What one scope's evaluations add up to."""

    resources: int
    rules_evaluated: int
    compliant: int
    acknowledged: int
    non_compliant: int

    def to_json(self) -> dict[str, int]:
        return {
            "resources": self.resources,
            "rules_evaluated": self.rules_evaluated,
            "compliant": self.compliant,
            "acknowledged": self.acknowledged,
            "non_compliant": self.non_compliant,
        }


def scopes(model: ComplianceModel) -> list[str]:
    """`model.scopes` in order, then any scope only the evaluations name, so no evaluation goes uncounted."""
    extra = [e.scope for e in model.evaluations if e.scope not in model.scopes]
    return [*model.scopes, *dict.fromkeys(extra)]


def scope_counts(model: ComplianceModel) -> dict[str, ScopeCounts]:
    """Per scope, in report order: resources synthesized, distinct rules evaluated, and evaluations by status."""
    counts: dict[str, ScopeCounts] = {}
    for scope in scopes(model):
        evaluations = [e for e in model.evaluations if e.scope == scope]
        counts[scope] = ScopeCounts(
            resources=model.resources_per_scope.get(scope, 0),
            rules_evaluated=len({(e.pack, e.rule) for e in evaluations}),
            compliant=sum(e.status is Status.COMPLIANT for e in evaluations),
            acknowledged=sum(e.status is Status.ACKNOWLEDGED for e in evaluations),
            non_compliant=sum(e.status is Status.NON_COMPLIANT for e in evaluations),
        )
    return counts


@dataclass(frozen=True)
class KindCounts:
    """What the acknowledgments of one kind add up to."""

    acknowledgments: int
    approved: int
    awaiting_approval: int


def kind_heading(kind: AcknowledgmentKind) -> str:
    """A kind as a heading names the acknowledgments of it: "Operational requirements"."""
    return f"{str(kind).capitalize()}s"


def kind_counts(acknowledgments: Iterable[AcknowledgmentRecord]) -> dict[AcknowledgmentKind, KindCounts]:
    """Per kind, every kind (an empty one too) in the order of `AcknowledgmentKind`, the real deviations first:
    how many acknowledgments, how many the signed-off baseline approves, how many await its approval."""
    listed = list(acknowledgments)
    counts: dict[AcknowledgmentKind, KindCounts] = {}
    for kind in AcknowledgmentKind:
        members = [a for a in listed if a.kind is kind]
        counts[kind] = KindCounts(
            acknowledgments=len(members),
            approved=sum(a.approved for a in members),
            awaiting_approval=sum(a.awaiting_approval for a in members),
        )
    return counts


def group_evaluations(evaluations: Iterable[Evaluation]) -> dict[tuple[str, str, str], list[Evaluation]]:
    """Evaluations keyed by (scope, pack, rule), keys in order of first appearance."""
    groups: dict[tuple[str, str, str], list[Evaluation]] = {}
    for evaluation in evaluations:
        groups.setdefault((evaluation.scope, evaluation.pack, evaluation.rule), []).append(evaluation)
    return groups
