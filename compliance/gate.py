"""Read the validation report of a cloud assembly and decide whether the build may go on."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance import control_tower

if TYPE_CHECKING:
    from compliance.model import ComplianceModel

REPORT_FILE = "validation-report.json"


@dataclass(frozen=True)
class Finding:
    """One rule that one resource breaks and nobody has acknowledged."""

    plugin: str
    rule: str
    severity: str
    path: str
    message: str

    def line(self) -> str:
        return f"{self.rule} at {self.path}: {self.message}"


def findings(assembly_dir: str | Path, *, acknowledged: Collection[tuple[str, str]] = ()) -> list[Finding]:
    """Every unacknowledged finding in the assembly's validation report (all plugins, all severities).

    A missing report means no validation ran, which the gate treats as a failure
    rather than as a pass. The CDK applies acknowledgments to every plugin but Control
    Tower's, which cannot suppress: its findings are named `ControlTower::<control id>`
    and dropped here where `acknowledged` holds (finding, construct path), the pairs the
    compliance model accepted (`accepted_control_tower`).
    """
    report_path = Path(assembly_dir) / REPORT_FILE
    if not report_path.exists():
        return [Finding("compliance", "NoValidationReport", "error", str(report_path), "no validation report")]
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    result: list[Finding] = []
    for plugin in report.get("pluginReports", []):
        name = plugin.get("summary", {}).get("pluginName") or plugin.get("pluginName", "?")
        if plugin.get("summary", {}).get("metadata", {}).get("error"):
            result.append(Finding(name, "PluginFailed", "error", "-", str(plugin["summary"]["metadata"]["error"])))
        for violation in plugin.get("violations", []):
            rule = violation.get("ruleName", "?")
            if name == control_tower.PLUGIN_NAME:
                rule = control_tower.finding_of(violation.get("description", "")) or rule
            for resource in violation.get("violatingResources", violation.get("violatingConstructs", [])):
                if (rule, resource.get("constructPath") or "") in acknowledged:
                    continue
                result.append(
                    Finding(
                        plugin=name,
                        rule=rule,
                        severity=violation.get("severity", "error"),
                        path=resource.get("constructPath") or resource.get("resourceLogicalId", "?"),
                        message=violation.get("description", "").strip(),
                    )
                )
    return sorted(result, key=lambda f: (f.path, f.rule))


def accepted_control_tower(model: ComplianceModel) -> set[tuple[str, str]]:
    """(finding, construct path) of each Control Tower finding the model accepted through an acknowledgment."""
    from compliance.model import Status

    return {
        (e.finding, e.path)
        for e in model.evaluations
        if e.pack == control_tower.PACK and e.status is Status.ACKNOWLEDGED
    }


def claim_failures(model: ComplianceModel) -> list[Finding]:
    """One finding per check of an acknowledgment's compensating control that does not hold.

    Each names the acknowledgment (its finding and construct), the check, and the resource it was judged on.
    """
    result: list[Finding] = []
    for ack in model.acknowledgments:
        for check in ack.failed_checks if ack.checks else ():
            result.append(
                Finding(
                    plugin="compliance",
                    rule=f"CompensatingControl-{check.check}",
                    severity="error",
                    path=ack.path,
                    message=(
                        f"acknowledgment of {ack.finding} claims that {check.claim}, which does not hold for "
                        f"{check.subject or 'any resource'}: {check.evidence}"
                    ),
                )
            )
        if not ack.checks:
            result.append(
                Finding("compliance", "CompensatingControl", "error", ack.path, f"{ack.finding}: no checks ran")
            )
    return result


def baseline_failures(model: ComplianceModel) -> list[Finding]:
    """One finding per regression from the committed compliance baseline."""
    return [
        Finding("compliance", "Baseline", "error", model.baseline_file, line) for line in model.baseline_differences
    ]


def format_findings(items: list[Finding]) -> str:
    lines = [f"{len(items)} compliance finding(s) are neither fixed nor acknowledged:"]
    lines += [f"  {f.line()}" for f in items]
    lines.append("Fix each one, or acknowledge it with compliance.acknowledge(...) and an auditor-grade reason.")
    if any(f.rule == "Baseline" for f in items):
        lines.append(
            "A change to the compliance baseline is reviewed like code: `make baseline`, then commit the file."
        )
    return "\n".join(lines)
