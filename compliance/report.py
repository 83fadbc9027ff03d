"""The compliance report files of one run, written together from a `ComplianceModel` alone.

Each renderer owns one file and reads nothing but the model (`compliance.outputs`: one module per
format), so `make report` can rebuild every file from findings.json without synthesizing the app;
the Security Hub automation rules that carry the acknowledgments into Security Hub are
`compliance.outputs.securityhub_rules`'s.

The standard library and orjson only: this module must import without the CDK or jsii.
"""

from __future__ import annotations

from pathlib import Path

from compliance.model import (
    ComplianceModel,
)
from compliance.outputs.common import indented_json
from compliance.outputs.controls_csv import CONTROLS, render_controls_csv
from compliance.outputs.findings_json import FINDINGS, render_findings_json
from compliance.outputs.html import HTML, render_html
from compliance.outputs.junit import JUNIT, render_junit
from compliance.outputs.markdown import MARKDOWN, render_markdown
from compliance.outputs.sarif import SARIF, render_sarif
from compliance.outputs.securityhub_rules import DOCUMENT_FILE, render_document


def write_reports(model: ComplianceModel, directory: Path) -> list[Path]:
    """Write the report files into `directory` (created if missing); return their paths in a fixed order."""
    directory.mkdir(parents=True, exist_ok=True)
    contents = {
        FINDINGS: render_findings_json(model) + "\n",
        CONTROLS: render_controls_csv(model),
        MARKDOWN: render_markdown(model),
        HTML: render_html(model),
        SARIF: indented_json(render_sarif(model)) + "\n",
        JUNIT: render_junit(model),
        DOCUMENT_FILE: render_document(model),
    }
    paths: list[Path] = []
    for name, text in contents.items():
        path = directory / name
        # Fixed "\n" line endings, so the files are byte-identical whichever OS rebuilds them.
        path.write_text(text, encoding="utf-8", newline="\n")
        paths.append(path)
    return paths
