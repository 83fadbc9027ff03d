"""Read the validation report of a cloud assembly and decide whether the build may go on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.assembly import CloudAssembly
from compliance.packs import report_pack

if TYPE_CHECKING:
    from compliance.model import ComplianceModel


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


def findings(assembly_dir: str | Path | CloudAssembly) -> list[Finding]:
    """Every unacknowledged finding in the assembly's validation report (all plugins, all severities).

    A missing report means no validation ran, which the gate treats as a failure
    rather than as a pass. A finding of a pack read from the report is named by its finding id
    (`ControlTower::CT.S3.PR.4`, `CloudFormation-Validate::W3010`). The CDK has applied every
    acknowledgment already (`compliance.acknowledge`), so what is left in a plugin's violations is open.
    """
    assembly = CloudAssembly.of(assembly_dir)
    reports = assembly.plugin_reports
    if reports is None:
        path = str(assembly.validation_report_file)
        return [Finding("compliance", "NoValidationReport", "error", path, "no validation report")]
    result: list[Finding] = []
    for plugin in reports:
        if plugin.error:
            result.append(Finding(plugin.plugin, "PluginFailed", "error", "-", plugin.error))
        pack = report_pack(plugin.plugin)
        for violation in plugin.violations:
            rule = pack.finding(violation)[0] if pack is not None else violation.rule
            message = violation.description.strip()
            result.append(Finding(plugin.plugin, rule, violation.severity, violation.where, message))
    return sorted(result, key=lambda f: (f.path, f.rule))


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
