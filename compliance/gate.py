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


# What `findings` reports when no pack could: a plugin that failed, a synth that wrote no validation report.
_RUN_FAILURES = frozenset({"PluginFailed", "NoValidationReport"})


def synth_errors(found: list[Finding]) -> list[str]:
    """The open findings of `found` that no pack reports, so the compliance model holds no evaluation of them: the
    CDK's annotations (its validation report lists errors and warnings under the plugin `Construct Annotations`; the
    gate fails on both), a plugin that failed, no validation report. One line each, with its severity, as the
    reports list them beside the model's own open findings."""
    outside = [f for f in found if f.rule in _RUN_FAILURES or report_pack(f.plugin) is None]
    return [f"{f.plugin} ({f.severity}): {f.line()}" for f in outside]


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


def review_failures(model: ComplianceModel) -> list[Finding]:
    """One finding per acknowledgment past its review date (or without one, or dated more than a year ahead)."""
    # Each line starts "<finding> on <construct path>: "; the finding is named again in the message.
    return [
        Finding("compliance", "ReviewDate", "error", line.split(": ", 1)[0].split(" on ", 1)[-1], line)
        for line in model.review_overdue
    ]


@dataclass(frozen=True)
class FailureKind:
    """One of the four ways the gate fails, with what to do about it."""

    singular: str
    plural: str
    advice: str

    def count(self, n: int) -> str:
        return f"{n} {self.singular if n == 1 else self.plural}"


BASELINE = FailureKind(
    "baseline difference",
    "baseline differences",
    "This run differs from the committed compliance baseline ({file}). Expected after adding, renaming or removing "
    "an environment, moving a stage into or out of the pipeline's region, or changing approval, protect_data or "
    "account_baseline: review the lines below, then run `make baseline` and commit the baseline together with the "
    "change. Not expected: fix the code.",
)
OPEN = FailureKind(
    "open finding",
    "open findings",
    "Findings that are neither fixed nor acknowledged: fix each one, or acknowledge it with "
    "compliance.acknowledge(...) and an auditor-grade reason.",
)
CLAIM = FailureKind(
    "compensating control that does not hold",
    "compensating controls that do not hold",
    "Acknowledgments whose compensating control does not hold in the synthesized templates: fix the resource, or "
    "correct the acknowledgment.",
)
REVIEW = FailureKind(
    "acknowledgment due for review",
    "acknowledgments due for review",
    "Acknowledgments whose review date has passed (or that have none, or one more than a year ahead): review each "
    "deviation, then fix the resource or set a new review_by on the acknowledgment, and record it with `make "
    "baseline` so the reviewed baseline approves it again.",
)
KINDS = (BASELINE, OPEN, CLAIM, REVIEW)  # the order the gate prints them in


def kind_of(finding: Finding) -> FailureKind:
    """Which of the four kinds a finding is."""
    if finding.rule == "Baseline":
        return BASELINE
    if finding.rule.startswith("CompensatingControl"):
        return CLAIM
    if finding.rule == "ReviewDate":
        return REVIEW
    return OPEN


def counts(items: list[Finding]) -> str:
    """Each kind counted, e.g. '0 open findings, 0 compensating controls that do not hold, 0 acknowledgments due for
    review, 86 baseline differences'."""
    kinds = [kind_of(f) for f in items]
    return ", ".join(kind.count(kinds.count(kind)) for kind in (OPEN, CLAIM, REVIEW, BASELINE))


def format_findings(items: list[Finding]) -> str:
    """The gate's message: its first line says which kinds of failure there are, its last counts each kind."""
    by_kind = {kind: [f for f in items if kind_of(f) == kind] for kind in KINDS}
    present = [kind for kind in KINDS if by_kind[kind]]
    lines = ["Compliance gate FAILED: " + ", ".join(kind.count(len(by_kind[kind])) for kind in present) + "."]
    for kind in present:
        found = by_kind[kind]
        lines += ["", kind.advice.format(file=found[0].path)]
        lines += [f"  {f.message}" if kind in (BASELINE, REVIEW) else f"  {f.line()}" for f in found]
    lines += ["", f"Compliance gate: FAIL ({counts(items)})"]
    return "\n".join(lines)
