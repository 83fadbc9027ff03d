"""Evaluate a synthesized app for the compliance report: every rule, every resource, every control.

The validation report the CDK writes lists only what is still open: cdk-nag drops
an acknowledged finding before the CDK sees it. The report needs more — what passed,
what was accepted and why, and which acknowledgments no longer accept anything. So
cdk-nag's packs and Preflight run blind to acknowledgments in the synth and keep every
finding (`compliance.nag_adapter.kept`), which is matched here against the acknowledgments
recorded by `compliance.acknowledge`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk

from compliance.acknowledgments import Acknowledgment, acknowledgments_in
from compliance.assembly import CloudAssembly, Violation
from compliance.catalogue import all_rules, runtime_coverage
from compliance.checks import evaluate_checks
from compliance.inheritance import inheritable, service_controls
from compliance.model import (
    AcknowledgmentRecord,
    ComplianceModel,
    ControlStatus,
    Evaluation,
    Inheritance,
    Rule,
    RunIdentity,
    Status,
    acknowledgment_name,
    controls_from,
    inherited_controls,
)
from compliance.nag_adapter import kept
from compliance.outlook import runtime_outlook
from compliance.packs import PACKS, Pack, PackOptions
from compliance.references import TemplateIndex
from compliance.runtime import config_rules
from compliance.twins import classification
from config.schema import environment_name_of


def stage_neutral(path: str, stage: str) -> str:
    """A stage's construct path with the stage taken out, so stages can be compared resource by resource.

    Removes the stage prefix, the stage's name in ids ("DeploymentStage.prod"), the 8-digit hashes the
    CDK derives from paths, and subnet numbers (stages differ in zone count only through config).
    """
    name = environment_name_of(stage)
    path = path.removeprefix(f"Pipeline/{stage}/").replace(stage, "<stage>").replace(name, "<stage>")
    path = path.replace(stage.lower(), "<stage>")
    path = re.sub(r"Subnet\d+/", "Subnet<n>/", path)
    return re.sub(r"[0-9A-F]{8}\b", "<hash>", path)


def scope_of(path: str, stages: frozenset[str] | set[str] | list[str]) -> str:
    """'Pipeline/Dev/Data/...' -> 'Dev'; anything else of the pipeline stack -> 'Pipeline'."""
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[1] in stages else "Pipeline"


@dataclass
class _BlindRun:
    """What the packs run blind found: every finding, acknowledged or not, and what a rule-by-rule pass needs."""

    findings: list[tuple[str, str, str]] = field(default_factory=list)  # (finding id, construct path, message)
    # Paths of the plain CfnResources, which a pack that reads the tree notes (Preflight, from the assembly's tree).
    plain: set[str] = field(default_factory=set)
    # (rule, path) of each resource a rule found it does not apply to, where the pack says so (`not_applicable`).
    not_applicable: set[tuple[str, str]] = field(default_factory=set)


def _all_findings(app: cdk.App, options: PackOptions) -> _BlindRun:
    """Every finding of the packs run blind, acknowledged or not, with what those packs note on the way.

    Each kept them in `app`'s synth; for an app whose synth did not run one of them, it runs now.
    """
    run = _BlindRun()
    for pack in PACKS:
        if pack.keeps_findings:
            found = kept(app, pack.name) or pack.plugin(options).run_blind(app)
            run.findings += [(f.finding, f.path, f.message) for f in found.findings]
            run.plain |= found.plain
            run.not_applicable |= found.not_applicable
    return run


def _reported_findings(app: cdk.App, assembly: CloudAssembly, pack: Pack) -> list[tuple[Status, str, str, str]] | None:
    """(status in the report, finding id, construct path, message) of a pack's findings in the CDK's validation report.

    Open findings come first, then those the CDK applied an acknowledgment to. None if the pack did not run:
    run by the CDK CLI, an app leaves CloudFormation's template checks to the CLI, so its report has none.
    The CDK also leaves out the report of a plugin with nothing to report: a pack that records its runs
    (Control Tower's) ran and found nothing where it ran over every template of this assembly in `app`'s synth.
    """
    plugin = assembly.plugin_report(pack.report_plugin)
    if plugin is None:
        templates = [s.template_file for s in assembly.stacks if s.template_file is not None]
        return [] if pack.ran_on is not None and pack.ran_on(app, templates) else None
    return [
        (status, *_finding(pack, violation))
        for status, violations in ((Status.NON_COMPLIANT, plugin.violations), (Status.ACKNOWLEDGED, plugin.suppressed))
        for violation in violations
    ]


def _finding(pack: Pack, violation: Violation) -> tuple[str, str, str]:
    finding, message = pack.finding(violation)
    return finding, violation.construct_path, message


def _matching_ack(acks: dict[str, list[Acknowledgment]], finding: str, path: str) -> Acknowledgment | None:
    """The acknowledgment on the resource or its nearest ancestor that names exactly this finding (`acks`: by the
    finding they name, in order)."""
    candidates = [a for a in acks.get(finding, ()) if path == a.path or path.startswith(a.path + "/")]
    return max(candidates, key=lambda a: len(a.path), default=None)


class _Matcher:
    """Findings matched with the acknowledgments of one app, and the evaluations they become."""

    def __init__(self, app: cdk.App, reader: CloudAssembly, index: TemplateIndex, stages: list[str]) -> None:
        self.stages = stages
        self.resources = {path: resource.type for path, resource in reader.resources.items()}
        self.acks = acknowledgments_in(app)
        self.by_finding: dict[str, list[Acknowledgment]] = defaultdict(list)
        for ack in self.acks:
            self.by_finding[ack.finding].append(ack)
        self.checked = {id(a): tuple(evaluate_checks(a.checks, a.path, index)) for a in self.acks}
        self.matched: dict[int, int] = defaultdict(int)
        # The reason of the acknowledgment that accepted each (finding, path), as it was written.
        self.reasons: dict[tuple[str, str], str] = {}
        self.noncompliant: set[tuple[str, str]] = set()  # (rule, path) of every finding, accepted or not

    def scope(self, path: str) -> str:
        return scope_of(path, self.stages)

    def accepted(self, ack: Acknowledgment | None) -> bool:
        """An acknowledgment accepts its finding only while every check of its compensating control holds."""
        return ack is not None and bool(self.checked[id(ack)]) and all(c.holds for c in self.checked[id(ack)])

    def finding(
        self, pack: str, rule: str, finding: str, path: str, message: str, *, reported: Status | None = None
    ) -> Evaluation:
        """The evaluation of one finding: acknowledged where our acknowledgment names it and its checks hold. The
        evaluation names that acknowledgment, so no report has to find it again.

        `reported` is the status in the CDK's validation report, for a pack read from there: one the CDK
        acknowledged without an acknowledgment of ours was acknowledged by the construct that creates it.
        """
        ack = _matching_ack(self.by_finding, finding, path)
        if ack is not None:
            self.matched[id(ack)] += 1
            self.reasons[(finding, path)] = ack.reason
        self.noncompliant.add((rule, path))
        if ack is not None:
            status = Status.ACKNOWLEDGED if self.accepted(ack) else Status.NON_COMPLIANT
        else:
            status = reported or Status.NON_COMPLIANT
        by_construct = "acknowledged by the CDK construct that creates it" if status is Status.ACKNOWLEDGED else ""
        return Evaluation(
            scope=self.scope(path),
            pack=pack,
            rule=rule,
            finding=finding,
            status=status,
            path=path,
            resource_type=self.resources.get(path, ""),
            message=message if ack is None or self.accepted(ack) else f"{message} [{self._void(ack)}]",
            reason=ack.text if ack else by_construct,
            acknowledgment=acknowledgment_name(ack.finding, ack.path) if ack else "",
        )

    def _void(self, ack: Acknowledgment) -> str:
        failed = "; ".join(
            f"{c.check} on {c.subject or ack.path}: {c.evidence}" for c in self.checked[id(ack)] if not c.holds
        )
        return f"acknowledged, but its compensating control does not hold ({failed})"

    def passed(self, rules: list[Rule], plain: set[str], not_applicable: set[tuple[str, str]]) -> list[Evaluation]:
        """Every resource of a type a rule reads, with no finding of that rule: it passed.

        cdk-nag's packs and Control Tower's report findings only, so a resource their rule does not apply to
        passes too (the report says so); Preflight's rules say so, and such a resource (`not_applicable`) is
        not a pass. cdk-nag's rules read no plain CfnResource (they test for an L1 class): no pass of theirs.
        """
        reads_templates = {pack.name for pack in PACKS if pack.reads_templates}
        by_type: dict[str, list[str]] = defaultdict(list)
        for path, resource_type in self.resources.items():
            by_type[resource_type].append(path)
        result = []
        for rule in rules:
            every = "*" in rule.resource_types
            targets = list(self.resources) if every else [p for t in rule.resource_types for p in by_type[t]]
            result += [
                Evaluation(self.scope(p), rule.pack, rule.rule, rule.rule, Status.COMPLIANT, p, self.resources[p])
                for p in targets
                if (rule.pack in reads_templates or p not in plain)
                and (rule.rule, p) not in self.noncompliant
                and (rule.rule, p) not in not_applicable
            ]
        return result

    def records(self, not_run: tuple[str, ...]) -> list[AcknowledgmentRecord]:
        """Each acknowledgment with its checks and how many findings it accepted.

        `not_run`: finding-id prefixes of packs that did not run in this synth; -1 marks an acknowledgment
        whose finding could not arise, so it cannot be stale.
        """
        return [
            AcknowledgmentRecord(
                scope=self.scope(a.path),
                path=a.path,
                finding=a.finding,
                reason=a.reason,
                compensating_control=a.compensating_control,
                controls=a.controls,
                matched=-1 if a.finding.startswith(not_run) else self.matched[id(a)],
                kind=a.kind,
                checks=self.checked[id(a)],
                review_by=a.review_by,
            )
            for a in self.acks
        ]


def _evaluations(
    matcher: _Matcher, app: cdk.App, reader: CloudAssembly, options: PackOptions
) -> tuple[list[Rule], list[Evaluation], set[str], tuple[str, ...]]:
    """(rules, evaluations, paths of plain CfnResources, finding-id prefixes of packs that did not run)."""
    rules = list(all_rules())
    blind = _all_findings(app, options)
    # The findings of the packs run blind (cdk-nag's and Preflight).
    evaluations = []
    for finding, path, message in blind.findings:
        rule = finding.split("[")[0]  # "AwsSolutions-IAM5[Resource::*]" -> "AwsSolutions-IAM5"
        evaluations.append(matcher.finding(rule.rsplit("-", 1)[0], rule, finding, path, message))
    not_run: list[str] = []
    for pack in (p for p in PACKS if p.report_plugin):
        found = _reported_findings(app, reader, pack)
        if found is None:
            not_run.append(pack.finding_prefix)
            continue
        evaluations += [
            matcher.finding(pack.name, f, f, path, message, reported=status) for status, f, path, message in found
        ]
        rules += pack.rules(options) if pack.rules is not None else []
    passed = matcher.passed(rules, blind.plain, blind.not_applicable)
    return rules, evaluations + passed, blind.plain, tuple(not_run)


def evaluate(
    app: cdk.App,
    assembly: Path | CloudAssembly,
    *,
    stages: list[str],
    external_prerequisites: dict[str, frozenset[str]] | None = None,
    disabled_controls: tuple[str, ...] = (),
    runtime_services: dict[str, set[str]] | None = None,
    runtime_skipped: dict[str, set[str]] | None = None,
    inherited: dict[str, dict[str, str]] | None = None,
    run: RunIdentity | None = None,
) -> ComplianceModel:
    """The whole compliance model of a synthesized app (call after `app.synth()`); `run` says which run it is.

    `inherited` maps a stage to the services of its account baseline that a landing zone runs, each with
    its provider (`AccountBaseline.inherited`).
    """
    scopes = ["Pipeline", *stages]
    reader = CloudAssembly.of(assembly)
    index = TemplateIndex.load(reader)
    matcher = _Matcher(app, reader, index, stages)
    options = PackOptions(dict(external_prerequisites or {}), disabled_controls)
    rules, evaluations, plain, not_run = _evaluations(matcher, app, reader, options)
    evaluations.sort(key=lambda e: (scopes.index(e.scope), e.pack, e.rule, e.path))
    records = matcher.records(not_run)
    runtime_results, suppressions = runtime_outlook(
        evaluations, index, {p: matcher.scope(p) for p in plain}, matcher.reasons
    )
    inheritances = _inheritances(rules, evaluations, records, inherited or {})
    return ComplianceModel(
        scopes=scopes,
        rules=rules,
        evaluations=evaluations,
        acknowledgments=records,
        controls=controls_from(
            rules,
            evaluations,
            runtime_coverage(runtime_services or {}),
            inherited_controls(inheritances),
            acknowledgments=records,
        ),
        resources_per_scope={name: sum(1 for p in matcher.resources if matcher.scope(p) == name) for name in scopes},
        config_differences=_config_differences(records, stages),
        external_prerequisites={k: sorted(v) for k, v in (external_prerequisites or {}).items() if v},
        runtime_services={k: sorted(v) for k, v in (runtime_services or {}).items()},
        runtime_skipped={k: sorted(v) for k, v in (runtime_skipped or {}).items() if v},
        run=run,
        disabled_controls=list(disabled_controls),
        runtime_results=runtime_results,
        suppressions=suppressions,
        twin_classification=classification(tuple(r.source_identifier for r in config_rules())),
        inheritances=inheritances,
    )


def _inheritances(
    rules: list[Rule],
    evaluations: list[Evaluation],
    records: list[AcknowledgmentRecord],
    inherited: dict[str, dict[str, str]],
) -> list[Inheritance]:
    """Per stage and inherited service, the controls of its table that no rule evidences in that stage (and no
    acknowledgment of the stage makes a deviation)."""
    result: list[Inheritance] = []
    for scope, services in inherited.items():
        if not services:
            continue
        evaluated = [e for e in evaluations if e.scope == scope]
        own = [r for r in records if r.scope == scope]
        controls = controls_from(rules, evaluated, inherited=inheritable(services), acknowledgments=own)
        taken = [c.control for c in controls if c.status is ControlStatus.INHERITED]
        result += [
            Inheritance(scope, service, provider, tuple(c for c in taken if c in service_controls().get(service, ())))
            for service, provider in services.items()
        ]
    return result


def _config_differences(records: list[AcknowledgmentRecord], stages: list[str]) -> list[str]:
    """Acknowledgments the first stage has and the last does not: each follows from its configuration."""
    if len(stages) < 2:
        return []
    first, last = stages[0], stages[-1]

    later = {(stage_neutral(r.path, last), r.finding) for r in records if r.scope == last}
    return [
        f"{first}: {r.finding} on {r.path.removeprefix(f'Pipeline/{first}/')} — {r.reason}"
        for r in records
        if r.scope == first and (stage_neutral(r.path, first), r.finding) not in later
    ]
