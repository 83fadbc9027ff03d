"""controls.csv: one row per baseline control, for spreadsheets."""

from __future__ import annotations

import csv
import io

from compliance.model import (
    AcknowledgmentKind,
    ComplianceModel,
)

CONTROLS = "controls.csv"


# `assessment`: satisfied, partial, not satisfied, not assessed or inherited (what the status says);
# `objectives`: the control or objective ids the rules evidence (compliance/data/control-evidence.tsv);
# `deviations`: the acknowledgments behind a deviation status; `inherited_from`: the providers of an inherited control;
# `deviation_kinds`: the kinds of those acknowledgments (operational requirement, tool false positive, generated
# construct), each once, the real deviations first.
CSV_COLUMNS = (
    "control",
    "label",
    "title",
    "family",
    "status",
    "assessment",
    "rules",
    "objectives",
    "resources",
    "deviations",
    "monitored_at_runtime",
    "inherited_from",
    "deviation_kinds",
)


def render_controls_csv(model: ComplianceModel) -> str:
    """controls.csv: one row per control in model order, multi-valued cells joined with "; "."""
    buffer = io.StringIO()
    # "\n" rather than csv's default "\r\n": the file is committed and diffed alongside the other text reports.
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    kinds = {a.name: a.kind for a in model.acknowledgments}
    for control in model.controls:
        declared = {kinds[name] for name in control.deviations if name in kinds}
        writer.writerow(
            [
                control.control,
                control.label,
                control.title,
                control.family,
                str(control.status),
                str(control.status.assessment),
                "; ".join(control.rules),
                "; ".join(control.objectives),
                "; ".join(control.resources),
                "; ".join(control.deviations),
                "; ".join(control.runtime),
                "; ".join(control.inherited_from),
                "; ".join(str(kind) for kind in AcknowledgmentKind if kind in declared),
            ]
        )
    return buffer.getvalue()
