"""Evaluate a synthesized app for the compliance report: every rule, every resource, every control.

The validation report the CDK writes lists only what is still open: cdk-nag drops
an acknowledged finding before the CDK sees it. The report needs more — what passed,
what was accepted and why, and which acknowledgments no longer accept anything. So
each pack runs once more over the same construct tree, blind to acknowledgments
(`compliance.nag_adapter.every_finding`); every finding then comes back, and is matched
here against the acknowledgments recorded by `compliance.acknowledge`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import aws_cdk as cdk

from compliance.acknowledgments import Acknowledgment, acknowledgments_in
from compliance.assembly import CloudAssembly, Violation
from compliance.catalogue import all_rules
from compliance.checks import CheckResult, evaluate_checks
from compliance.model import (
    AcknowledgmentRecord,
    ComplianceModel,
    Evaluation,
    RunIdentity,
    Status,
    controls_from,
)
from compliance.nag_adapter import every_finding
from compliance.outlook import runtime_outlook
from compliance.packs import PACKS, Pack, PackOptions
from compliance.references import TemplateIndex
from compliance.runtime import config_rules, runtime_coverage
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


def _all_findings(app: cdk.App, options: PackOptions) -> tuple[list[tuple[str, str, str]], set[str]]:
    """(finding id, construct path, message) of every finding of the packs re-run blind, acknowledged or not;
    and the paths of the plain CfnResources, which a pack that walks the tree notes (`plain_resources`)."""
    found: list[tuple[str, str, str]] = []
    plain: set[str] = set()
    for pack in PACKS:
        if pack.rerun_blind:
            plugin = pack.plugin(options)
            found += [(f.finding, f.path, f.message) for f in every_finding(plugin, app)]
            plain |= set(getattr(plugin, "plain_resources", ()))
    return found, plain


def _reported_findings(assembly: CloudAssembly, pack: Pack) -> list[tuple[Status, str, str, str]] | None:
    """(status in the report, finding id, construct path, message) of a pack's findings in the CDK's validation report.

    Open findings come first, then those the CDK applied an acknowledgment to. None if the pack did not run:
    run by the CDK CLI, an app leaves CloudFormation's template checks to the CLI, so its report has none.
    """
    plugin = assembly.plugin_report(pack.report_plugin)
    if plugin is None:
        return None
    return [
        (status, *_finding(pack, violation))
        for status, violations in ((Status.NON_COMPLIANT, plugin.violations), (Status.ACKNOWLEDGED, plugin.suppressed))
        for violation in violations
    ]


def _finding(pack: Pack, violation: Violation) -> tuple[str, str, str]:
    finding, message = pack.finding(violation)
    return finding, violation.construct_path, message


def _matching_ack(acks: list[Acknowledgment], finding: str, path: str) -> Acknowledgment | None:
    """The acknowledgment on the resource or its nearest ancestor that names exactly this finding."""
    candidates = [a for a in acks if a.finding == finding and (path == a.path or path.startswith(a.path + "/"))]
    return max(candidates, key=lambda a: len(a.path), default=None)


def evaluate(
    app: cdk.App,
    assembly: Path,
    *,
    stages: list[str],
    external_prerequisites: dict[str, frozenset[str]] | None = None,
    disabled_controls: tuple[str, ...] = (),
    runtime_services: dict[str, set[str]] | None = None,
    runtime_skipped: dict[str, set[str]] | None = None,
    run: RunIdentity | None = None,
) -> ComplianceModel:
    """The whole compliance model of a synthesized app (call after `app.synth()`); `run` says which run it is."""
    scopes = ["Pipeline", *stages]
    options = PackOptions(dict(external_prerequisites or {}), disabled_controls)

    def scope(path: str) -> str:
        return scope_of(path, stages)

    reader = CloudAssembly(assembly)
    resources = {path: resource.type for path, resource in reader.resources.items()}
    acks = acknowledgments_in(app)
    index = TemplateIndex.load(reader)
    checked: dict[int, tuple[CheckResult, ...]] = {id(a): tuple(evaluate_checks(a.checks, a.path, index)) for a in acks}

    def accepted(ack: Acknowledgment | None) -> bool:
        """An acknowledgment accepts its finding only while every check of its compensating control holds."""
        return ack is not None and bool(checked[id(ack)]) and all(c.holds for c in checked[id(ack)])

    def void(ack: Acknowledgment) -> str:
        failed = "; ".join(
            f"{c.check} on {c.subject or ack.path}: {c.evidence}" for c in checked[id(ack)] if not c.holds
        )
        return f"acknowledged, but its compensating control does not hold ({failed})"

    rules = list(all_rules())
    findings, plain = _all_findings(app, options)
    reported = [(pack, _reported_findings(reader, pack)) for pack in PACKS if pack.report_plugin]
    # Finding ids of the packs that did not run in this synth: their acknowledgments cannot be stale.
    not_run = tuple(pack.finding_prefix for pack, found in reported if found is None)

    matched: dict[int, int] = defaultdict(int)
    evaluations: list[Evaluation] = []
    noncompliant_pairs: set[tuple[str, str]] = set()
    # The findings of the packs re-run blind (cdk-nag's and Preflight).
    for finding, path, message in findings:
        rule_id = finding.split("[")[0]
        ack = _matching_ack(acks, finding, path)
        if ack is not None:
            matched[id(ack)] += 1
        noncompliant_pairs.add((rule_id, path))
        evaluations.append(
            Evaluation(
                scope=scope(path),
                pack=rule_id.rsplit("-", 1)[0],
                rule=rule_id,
                finding=finding,
                status=Status.ACKNOWLEDGED if accepted(ack) else Status.NON_COMPLIANT,
                path=path,
                resource_type=resources.get(path, ""),
                message=message if ack is None or accepted(ack) else f"{message} [{void(ack)}]",
                reason=ack.text if ack else "",
            )
        )
    # A finding read from the report is ours to accept where one of our acknowledgments names it (the CDK cannot
    # apply them to every plugin); one the CDK acknowledged without ours was acknowledged by the construct.
    for pack, found in reported:
        for reported_status, finding, path, message in found or []:
            ack = _matching_ack(acks, finding, path)
            if ack is not None:
                matched[id(ack)] += 1
            noncompliant_pairs.add((finding, path))
            status = reported_status if ack is None else Status.ACKNOWLEDGED if accepted(ack) else Status.NON_COMPLIANT
            by_construct = "acknowledged by the CDK construct that creates it" if status is Status.ACKNOWLEDGED else ""
            evaluations.append(
                Evaluation(
                    scope=scope(path),
                    pack=pack.name,
                    rule=finding,
                    finding=finding,
                    status=status,
                    path=path,
                    resource_type=resources.get(path, ""),
                    message=message if ack is None or accepted(ack) else f"{message} [{void(ack)}]",
                    reason=ack.text if ack else by_construct,
                )
            )
        if found is not None and pack.rules is not None:
            rules += pack.rules(options)
    # Every resource of a type a rule reads, with no finding of that rule, passed it; cdk-nag's rules read
    # no plain CfnResource (they test for an L1 class), so those passed nothing of theirs.
    reads_templates = {pack.name for pack in PACKS if pack.reads_templates}
    by_type: dict[str, list[str]] = defaultdict(list)
    for path, resource_type in resources.items():
        by_type[resource_type].append(path)
    for rule in rules:
        targets = (
            list(resources) if "*" in rule.resource_types else [p for t in rule.resource_types for p in by_type[t]]
        )
        if rule.pack not in reads_templates:
            targets = [p for p in targets if p not in plain]
        for path in targets:
            if (rule.rule, path) not in noncompliant_pairs:
                evaluations.append(
                    Evaluation(scope(path), rule.pack, rule.rule, rule.rule, Status.COMPLIANT, path, resources[path])
                )
    evaluations.sort(key=lambda e: (scopes.index(e.scope), e.pack, e.rule, e.path))

    records = [
        AcknowledgmentRecord(
            scope=scope(a.path),
            path=a.path,
            finding=a.finding,
            reason=a.reason,
            compensating_control=a.compensating_control,
            controls=a.controls,
            # -1: the check that would raise this finding did not run in this synth, so it cannot be stale.
            matched=-1 if a.finding.startswith(not_run) else matched[id(a)],
            checks=checked[id(a)],
        )
        for a in acks
    ]
    resources_per_scope = {name: sum(1 for p in resources if scope(p) == name) for name in scopes}
    runtime_results, suppressions = runtime_outlook(evaluations, index, {p: scope(p) for p in plain})
    return ComplianceModel(
        scopes=scopes,
        rules=rules,
        evaluations=evaluations,
        acknowledgments=records,
        controls=controls_from(rules, evaluations, runtime_coverage(runtime_services or {})),
        resources_per_scope=resources_per_scope,
        config_differences=_config_differences(records, stages),
        external_prerequisites={k: sorted(v) for k, v in (external_prerequisites or {}).items() if v},
        runtime_services={k: sorted(v) for k, v in (runtime_services or {}).items()},
        runtime_skipped={k: sorted(v) for k, v in (runtime_skipped or {}).items() if v},
        run=run,
        disabled_controls=list(disabled_controls),
        runtime_results=runtime_results,
        suppressions=suppressions,
        twin_classification=classification(tuple(r.source_identifier for r in config_rules())),
    )


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
