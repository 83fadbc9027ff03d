"""What several report formats share: the tool's name, the scopes in report order and what each adds up to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from compliance.model import (
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


def group_evaluations(evaluations: Iterable[Evaluation]) -> dict[tuple[str, str, str], list[Evaluation]]:
    """Evaluations keyed by (scope, pack, rule), keys in order of first appearance."""
    groups: dict[tuple[str, str, str], list[Evaluation]] = {}
    for evaluation in evaluations:
        groups.setdefault((evaluation.scope, evaluation.pack, evaluation.rule), []).append(evaluation)
    return groups
