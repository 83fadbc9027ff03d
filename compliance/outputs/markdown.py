"""report.md: the human summary, for a browser or a pull request."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from compliance import control_tower
from compliance.model import (
    AcknowledgmentKind,
    AcknowledgmentRecord,
    Assessment,
    ComplianceModel,
    ControlStatus,
    Evaluation,
    Inheritance,
    RuntimeOutcome,
    Status,
    acknowledgments_by_name,
)
from compliance.outputs.attention import (
    AWAITING_APPROVAL,
    BASELINE,
    DUE_FOR_REVIEW,
    OPEN_FINDINGS,
    Line,
    Span,
    attention,
    awaiting_approval,
    date_note,
)
from compliance.outputs.common import kind_counts, kind_heading, scope_counts, scopes
from compliance.outputs.securityhub_rules import DOCUMENT_FILE, automation_rules_document
from compliance.securityhub import RULES_PER_REGION

MARKDOWN = "report.md"


# A control's rules are listed up to this many; the rest are counted (controls.csv lists them all).
MAX_RULES_SHOWN = 5


# Prose in report.md is wrapped here, so no line needs a reader to scroll sideways.
WIDTH = 100


# The per-family summary's column per assessment, in the order of the assessments.
ASSESSMENT_COLUMNS = {
    Assessment.SATISFIED: "Satisfied",
    Assessment.PARTIAL: "Partial",
    Assessment.NOT_SATISFIED: "Not satisfied",
    Assessment.NOT_ASSESSED: "Not assessed",
    Assessment.INHERITED: "Inherited",
}


# What each status means, as the summary says it under the table.
STATUS_MEANINGS = (
    "Satisfied (evidenced at synth): a rule the reviewed mapping (compliance/data/control-evidence.tsv) says "
    "evidences the control's technical part passed on a resource, and nothing of the control fails or is "
    "acknowledged. Partial: such a rule passed, and an acknowledged finding or an acknowledgment that names the "
    "control stands beside it. Not satisfied: only acknowledged findings or acknowledgments (a deviation), or an "
    "open finding (failing). A deviation is requested until the signed-off baseline records its acknowledgment, "
    "approved once it does. Not assessed: no rule of the mapping evaluated anything; policies, plans, training, "
    "personnel and physical controls are never evidenced at synth."
)


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell: an unescaped "|" would end the cell, a newline the row."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    """Inline code for ids and paths, whose "*", "_" and "[" would otherwise render as markup."""
    if not text:
        return ""
    # A backtick inside needs a longer fence, padded so a leading or trailing backtick is not taken for it.
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _table(header: list[str], rows: Iterable[list[str]], align: list[str] | None = None) -> list[str]:
    """A markdown table; `align` holds "l" or "r" per column (numbers read best right-aligned)."""
    rules = ["---:" if a == "r" else "---" for a in (align or ["l"] * len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rules) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _wrap(text: str, *, indent: str = "", first: str = "") -> list[str]:
    """`text` as lines of at most WIDTH characters (ids and paths are never split)."""
    return textwrap.wrap(
        " ".join(text.split()),
        width=WIDTH,
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def _rules_text(rules: tuple[str, ...]) -> str:
    """Rule ids of a control, cut to the first few so a heavily cited control stays short."""
    shown = ", ".join(_code(rule) for rule in rules[:MAX_RULES_SHOWN])
    hidden = len(rules) - MAX_RULES_SHOWN
    return f"{shown} and {hidden} more" if hidden > 0 else shown


def verdict_line(model: ComplianceModel) -> str:
    """The report's first sentence: the synth gate's verdict and what it rests on. It names the gate, not an
    authorization: a pass says this synth may deploy, never that the system is ready to be authorized. Where the
    review dates were judged on another date than the run's, it says so: what is due and approved follows from it."""
    checks = [c for a in model.acknowledgments for c in a.checks]
    failed = len(model.failed_checks)
    parts = [
        *([f"{len(model.synth_errors)} synth error(s)"] if model.synth_errors else []),
        f"{len(model.open_findings)} open finding(s)",
        f"{len(model.acknowledgments)} acknowledgment(s) with {len(checks)} compensating check(s), "
        + ("all hold" if not failed else f"{failed} do not hold"),
    ]
    if model.review_overdue:
        parts.append(f"{len(model.review_overdue)} acknowledgment(s) due for review")
    if model.baseline_file:
        changes = len(model.baseline_differences)
        parts.append("compliance baseline as committed" if not changes else f"{changes} change(s) from the baseline")
    else:
        parts.append("no compliance baseline compared")
    parts.append(f"cfn-lint {model.cfn_lint}" if model.cfn_lint else "cfn-lint not run by this synth")
    if note := date_note(model):
        parts.append(note)
    return (
        f"**Synth gate: {'PASS' if model.passed else 'FAIL'}** (the compliance gate of this synth, not an "
        "authorization). " + "; ".join(parts) + "."
    )


# Where report.md's first section links to, by `attention`'s section keys: the anchors GitHub gives these headings.
ANCHORS = {
    OPEN_FINDINGS: "open-findings",  # "## Open findings"
    AWAITING_APPROVAL: "approval-of-deviations",  # "### Approval of deviations"
    BASELINE: "compliance-baseline",  # "### Compliance baseline"
    DUE_FOR_REVIEW: "acknowledgments-due-for-review",  # "### Acknowledgments due for review"
}


def _span(span: Span) -> str:
    if span.code:
        return _code(span.text)
    if span.link:
        return f"[{span.text}](#{ANCHORS[span.link]})"
    return f"**{span.text}**" if span.strong else span.text


def _spans(line: Line) -> str:
    return "".join(_span(s) for s in line)


def _attention_section(model: ComplianceModel) -> list[str]:
    """What needs attention (`compliance.outputs.attention`): one screen, right under the verdict."""
    lines = ["## What needs attention", ""]
    for block in attention(model):
        lines += _wrap(_spans(block.lead))
        lines += [""] if block.items else []
        for item in block.items:
            lines += _wrap(_spans(item.line), first="- ", indent="  ")
            for sub in item.items:
                lines += _wrap(_spans(sub), first="  - ", indent="    ")
        lines += [""]
    return lines


def _open_findings_section(model: ComplianceModel) -> list[str]:
    """Every open finding: what fails the gate until its resource is fixed or an acknowledgment accepts it."""
    found = model.open_findings
    lines = ["## Open findings", ""]
    if model.synth_errors:
        lines += _wrap(
            f"{len(model.synth_errors)} synth error(s), outside the packs, each failing the gate: a construct's "
            "annotation (an error, or a warning, which fails the gate too), a validation plugin that failed, or no "
            "validation report:"
        )
        lines += ["", *(line for e in model.synth_errors for line in _wrap(e, first="- ", indent="  ")), ""]
    if not found:
        return [*lines, "None: no finding of a pack is open."]
    lines += _wrap(
        f"{len(found)} finding(s), each failing the gate until the resource is fixed or an acknowledgment whose "
        "compensating control holds accepts it:"
    )
    lines += [""]
    for e in found:
        lines += _wrap(f"{e.scope}: {_code(e.finding)} on {_code(e.path)}: {e.message}", first="- ", indent="  ")
    return lines


def _run_section(model: ComplianceModel) -> list[str]:
    run = model.run
    lines = ["## This run", ""]
    if run is None:
        return [*lines, "Not recorded: this report was built without the run's identity.", ""]
    if run.system is not None:
        lines += _wrap(f"System: {run.system.summary}", first="- ", indent="  ")
    lines += [
        f"- Commit: {_code(run.commit)} ({run.commit_source})",
        f"- Configuration: {_code(run.config_file)}",
        f"- Configuration sha256: {_code(run.config_sha256)}",
        f"- Pipeline: account {_code(run.pipeline_account)}, region {_code(run.pipeline_region)}",
    ]
    for stage, where in run.stages.items():
        account, _, region = where.partition(" ")
        lines.append(f"- {stage}: account {_code(account)}, region {_code(region)}")
    tools = "; ".join(f"{tool} {version}" for tool, version in run.tools.items())
    lines += _wrap(f"Tools: {tools}", first="- ", indent="  ")
    lines += [f"- Time: {run.time}", ""]
    return lines


def _summary_section(model: ComplianceModel) -> list[str]:
    counts = scope_counts(model)
    lines = ["## Summary", "", "### Evaluations per scope", ""]
    lines += _table(
        ["Scope", "Resources", "Rules evaluated", "Pass", "Acknowledged", "Failing"],
        (
            [
                _cell(scope),
                str(c.resources),
                str(c.rules_evaluated),
                str(c.compliant),
                str(c.acknowledged),
                str(c.non_compliant),
            ]
            for scope, c in counts.items()
        ),
        ["l", "r", "r", "r", "r", "r"],
    )
    lines += [""]
    lines += _wrap(
        "Pass: a resource of a type the rule reads, with no finding of that rule. Preflight's rules say when "
        "they do not apply, and such a resource is no pass; cdk-nag's packs and Control Tower's report findings "
        "only, so a resource their rule does not apply to (AwsSolutions-S5, about static websites, on a bucket "
        "without one; a control whose conditions the resource does not meet) counts as a pass."
    )
    lines += _kinds_lines(model)

    statuses = _statuses(model)
    by_status = {status: sum(c.status is status for c in model.controls) for status in statuses}
    runtime = [c for c in model.controls if c.runtime]
    beyond = [c for c in runtime if c.status is ControlStatus.NOT_CHECKED]
    lines += ["", f"### Controls ({len(model.controls)} in the FedRAMP Moderate baseline)", ""]
    lines += _table(
        ["Status at synth", "Assessment", "Controls"],
        ([str(status), str(status.assessment), str(count)] for status, count in by_status.items()),
        ["l", "l", "r"],
    )
    lines += ["", *_wrap(STATUS_MEANINGS), ""]
    lines += _wrap(
        f"Monitored at runtime, counted apart from the statuses above: {len(runtime)} control(s) watched by "
        f"AWS Config rules of an account baseline, {len(beyond)} of them not checked at synth."
    )

    assessments = tuple(dict.fromkeys(s.assessment for s in statuses))
    families: dict[str, dict[str, int]] = {}
    for control in model.controls:
        tally = families.setdefault(control.family, dict.fromkeys((*assessments, "runtime", "total"), 0))
        tally[control.status.assessment] += 1
        tally["runtime"] += bool(control.runtime)
        tally["total"] += 1
    lines += ["", "### Controls per family", ""]
    lines += _table(
        ["Family", *(ASSESSMENT_COLUMNS[a] for a in assessments), "Runtime", "Total"],
        (
            [
                _cell(family),
                *(str(t[k]) for k in (*assessments, "runtime", "total")),
            ]
            for family, t in families.items()
        ),
        ["l", *("r" for _ in assessments), "r", "r"],
    )
    lines += _baseline_lines(model)
    if model.runtime_services:
        lines += ["", "### Runtime controls per scope", ""]
        for scope, services in model.runtime_services.items():
            skipped = model.runtime_skipped.get(scope, [])
            note = f"; not offered in its region, skipped: {', '.join(skipped)}" if skipped else ""
            lines += _wrap(f"{scope}: {', '.join(services)}{note}", first="- ", indent="  ")
    return lines


def _kinds_lines(model: ComplianceModel) -> list[str]:
    """The acknowledgments per kind, the real deviations first: how many, approved, awaiting approval."""
    lines = ["", "### Kinds of acknowledgment", ""]
    lines += _table(
        ["Kind", "Acknowledgments", "Approved", "Awaiting approval"],
        (
            [str(kind), str(c.acknowledgments), str(c.approved), str(c.awaiting_approval)]
            for kind, c in kind_counts(model.acknowledgments).items()
        ),
        ["l", "r", "r", "r"],
    )
    lines += [""]
    lines += _wrap(
        "Operational requirements are the real deviations an authorizing official weighs; each kind is defined "
        "under Acknowledgments. Awaiting approval: an acknowledgment that accepts a finding and that the "
        "signed-off baseline does not record as it is."
    )
    return lines


def _statuses(model: ComplianceModel) -> tuple[ControlStatus, ...]:
    """The statuses the summary counts: inherited only in an app where a control has it (it needs a landing zone)."""
    inherited = any(c.status is ControlStatus.INHERITED for c in model.controls)
    return tuple(s for s in ControlStatus if s is not ControlStatus.INHERITED or inherited)


def _inherited_section(model: ComplianceModel) -> list[str]:
    """Per service and provider: the stages that leave the service to it, and the controls they inherit."""
    lines = ["## Inherited", ""]
    if not model.inheritances:
        return [*lines, *_wrap("No stage leaves a service of its account baseline to a landing zone.")]
    lines += _wrap(
        "Services of the account baseline that a stage leaves to its landing zone (`account_baseline: {<service>: "
        "{inherited_from: <provider>}}`): this app does not deploy them there. A control that only the service's "
        "own resources would evidence (compliance/data/inherited-controls.tsv), and that no rule evidences in "
        "the stage, is inherited from the provider: the provider's responsibility, never counted as evidenced."
    )
    groups: dict[tuple[str, str], list[Inheritance]] = {}
    for inheritance in model.inheritances:
        groups.setdefault((inheritance.service, inheritance.provider), []).append(inheritance)
    labels = {c.control: c.label for c in model.controls}
    lines += [""]
    for (service, provider), members in groups.items():
        inherited = {control for m in members for control in m.controls}
        controls = [labels[c] for c in labels if c in inherited] + sorted(inherited - labels.keys())
        lines += _wrap(
            f"{_code(service)} from {provider}, in {', '.join(m.scope for m in members)}: "
            + (", ".join(controls) or "no control (every one is evidenced there, or the service evidences none)"),
            first="- ",
            indent="  ",
        )
    return lines


def _approval_lines(model: ComplianceModel) -> list[str]:
    """What approves this run's deviations, and what that record is not."""
    approval = model.approval
    approved = sum(a.approved for a in model.acknowledgments)
    lines = []
    if model.review_overdue:
        lines += ["", "### Acknowledgments due for review", ""]
        lines += _wrap("Each fails the gate until it is reviewed and given a new date (review_by), or removed:")
        lines += [""]
        for line in model.review_overdue:
            lines += _wrap(line, first="- ", indent="  ")
    lines += ["", "### Approval of deviations", ""]
    if approval is None:
        return [
            *lines,
            *_wrap(
                f"No signed-off baseline was compared: none of the {len(model.acknowledgments)} acknowledgment(s) "
                "is an approved deviation."
            ),
        ]
    commit = f"commit {_code(approval.commit)}" if approval.commit else "no commit known"
    when = f", committed {approval.committed} by {approval.author}" if approval.committed else ""
    reviewers = ", ".join(approval.reviewers) or "none (CODEOWNERS names no owner for it)"
    lines += _wrap(
        f"{approved} of {len(model.acknowledgments)} acknowledgment(s) are approved deviations: the signed-off "
        f"baseline {_code(approval.baseline)} records each, on every resource it accepts a finding on and with its "
        f"kind and review date. The record is {commit}{when} ({approval.source}); its code owners, whose review branch "
        f"protection requires: {reviewers}. It is not a signature: git records who committed, not who approved "
        "the pull request, which the repository's host keeps."
    )
    awaiting = awaiting_approval(model)
    if awaiting:
        lines += ["", *_wrap(f"Awaiting approval ({len(awaiting)}):"), ""]
        for ack in awaiting:
            lines += _wrap(f"{_code(ack.finding)} on {_code(ack.path)}", first="- ", indent="  ")
    return lines


def _baseline_lines(model: ComplianceModel) -> list[str]:
    """How this run compares with the committed compliance baseline."""
    if not model.baseline_file:
        return _approval_lines(model)
    lines = [*_approval_lines(model), "", "### Compliance baseline", ""]
    if not model.baseline_differences and not model.baseline_improvements:
        return [
            *lines,
            *_wrap(f"As committed in {_code(model.baseline_file)}: no control lost, no acknowledgment added."),
        ]
    if model.baseline_differences:
        lines += _wrap(f"Changes from {_code(model.baseline_file)} that fail the gate until the baseline records them:")
        lines += [""]
        for difference in model.baseline_differences:
            lines += _wrap(difference, first="- ", indent="  ")
    if model.baseline_improvements:
        lines += ["", *_wrap("Improvements the baseline does not record yet (`make baseline` records them):"), ""]
        for improvement in model.baseline_improvements:
            lines += _wrap(improvement, first="- ", indent="  ")
    return lines


@dataclass(frozen=True)
class AcknowledgmentGroup:
    """Acknowledgments of the same kind and finding with the same reason and checks, on many resources (generated
    roles)."""

    kind: AcknowledgmentKind
    finding: str
    reason: str
    compensating_control: str
    controls: tuple[str, ...]
    members: tuple[AcknowledgmentRecord, ...]

    @property
    def scopes(self) -> list[str]:
        return list(dict.fromkeys(m.scope for m in self.members))


def group_acknowledgments(model: ComplianceModel) -> list[AcknowledgmentGroup]:
    """Acknowledgments grouped by kind, finding, reason, compensating control and controls: the kinds in the order of
    `AcknowledgmentKind` (operational requirements first), and within a kind the groups in order of first use."""
    groups: dict[tuple[AcknowledgmentKind, str, str, str, tuple[str, ...]], list[AcknowledgmentRecord]] = {}
    for ack in model.acknowledgments:
        groups.setdefault((ack.kind, ack.finding, ack.reason, ack.compensating_control, ack.controls), []).append(ack)
    order = list(AcknowledgmentKind)
    found = [AcknowledgmentGroup(*key, members=tuple(members)) for key, members in groups.items()]
    return sorted(found, key=lambda group: order.index(group.kind))


def _acknowledgments_section(model: ComplianceModel) -> list[str]:
    groups = group_acknowledgments(model)
    lines = [f"## Acknowledgments ({len(model.acknowledgments)}, in {len(groups)} groups)", ""]
    if not groups:
        return [*lines, "No findings are acknowledged."]
    lines += _wrap(
        "By kind, the real deviations first: operational requirements, then tool false positives, then findings on "
        "generated constructs. Within a kind, each group is one finding accepted with the same reason and the same "
        "compensating control on one or more resources. The compensating control is a set of checks run against "
        "the synthesized templates; findings.json records each check's result on each resource."
    )
    number = 0
    for kind, counts in kind_counts(model.acknowledgments).items():
        of_kind = [g for g in groups if g.kind is kind]
        lines += ["", f"### {kind_heading(kind)} ({counts.acknowledgments}, in {len(of_kind)} groups)", ""]
        lines += _wrap(f"{kind.definition} {counts.approved} approved, {counts.awaiting_approval} awaiting approval.")
        for group in of_kind:
            number += 1
            lines += _group_lines(number, group)
    return lines + _stale_and_differences_lines(model)


def _group_lines(number: int, group: AcknowledgmentGroup) -> list[str]:
    """One group of acknowledgments: its finding, where, its status, its reason, its compensating control."""
    lines: list[str] = []
    checks = [c for m in group.members for c in m.checks]
    failed = [(m, c) for m in group.members for c in m.failed_checks]
    held = "all hold" if not failed else f"**{len(failed)} do not hold**"
    where = ", ".join(group.scopes)
    count = len(group.members)
    lines += [""]
    # The finding id is never split (an auditor copies it), so it stands alone on its line.
    lines += [f"**{number}.** {_code(group.finding)}", ""]
    approved = sum(m.approved for m in group.members)
    review = min((m.review_by for m in group.members), default="") or "not set"
    state = (
        "deviation approved"
        if approved == count
        else f"deviation requested ({approved} of {count} approved)"
        if approved
        else "deviation requested"
    )
    lines += _wrap(
        f"In {where}, {count} resource{'s' if count > 1 else ''}; NIST 800-53 {', '.join(group.controls)}; "
        f"{state}; review by {review}."
    )
    lines += [""]
    lines += _wrap(f"Reason: {group.reason}")
    lines += [""]
    lines += _wrap(
        f"Compensating control, checked at synth ({len(checks)} checks, {held}): {group.compensating_control}."
    )
    for member, check in failed:
        lines += _wrap(
            f"does not hold: {check.check} on {_code(check.subject or member.path)}: {check.evidence}",
            first="- ",
            indent="  ",
        )
    if count == 1:
        lines += ["", f"On {_code(group.members[0].path)}"]
    else:
        lines += ["", f"<details><summary>The {count} resources</summary>", ""]
        lines += [f"- {_code(m.path)}" for m in group.members]
        lines += ["", "</details>"]
    return lines


def _stale_and_differences_lines(model: ComplianceModel) -> list[str]:
    """The acknowledgments that matched nothing, and where the first stage acknowledges more than the last."""
    lines: list[str] = []
    stale = [a for a in model.acknowledgments if a.matched == 0]
    if stale:
        # A stale acknowledgment accepts nothing today but would silently accept a future finding: list it to remove.
        lines += ["", "### Stale acknowledgments (matched no finding)", ""]
        for a in stale:
            lines += _wrap(f"{a.scope}: {_code(a.path)} acknowledges {_code(a.finding)}", first="- ", indent="  ")

    if model.config_differences:
        stages = model.scopes[1:]
        first, rest = stages[0], " and ".join(stages[1:]) or "the later stages"
        lines += ["", f"### Where {first} differs from {rest}", ""]
        for difference in model.config_differences:
            lines += _wrap(difference, first="- ", indent="  ")
    return lines


@dataclass(frozen=True)
class ControlToDisable:
    """A Control Tower control whose acknowledged findings fail its hook where an organisational unit enables it."""

    control: str  # "CT.S3.PR.4"
    scope: str  # "Pipeline", "Prod"
    where: str  # "account region" the scope deploys to ("" where the run does not say)
    paths: tuple[str, ...]
    reasons: tuple[str, ...]


def controls_to_disable(model: ComplianceModel) -> list[ControlToDisable]:
    """Acknowledged Control Tower findings, per control and scope, except those the hook passes at deploy.

    An acknowledgment whose compensating control includes a check that the resource reads differently at deploy
    (`ResolvedAtDeploy`, a cross-stack reference) and holds is not listed: the hook sees the resolved value.
    """
    passes_at_deploy = {
        a.name for a in model.acknowledgments if any(c.resolves_at_deploy and c.holds for c in a.checks)
    }
    grouped: dict[tuple[str, str], list[Evaluation]] = {}
    for e in model.evaluations:
        if e.pack != control_tower.PACK or e.status is not Status.ACKNOWLEDGED:
            continue
        if e.acknowledgment in passes_at_deploy:
            continue
        grouped.setdefault((e.finding.removeprefix(control_tower.FINDING_PREFIX), e.scope), []).append(e)
    stages = model.run.stages if model.run else {}
    pipeline = f"{model.run.pipeline_account} {model.run.pipeline_region}" if model.run else ""
    acknowledgments = acknowledgments_by_name(model.acknowledgments)
    order = {scope: n for n, scope in enumerate(scopes(model))}
    return [
        ControlToDisable(
            control=control,
            scope=scope,
            where=pipeline if scope == "Pipeline" else stages.get(scope, ""),
            paths=tuple(e.path for e in items),
            reasons=tuple(dict.fromkeys(_reason(acknowledgments, e) for e in items)),
        )
        for (control, scope), items in sorted(grouped.items(), key=lambda kv: (kv[0][0], order[kv[0][1]]))
    ]


def _reason(acknowledgments: dict[str, AcknowledgmentRecord], evaluation: Evaluation) -> str:
    """The reason of the acknowledgment that accepted `evaluation` (`acknowledgments`: by name), as it was written."""
    accepted_by = acknowledgments.get(evaluation.acknowledgment)
    return accepted_by.reason if accepted_by is not None else evaluation.reason


def _control_tower_section(model: ComplianceModel) -> list[str]:
    ran = [r for r in model.rules if r.pack == control_tower.PACK]
    lines = ["## Control Tower proactive controls", ""]
    if not ran:
        return [*lines, "The Control Tower plugin did not run in this synth."]
    evaluated = [e for e in model.evaluations if e.pack == control_tower.PACK]
    failing = sorted({e.finding for e in evaluated if e.status is Status.NON_COMPLIANT})
    lines += _wrap(
        f"{len(ran)} controls checked at synth ({len(evaluated)} evaluations); "
        + (f"{len(failing)} with open findings. " if failing else "none with an open finding. ")
        + (
            f"Turned off in configuration (`control_tower.disabled_controls`): {', '.join(model.disabled_controls)}."
            if model.disabled_controls
            else "None turned off in configuration."
        )
    )
    to_disable = controls_to_disable(model)
    lines += ["", "### Control Tower controls this deployment needs disabled for its organisational unit", ""]
    if not to_disable:
        return [*lines, "None: every Control Tower control passes, or passes once CloudFormation resolves references."]
    lines += _wrap(
        "An acknowledgment accepts a finding here, but the control's CloudFormation hook ignores template metadata: "
        "where the organisational unit of the account enables the control, the deployment fails. Disable each for "
        "the OU that holds the account, or leave the finding open and fix the resource."
    )
    lines += [""]
    rows = [
        [_code(c.control), c.scope, c.where or "-", "<br>".join(_code(p) for p in c.paths), " ".join(c.reasons)]
        for c in to_disable
    ]
    lines += _table(["Control", "Scope", "Account and region", "Resources", "Reason"], rows)
    return lines


def _runtime_section(model: ComplianceModel) -> list[str]:
    """What the account baseline's AWS Config rules and Security Hub will say about what this synth accepted."""
    lines = ["## At runtime", ""]
    counts = model.twin_classification
    if counts:
        twinned = counts.get("twinned", 0)
        packs = ", ".join(f"{pack} {n}" for pack, n in counts.items() if pack != "twinned" and ":" not in pack)
        none = ", ".join(f"{kind.split(': ', 1)[1]} {n}" for kind, n in counts.items() if kind.startswith("no twin"))
        total = twinned + sum(n for kind, n in counts.items() if kind.startswith("no twin"))
        lines += _wrap(
            f"Of the {total} AWS Config rules of the account baseline's FedRAMP Moderate conformance pack, "
            f"{twinned} have a synth-time twin that the gate runs ({packs}; a rule may have several), so every "
            f"resource passes them or carries an acknowledgment; {total - twinned} have none ({none}: "
            "compliance/data/config-rule-twins.tsv says why for each)."
        )
        lines += [""]
    lines += _config_results_lines(model)
    lines += ["", *_securityhub_lines(model)]
    return lines


def _config_results_lines(model: ComplianceModel) -> list[str]:
    acknowledged = [r for r in model.runtime_results if r.outcome is not RuntimeOutcome.NOT_CHECKED]
    unread = [r for r in model.runtime_results if r.outcome is RuntimeOutcome.NOT_CHECKED]
    rules = sorted({r.config_rule for r in acknowledged})
    lines = [f"### AWS Config rules our acknowledgments leave NON_COMPLIANT ({len(rules)} rules)", ""]
    lines += _wrap(
        "A conformance-pack result cannot be suppressed: each resource below is reported NON_COMPLIANT (or may "
        "be, where the synth rule is stricter than the Config rule) by the account baseline once deployed, as "
        "acknowledged at synth. 'Our pack' says whether a stage's Baseline deploys the pack in that account and "
        "region; elsewhere the organisation's own pack, if any, reports it the same way."
    )
    if not rules:
        return [*lines, "", "None."]
    lines += [""]
    lines += _table(
        ["Config rule", "Outcome", "Resources", "Under our pack", "Acknowledged as"],
        (
            [
                _code(rule),
                str(members[0].outcome),
                str(len(members)),
                str(sum(m.monitored for m in members)),
                ", ".join(_code(f) for f in sorted({m.finding.split("[")[0] for m in members})),
            ]
            for rule in rules
            if (members := [r for r in acknowledged if r.config_rule == rule])
        ),
        ["l", "l", "r", "r", "l"],
    )
    lines += ["", "<details><summary>Each resource and its reason</summary>", ""]
    for rule in rules:
        lines += [f"- {_code(rule)}"]
        for r in (r for r in acknowledged if r.config_rule == rule):
            where = f"{r.scope}, {r.account} {r.region}" + ("" if r.monitored else ", not under our pack")
            lines += _wrap(f"{_code(r.path)} ({where}): {r.reason}", first="  - ", indent="    ")
    lines += ["", "</details>"]
    if unread:
        lines += ["", f"### Resources no synth rule reads ({len({r.path for r in unread})})", ""]
        lines += _wrap(
            "A library wrote these as plain CloudFormation resources, which cdk-nag's rules do not read, so the "
            "gate could not judge them on the Config rules listed; AWS Config judges them first."
        )
        lines += [""]
        for path in sorted({r.path for r in unread}):
            names = ", ".join(_code(r.config_rule) for r in unread if r.path == path)
            lines += _wrap(f"{_code(path)}: {names}", first="- ", indent="  ")
    return lines


def _securityhub_lines(model: ComplianceModel) -> list[str]:
    document = automation_rules_document(model)
    lines = [f"### Security Hub automation rules ({document['count']})", ""]
    written = [s for s in model.suppressions if s.resource_ids and s.approved]
    per_region = "; ".join(f"{region}: {entry['count']}" for region, entry in document["regions"].items())
    lines += _wrap(
        f"{document['count']} automation rule(s) in {_code(DOCUMENT_FILE)} suppress the Security Hub control "
        f"findings of {len(written)} resource(s) whose acknowledgment the signed-off baseline approves, each rule "
        f"naming its control and its resources and carrying the acknowledgment's reason as its note "
        f"({per_region or 'no region'}; at most {RULES_PER_REGION} per administrator account and region). The "
        "Security Hub administrator deploys them (make securityhub-rules)."
    )
    if document["awaiting_approval"]:
        lines += [""]
        lines += _wrap(
            f"{len(document['awaiting_approval'])} finding(s) are acknowledged but not approved yet (the baseline "
            "does not record their acknowledgment as it is): no rule suppresses them until it does."
        )
    if document["parameters"]:
        lines += [""]
        lines += _wrap(
            f"{len(document['parameters'])} resource id(s) are generated at deploy time: the document lists, for "
            "each, the command that reads it from the deployed stack."
        )
    if document["over_quota"]:
        lines += ["", *_wrap(f"**Over the quota** in {', '.join(document['over_quota'])}.")]
    if document["unwritable"]:
        lines += [
            "",
            *_wrap(
                f"{len(document['unwritable'])} finding(s) name a resource whose ARN this app cannot "
                "form; no rule suppresses them:"
            ),
        ]
        for item in document["unwritable"]:
            lines += _wrap(f"{item['control']} on {_code(item['path'])}", first="- ", indent="  ")
    return lines


def _control_matrix_section(model: ComplianceModel) -> list[str]:
    lines = ["## Control matrix", ""]
    lines += _wrap(
        "Every control of the baseline, by family: its status at synth, the rules behind it, and the AWS "
        "Config rules that monitor it at runtime (controls.csv and the OSCAL files list every rule and resource)."
    )
    family = ""
    for c in model.controls:
        if c.family != family:
            family = c.family
            lines += ["", f"### {family}", ""]
        detail = str(c.status) + (f" from {' and '.join(c.inherited_from)}" if c.inherited_from else "")
        if c.rules:
            detail += f"; rules: {_rules_text(c.rules)}"
        if c.runtime:
            detail += f"; monitored at runtime by {len(c.runtime)} AWS Config rule(s)"
        lines += _wrap(f"**{c.label}** {c.title}: {detail}", first="- ", indent="  ")
    return lines


def render_markdown(model: ComplianceModel) -> str:
    """report.md: the verdict, what needs attention (one screen) and the run's identity first, the summary, the
    open findings, what stages inherit, acknowledgments, controls.

    GitHub-flavoured markdown; the only HTML is `<details>`, which folds the resource lists of grouped
    acknowledgments. Prose is wrapped at WIDTH, so the file reads in a terminal as well as a browser.
    """
    lines = ["# FedRAMP Moderate compliance report", ""]
    lines += _wrap(verdict_line(model))
    lines += [""]
    lines += _attention_section(model)
    lines += _run_section(model)
    lines += _summary_section(model)
    lines += [""]
    lines += _open_findings_section(model)
    lines += [""]
    lines += _inherited_section(model)
    lines += [""]
    lines += _acknowledgments_section(model)
    lines += [""]
    lines += _control_tower_section(model)
    lines += [""]
    lines += _runtime_section(model)
    lines += [""]
    lines += _control_matrix_section(model)
    return "\n".join(lines) + "\n"
