"""report.html: the report for people, one static page that a browser opens offline.

The first screen says what the synth gate decided (and that it is no authorization), then what needs
attention (`compliance.outputs.attention`, as report.md says it: the changes since the signed-off baseline,
what is open, what needs the authorizing official), what changed since the committed compliance baseline,
and what is open: failing controls, open findings, compensating checks that do not hold, acknowledgments due
for review, and the acknowledged deviations that await approval. Below: the run, the counts, the
acknowledgments by kind (operational requirements first), pack and rule, and every control of the
baseline with a trace, by links within the page, to the rules that decide its status and the resources
they were evaluated on (with the source and template lines `compliance.locations` found). Everything is
inline (no script, stylesheet, font or image is fetched) and every value from the model is escaped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from html import escape

from compliance.model import (
    AcknowledgmentKind,
    AcknowledgmentRecord,
    ComplianceModel,
    Control,
    ControlStatus,
    Evaluation,
    ResourceLocation,
    Rule,
    Status,
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
from compliance.outputs.common import kind_counts, kind_heading, scope_counts

HTML = "report.html"

# A list of links longer than this is folded, so a control evaluated on every resource stays one screen.
FOLD_AFTER = 20

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:72rem;
padding:1rem 2rem;color:#1b1f24;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:0 .2rem;word-break:break-all}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;
vertical-align:top}td.n{text-align:right}
.verdict{font-size:1.5rem;font-weight:700;padding:.4rem .8rem;display:inline-block;border-radius:.3rem}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}
.note{color:#57606a}.status{font-weight:600}
.s-failing{color:#a40e26}.s-acknowledged{color:#9a6700}.s-evidenced{color:#116329}
article{border-left:3px solid #d0d7de;padding:.1rem .8rem;margin:.6rem 0}:target{background:#fff8c5}
nav a{margin-right:1rem}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _anchor(kind: str, key: str) -> str:
    """A stable id for the page: readable where the key is, else a hash of it (paths hold "/" and ":")."""
    if re.fullmatch(r"[A-Za-z0-9_.-]+", key):
        return f"{kind}-{key}"
    return f"{kind}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}"


def control_anchor(control: str) -> str:
    return _anchor("control", control)


def rule_anchor(rule: str) -> str:
    return _anchor("rule", rule)


def resource_anchor(scope: str, path: str) -> str:
    return _anchor("resource", f"{scope}:{path}")


def _link(anchor: str, text: str, *, code: bool = False) -> str:
    shown = f"<code>{_e(text)}</code>" if code else _e(text)
    return f'<a href="#{_e(anchor)}">{shown}</a>'


def _list(items: Iterable[str], *, empty: str = "None.") -> str:
    rows = [f"<li>{item}</li>" for item in items]
    return f"<ul>{''.join(rows)}</ul>" if rows else f"<p>{_e(empty)}</p>"


def _folded(links: list[str], noun: str) -> str:
    if len(links) <= FOLD_AFTER:
        return _list(links)
    return f"<details><summary>{len(links)} {_e(noun)}</summary>{_list(links)}</details>"


def _table(header: list[str], rows: Iterable[list[str]], numeric: frozenset[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header) if any(header) else ""
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _status_class(status: ControlStatus) -> str:
    return f"status s-{str(status).split()[0]}"


def _first_screen(model: ComplianceModel) -> str:
    verdict = "PASS" if model.passed else "FAIL"
    checks = [c for a in model.acknowledgments for c in a.checks]
    facts = [
        f"{len(model.open_findings)} open finding(s)",
        f"{len(model.acknowledgments)} acknowledgment(s) with {len(checks)} compensating check(s), "
        + ("all hold" if not model.failed_checks else f"{len(model.failed_checks)} do not hold"),
        (
            f"{len(model.baseline_differences)} change(s) from the compliance baseline"
            if model.baseline_file
            else "no compliance baseline compared"
        ),
        f"cfn-lint {model.cfn_lint}" if model.cfn_lint else "cfn-lint not run by this synth",
    ]
    if note := date_note(model):
        facts.append(note)
    return (
        '<header id="top"><h1>FedRAMP Moderate compliance report</h1>'
        f'<p id="verdict" class="verdict {verdict.lower()}">Synth gate: {verdict}</p>'
        f"<p>{_e('; '.join(facts))}.</p>"
        '<p class="note">The synth gate judges the synthesized templates of one commit against the rule packs, '
        "the compensating checks and the committed baseline. It is not an authorization to operate: that is the "
        "authorizing official's decision, on the whole package, including what is open below.</p>"
        '<nav><a href="#attention">Attention</a><a href="#changed">Changed</a><a href="#open">Open</a>'
        '<a href="#run">This run</a><a href="#summary">Summary</a><a href="#acknowledgments">Acknowledgments</a>'
        '<a href="#controls">Controls</a><a href="#rules">Rules</a><a href="#resources">Resources</a></nav>'
        "</header>" + _attention(model) + _changed(model) + _open(model)
    )


# Where the first section links to, by `attention`'s section keys: the ids of this page's sections.
ANCHORS = {
    OPEN_FINDINGS: "open-findings",
    AWAITING_APPROVAL: "awaiting-approval",
    BASELINE: "changed",
    DUE_FOR_REVIEW: "due-for-review",
}


def _span(span: Span) -> str:
    if span.code:
        return _code(span.text)
    if span.link:
        return _link(ANCHORS[span.link], span.text)
    return f"<strong>{_e(span.text)}</strong>" if span.strong else _e(span.text)


def _spans(line: Line) -> str:
    return "".join(_span(s) for s in line)


def _attention(model: ComplianceModel) -> str:
    """What needs attention (`compliance.outputs.attention`), right under the verdict."""
    parts = ['<section id="attention"><h2>What needs attention</h2>']
    for block in attention(model):
        parts.append(f"<p>{_spans(block.lead)}</p>")
        if block.items:
            parts.append("<ul>")
            for item in block.items:
                below = "".join(f"<li>{_spans(sub)}</li>" for sub in item.items)
                parts.append(f"<li>{_spans(item.line)}" + (f"<ul>{below}</ul>" if below else "") + "</li>")
            parts.append("</ul>")
    return "".join(parts) + "</section>"


def _changed(model: ComplianceModel) -> str:
    parts = ['<section id="changed"><h2>Changed since the baseline</h2>']
    if not model.baseline_file:
        parts.append("<p>No compliance baseline was compared in this run.</p>")
    elif not model.baseline_differences and not model.baseline_improvements:
        parts.append(
            f"<p>Nothing: as committed in <code>{_e(model.baseline_file)}</code> (no control lost, no "
            "acknowledgment added).</p>"
        )
    else:
        parts.append(
            f"<h3>Changes from <code>{_e(model.baseline_file)}</code> that fail the gate until it records them "
            f"({len(model.baseline_differences)})</h3>"
        )
        parts.append(_list((_e(d) for d in model.baseline_differences), empty="None."))
        parts.append(f"<h3>Improvements the baseline does not record yet ({len(model.baseline_improvements)})</h3>")
        parts.append(_list((_e(i) for i in model.baseline_improvements), empty="None."))
    return "".join(parts) + "</section>"


def _open(model: ComplianceModel) -> str:
    failing = [c for c in model.controls if c.status is ControlStatus.FAILING]
    # A deviation stays open (a POA&M item) whether or not it is approved: approval accepts it, it does not close it.
    acknowledged = [c for c in model.controls if c.status.deviation]
    awaiting = awaiting_approval(model)
    stale = [a for a in model.acknowledgments if a.matched == 0]
    unchecked = [a for a in model.acknowledgments if not a.checks]
    parts = ['<section id="open"><h2>Open</h2>']
    parts.append(f'<h3 id="open-controls">Failing controls ({len(failing)})</h3>')
    parts.append(_list(_control_line(c) for c in failing))
    if model.synth_errors:
        parts.append(f'<h3 id="synth-errors">Synth errors outside the packs ({len(model.synth_errors)})</h3>')
        parts.append(_list(_e(e) for e in model.synth_errors))
    parts.append(f'<h3 id="open-findings">Open findings ({len(model.open_findings)})</h3>')
    parts.append(
        _list(
            f"{_e(e.scope)}: {_link(rule_anchor(e.rule), e.finding, code=True)} on "
            f"{_link(resource_anchor(e.scope, e.path), e.path, code=True)}: {_e(e.message)}"
            for e in model.open_findings
        )
    )
    parts.append(f'<h3 id="open-checks">Compensating checks that do not hold ({len(model.failed_checks)})</h3>')
    parts.append(
        _list(
            f"{_code(a.finding)} on {_code(a.path)}: {_e(c.check)} on {_code(c.subject or a.path)}: {_e(c.evidence)}"
            for a, c in model.failed_checks
        )
    )
    if unchecked:
        parts.append(f"<h3>Acknowledgments whose compensating control ran no check ({len(unchecked)})</h3>")
        parts.append(_list(f"{_code(a.finding)} on {_code(a.path)}" for a in unchecked))
    parts.append(f'<h3 id="awaiting-approval">Acknowledged deviations awaiting approval ({len(awaiting)})</h3>')
    by_kind = ", ".join(
        f"{_e(kind_heading(kind).lower())}: {c.acknowledgments}" for kind, c in kind_counts(awaiting).items()
    )
    parts.append(
        f"<p>{len(awaiting)} acknowledgment(s) accept a finding that the signed-off baseline does not approve yet "
        f"({by_kind}): each a deviation for the authorizing official to approve or reject (every acknowledgment is "
        f'listed by kind, pack and rule under <a href="#acknowledgments">Acknowledgments</a>). Approved or not, a '
        f"deviation stays open on the plan of action and milestones; {len(acknowledged)} control(s) have one, and "
        f"none of them is satisfied:</p>"
    )
    parts.append(_folded([_control_line(c) for c in acknowledged], "controls"))
    parts.append(f'<h3 id="due-for-review">Acknowledgments due for review ({len(model.review_overdue)})</h3>')
    parts.append(_list(_e(line) for line in model.review_overdue))
    if stale:
        parts.append(f"<h3>Stale acknowledgments, which accept no finding ({len(stale)})</h3>")
        parts.append(_list(f"{_e(a.scope)}: {_code(a.path)} acknowledges {_code(a.finding)}" for a in stale))
    return "".join(parts) + "</section>"


def _code(text: str) -> str:
    return f"<code>{_e(text)}</code>"


def _control_line(control: Control) -> str:
    return f"{_link(control_anchor(control.control), control.label)} {_e(control.title)}"


def _run(model: ComplianceModel) -> str:
    run = model.run
    parts = ['<section id="run"><h2>This run</h2>']
    if run is None:
        return "".join(parts) + "<p>Not recorded: this report was built without the run's identity.</p></section>"
    rows = [
        *([["System", _e(run.system.summary)]] if run.system is not None else []),
        ["Commit", f"{_code(run.commit)} ({_e(run.commit_source)})"],
        ["Configuration", f"{_code(run.config_file)}, sha256 {_code(run.config_sha256)}"],
        ["Pipeline", f"account {_code(run.pipeline_account)}, region {_code(run.pipeline_region)}"],
        *([_e(stage), _e(where)] for stage, where in run.stages.items()),
        ["Tools", _e("; ".join(f"{tool} {version}" for tool, version in run.tools.items()))],
        ["Time (UTC)", _e(run.time)],
    ]
    return "".join(parts) + _table(["", ""], rows) + "</section>"


def _summary(model: ComplianceModel) -> str:
    parts = ['<section id="summary"><h2>Summary</h2><h3>Controls by status at synth</h3>']
    statuses = [
        s for s in ControlStatus if s is not ControlStatus.INHERITED or any(c.status is s for c in model.controls)
    ]
    parts.append(
        _table(
            ["Status", "Controls"],
            ([_e(s), str(sum(c.status is s for c in model.controls))] for s in statuses),
            frozenset({1}),
        )
    )
    parts.append("<h3>Kinds of acknowledgment</h3>")
    parts.append(
        _table(
            ["Kind", "Acknowledgments", "Approved", "Awaiting approval"],
            (
                [_link(kind_anchor(kind), str(kind)), *map(str, (c.acknowledgments, c.approved, c.awaiting_approval))]
                for kind, c in kind_counts(model.acknowledgments).items()
            ),
            frozenset({1, 2, 3}),
        )
    )
    parts.append("<h3>Evaluations per scope</h3>")
    parts.append(
        _table(
            ["Scope", "Resources", "Rules evaluated", "Pass", "Acknowledged", "Failing"],
            (
                [_e(scope), *map(str, (c.resources, c.rules_evaluated, c.compliant, c.acknowledged, c.non_compliant))]
                for scope, c in scope_counts(model).items()
            ),
            frozenset({1, 2, 3, 4, 5}),
        )
    )
    return "".join(parts) + "</section>"


def _packs_of(model: ComplianceModel) -> dict[str, tuple[str, str]]:
    """Finding id -> (pack, rule), from the evaluations that carry it."""
    return {e.finding: (e.pack, e.rule) for e in model.evaluations}


def kind_anchor(kind: AcknowledgmentKind) -> str:
    return _anchor("kind", str(kind).replace(" ", "-"))


def _acknowledgments(model: ComplianceModel) -> str:
    """The acknowledgments by kind, the real deviations first (operational requirements, then tool false positives,
    then generated constructs), each kind with its definition; within a kind by pack and rule, each group one
    finding accepted with one reason."""
    parts = [f'<section id="acknowledgments"><h2>Acknowledgments ({len(model.acknowledgments)})</h2>']
    parts.append(
        "<p>By kind, the real deviations first; within a kind by pack and rule, and within a rule each finding "
        "accepted with one reason on its resources.</p>"
    )
    for kind, counts in kind_counts(model.acknowledgments).items():
        members = [a for a in model.acknowledgments if a.kind is kind]
        parts.append(f'<h3 id="{_e(kind_anchor(kind))}">{_e(kind_heading(kind))} ({counts.acknowledgments})</h3>')
        parts.append(
            f"<p>{_e(kind.definition)} {counts.approved} approved, {counts.awaiting_approval} awaiting approval.</p>"
            + _acknowledged_rules(model, members)
        )
    return "".join(parts) + "</section>"


def _acknowledged_rules(model: ComplianceModel, acknowledgments: list[AcknowledgmentRecord]) -> str:
    """`acknowledgments` by pack and rule, each group one finding accepted with one reason."""
    packs = _packs_of(model)
    grouped: dict[tuple[str, str], dict[tuple[str, str, str], list[AcknowledgmentRecord]]] = {}
    for ack in acknowledgments:
        pack, rule = packs.get(ack.finding, ("(no finding matched)", ack.finding.split("[")[0]))
        grouped.setdefault((pack, rule), {}).setdefault((ack.finding, ack.reason, ack.compensating_control), []).append(
            ack
        )
    parts: list[str] = []
    pack = ""
    for (group_pack, rule), groups in sorted(grouped.items()):
        if group_pack != pack:
            pack = group_pack
            parts.append(f"<h4>{_e(pack)}</h4>")
        count = sum(len(members) for members in groups.values())
        parts.append(f"<details><summary>{_link(rule_anchor(rule), rule, code=True)}: {count} acknowledged</summary>")
        for (finding, reason, compensating), members in groups.items():
            held = sum(c.holds for m in members for c in m.checks)
            total = sum(len(m.checks) for m in members)
            resources = [_link(resource_anchor(m.scope, m.path), f"{m.scope}: {m.path}", code=True) for m in members]
            parts.append(
                f"<article><p>{_code(finding)}, NIST 800-53 {_e(', '.join(members[0].controls))}</p>"
                f"<p>Reason: {_e(reason)}</p>"
                f"<p>Compensating control ({held} of {total} checks hold): {_e(compensating)}</p>"
                f"{_folded(resources, 'resources')}</article>"
            )
        parts.append("</details>")
    return "".join(parts)


def _controls(model: ComplianceModel) -> str:
    parts = ['<section id="controls"><h2>Controls</h2>']
    parts.append(
        "<p>Every control of the baseline: its status at synth, the rules that decide it and the resources they "
        "were evaluated on.</p>"
    )
    family = ""
    for control in model.controls:
        if control.family != family:
            family = control.family
            parts.append(f"<h3>{_e(family)}</h3>")
        parts.append(_control(control))
    return "".join(parts) + "</section>"


def _control(control: Control) -> str:
    status = _e(control.status) + (
        f" from {_e(' and '.join(control.inherited_from))}" if control.inherited_from else ""
    )
    rules = [_link(rule_anchor(rule), rule, code=True) for rule in control.rules]
    resources = [
        _link(resource_anchor(scope, path), f"{scope}: {path}", code=True)
        for scope, _, path in (r.partition(":") for r in control.resources)
    ]
    runtime = f"<p>Monitored at runtime by {len(control.runtime)} AWS Config rule(s).</p>" if control.runtime else ""
    return (
        f'<article id="{_e(control_anchor(control.control))}"><h4>{_e(control.label)} {_e(control.title)}</h4>'
        f'<p>Status: <span class="{_status_class(control.status)}">{status}</span></p>'
        f"<p>Rules ({len(rules)}):</p>{_folded(rules, 'rules')}"
        f"<p>Resources ({len(resources)}):</p>{_folded(resources, 'resources')}{runtime}</article>"
    )


def _rules(model: ComplianceModel, evaluations: dict[str, list[Evaluation]]) -> str:
    """Every rule the page links to: those controls cite, those evaluated, those acknowledgments name."""
    packs = _packs_of(model)
    linked = dict.fromkeys(
        [
            *(rule for c in model.controls for rule in c.rules),
            *evaluations,
            *(packs.get(a.finding, ("", a.finding.split("[")[0]))[1] for a in model.acknowledgments),
        ]
    )
    shown = [r for r in model.rules if r.rule in linked]
    listed = {r.rule for r in model.rules}
    for rule in (rule for rule in linked if rule not in listed):
        # A rule the packs' catalogue does not list (a template check's): described by its first finding.
        found = evaluations.get(rule, [])
        shown.append(Rule(found[0].pack if found else "", rule, found[0].message if found else "", (), ()))
    controls = {c.label: c.control for c in model.controls}
    parts = [f'<section id="rules"><h2>Rules ({len(shown)})</h2>']
    parts.extend(_rule(rule, evaluations.get(rule.rule, []), controls) for rule in shown)
    return "".join(parts) + "</section>"


def _rule(rule: Rule, evaluations: list[Evaluation], controls: dict[str, str]) -> str:
    """A rule, the controls it cites (linked where the baseline has them) and its evaluations counted by status."""
    tally = ", ".join(f"{sum(e.status is s for e in evaluations)} {_e(s)}" for s in Status)
    cites = [
        _link(control_anchor(controls[_base_label(label)]), label) if _base_label(label) in controls else _e(label)
        for label in rule.cited
    ]
    return (
        f'<article id="{_e(rule_anchor(rule.rule))}"><h4><code>{_e(rule.rule)}</code> ({_e(rule.pack)})</h4>'
        f"<p>{_e(rule.description)}</p><p>Cites: {', '.join(cites) or 'no control'}</p>"
        f"<p>Evaluations: {tally}.</p></article>"
    )


def _base_label(label: str) -> str:
    """`SC-7(4)(b)` -> `SC-7(4)`, `CP-9d` -> `CP-9`: the baseline's label of a cited part."""
    match = re.match(r"^([A-Z]{2}-\d+(?:\(\d+\))?)", label)
    return match.group(1) if match else label


def _resources(model: ComplianceModel, evaluations: dict[str, list[Evaluation]]) -> str:
    locations = {location.path: location for location in model.locations}
    keys = dict.fromkeys(
        [
            *((scope, path) for c in model.controls for scope, _, path in (r.partition(":") for r in c.resources)),
            *((a.scope, a.path) for a in model.acknowledgments),
            *((e.scope, e.path) for e in model.open_findings),
        ]
    )
    on_path: dict[tuple[str, str], list[Evaluation]] = {}
    for rule_evaluations in evaluations.values():
        for e in rule_evaluations:
            on_path.setdefault((e.scope, e.path), []).append(e)
    parts = [f'<section id="resources"><h2>Resources ({len(keys)})</h2>']
    for scope, path in keys:
        parts.append(_resource(scope, path, on_path.get((scope, path), []), locations.get(path)))
    return "".join(parts) + "</section>"


def _resource(scope: str, path: str, evaluations: list[Evaluation], location: ResourceLocation | None) -> str:
    where = []
    if location is not None and location.source is not None:
        where.append(f"defined at {_code(f'{location.source.file}:{location.source.line}')}")
    if location is not None:
        template = f"cdk.out/{location.template.file}:{location.template.line}"
        where.append(f"synthesized as {_code(location.logical_id)} at {_code(template)}")
    kind = _e(evaluations[0].resource_type) if evaluations else ""
    rows = [
        f"{_link(rule_anchor(e.rule), e.rule, code=True)}: {_e(e.status)}"
        + (f" ({_code(e.finding)})" if e.finding != e.rule else "")
        for e in evaluations
    ]
    return (
        f'<article id="{_e(resource_anchor(scope, path))}"><h4><code>{_e(path)}</code></h4>'
        f"<p>{_e(scope)}{', ' + kind if kind else ''}{'; ' + '; '.join(where) if where else ''}</p>"
        f"{_folded(rows, 'evaluations')}</article>"
    )


# Block elements end their line, so the committed golden page diffs line by line.
_BLOCK_END = re.compile(r"(</(?:article|details|h[1-4]|header|li|nav|p|section|table|tr|ul)>)")


def render_html(model: ComplianceModel) -> str:
    """report.html: the first screen (verdict, changes, what is open), then the run, the counts, the
    acknowledgments, the controls with their trace, the rules and the resources."""
    evaluations: dict[str, list[Evaluation]] = {}
    for evaluation in model.evaluations:
        evaluations.setdefault(evaluation.rule, []).append(evaluation)
    verdict = "PASS" if model.passed else "FAIL"
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No request leaves the page: nothing it shows is fetched, and a stray link cannot load anything either.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>Synth gate: {verdict}: FedRAMP Moderate compliance report</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        + _first_screen(model)
        + "\n"
        + _run(model)
        + "\n"
        + _summary(model)
        + "\n"
        + _acknowledgments(model)
        + "\n"
        + _controls(model)
        + "\n"
        + _rules(model, evaluations)
        + "\n"
        + _resources(model, evaluations)
        + "\n</body></html>\n"
    )
    return _BLOCK_END.sub("\\1\n", page).replace("\n\n", "\n")
