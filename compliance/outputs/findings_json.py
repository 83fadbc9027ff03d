"""findings.json: the whole model, headed by a summary and a nested view; and the model read back from it."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from compliance.model import (
    ComplianceModel,
)
from compliance.outputs.common import group_evaluations, indented_json, scope_counts, scopes

# The report files, by name (written into the assembly's report directory, `compliance.assembly`).
FINDINGS = "findings.json"


FINDINGS_SCHEMA = "fedramp-monitoring/compliance-findings/1"


def findings_by_scope(model: ComplianceModel) -> dict[str, dict[str, dict[str, list[dict[str, str]]]]]:
    """Evaluations nested as scope -> pack -> rule -> resources, for readers who browse rather than query.

    Every scope appears, even one with no evaluations, so an empty scope reads as empty rather than missing.
    """
    nested: dict[str, dict[str, dict[str, list[dict[str, str]]]]] = {scope: {} for scope in scopes(model)}
    for (scope, pack, rule), evaluations in group_evaluations(model.evaluations).items():
        nested[scope].setdefault(pack, {})[rule] = [
            {
                "path": e.path,
                "resource_type": e.resource_type,
                "status": str(e.status),
                "finding": e.finding,
                "message": e.message,
                "reason": e.reason,
            }
            for e in evaluations
        ]
    return nested


def render_findings_json(model: ComplianceModel) -> str:
    """findings.json: the whole model (what `ComplianceModel.from_json` reads back), headed by a summary.

    The header keys are extra to the model's own, and `from_json` ignores them, so the file stays the
    single source from which every other report can be rebuilt. The model's fields are written as
    `ComplianceModel.to_json` gives them, without copying the model into dictionaries first.
    """
    document: dict[str, Any] = {
        "schema": FINDINGS_SCHEMA,
        "summary": {scope: counts.to_json() for scope, counts in scope_counts(model).items()},
        "by_scope": findings_by_scope(model),
        **{field.name: getattr(model, field.name) for field in fields(model)},
    }
    return indented_json(document)


def read_model(directory: Path) -> ComplianceModel | None:
    """The model a synth wrote into `directory` as findings.json; None where there is none."""
    path = directory / FINDINGS
    if not path.exists():
        return None
    return ComplianceModel.from_json(json.loads(path.read_text(encoding="utf-8")))
