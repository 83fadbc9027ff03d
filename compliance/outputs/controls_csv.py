"""controls.csv: one row per baseline control, for spreadsheets."""

from __future__ import annotations

import csv
import io

from compliance.model import (
    ComplianceModel,
)

CONTROLS = "controls.csv"


# `inherited_from`: the providers of an inherited control.
CSV_COLUMNS = (
    "control",
    "label",
    "title",
    "family",
    "status",
    "rules",
    "resources",
    "monitored_at_runtime",
    "inherited_from",
)


def render_controls_csv(model: ComplianceModel) -> str:
    """controls.csv: one row per control in model order, multi-valued cells joined with "; "."""
    buffer = io.StringIO()
    # "\n" rather than csv's default "\r\n": the file is committed and diffed alongside the other text reports.
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for control in model.controls:
        writer.writerow(
            [
                control.control,
                control.label,
                control.title,
                control.family,
                str(control.status),
                "; ".join(control.rules),
                "; ".join(control.resources),
                "; ".join(control.runtime),
                "; ".join(control.inherited_from),
            ]
        )
    return buffer.getvalue()
