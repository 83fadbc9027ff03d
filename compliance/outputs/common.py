"""What several report formats share: the tool's name, the scopes in report order and what each adds up to, and
the indented JSON the JSON formats are written as."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from compliance.model import (
    AcknowledgmentKind,
    AcknowledgmentRecord,
    ComplianceModel,
    Evaluation,
    Status,
)

TOOL_NAME = "fedramp-monitoring-compliance"
# What `json.dumps` escapes beyond what orjson does: every character outside printable ASCII (control characters
# orjson escapes itself, as `json.dumps` does).
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x00-\x7e]")


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
    known = set(model.scopes)
    extra = [e.scope for e in model.evaluations if e.scope not in known]
    return [*model.scopes, *dict.fromkeys(extra)]


def scope_counts(model: ComplianceModel) -> dict[str, ScopeCounts]:
    """Per scope, in report order: resources synthesized, distinct rules evaluated, and evaluations by status."""
    by_scope: dict[str, list[Evaluation]] = {}
    for evaluation in model.evaluations:
        by_scope.setdefault(evaluation.scope, []).append(evaluation)
    counts: dict[str, ScopeCounts] = {}
    for scope in scopes(model):
        evaluations = by_scope.get(scope, [])
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


def indented_json(document: Any) -> str:
    """`json.dumps(document, indent=2)`, byte for byte, a dataclass in it as `dataclasses.asdict` gives it (its fields
    in order) and an enum as its value: written by orjson, several times faster than the standard library's
    indenting encoder, which is pure Python."""
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8")
    return _NOT_PRINTABLE_ASCII.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    """A character as `json.dumps` escapes it by default: `\\uXXXX`, a UTF-16 surrogate pair beyond the BMP."""
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"
