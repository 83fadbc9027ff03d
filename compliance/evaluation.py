"""Evaluate a synthesized app for the compliance report: every rule, every resource, every control.

The validation report the CDK writes lists only what is still open: cdk-nag drops
an acknowledged finding before the CDK sees it. The report needs more — what passed,
what was accepted and why, and which acknowledgments no longer accept anything. So
each pack runs once more over the same construct tree under a prefixed pack name
that no acknowledgment matches; every finding then comes back, and is matched here
against the acknowledgments recorded by `compliance.acknowledge`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag

from compliance import control_tower
from compliance.acknowledgments import Acknowledgment, acknowledgments_in
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
from compliance.outlook import runtime_outlook
from compliance.preflight import PACK as PREFLIGHT
from compliance.preflight import PreflightChecks
from compliance.references import TemplateIndex
from compliance.runtime import config_rules, runtime_coverage
from compliance.twins import classification
from config.schema import environment_name_of

_BLIND = "Unacknowledged."


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


def _all_findings(
    app: cdk.App, external_prerequisites: dict[str, frozenset[str]]
) -> tuple[list[tuple[str, str, str]], set[str]]:
    """(finding id, construct path, message) of every finding, acknowledged or not; and the plain CfnResources."""
    preflight = PreflightChecks(external_prerequisites=external_prerequisites)
    packs: list[cdk_nag.NagPack] = [cdk_nag.NIST80053R5Checks(), cdk_nag.AwsSolutionsChecks(), preflight]
    found: list[tuple[str, str, str]] = []
    for pack in packs:
        name = pack.read_pack_name
        pack._pack_name = _BLIND + name
        report = pack.validate_scope(app)
        for violation in report.violations:
            rule = violation.rule_name.removeprefix(_BLIND)
            for resource in violation.violating_resources:
                if resource.construct_path:
                    found.append((rule, resource.construct_path, violation.description))
    return found, set(preflight.plain_resources)


def _cfn_validate_findings(
    assembly: Path,
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]] | None:
    """CloudFormation-Validate's open and suppressed findings from the CDK's own report; None if it did not run.

    Run by the CDK CLI, an app leaves CloudFormation's template checks to the CLI, so its report has none.
    """
    report_path = assembly / "validation-report.json"
    open_: list[tuple[str, str, str]] = []
    suppressed: list[tuple[str, str, str]] = []
    if not report_path.exists():
        return None
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    plugins = [p for p in report.get("pluginReports", []) if p.get("pluginName") == "CloudFormation Validate"]
    if not plugins:
        return None
    for plugin in plugins:
        for key, target in (("violations", open_), ("suppressedViolations", suppressed)):
            for violation in plugin.get(key, []):
                for resource in violation.get("violatingConstructs", []):
                    rule = f"CloudFormation-Validate::{violation['ruleName']}"
                    target.append((rule, resource.get("constructPath", ""), violation.get("description", "")))
    return open_, suppressed


def _control_tower_findings(assembly: Path) -> list[tuple[str, str, str]] | None:
    """The Control Tower plugin's findings from the CDK's report; None if it did not run.

    The CDK cannot apply an acknowledgment to this plugin's findings, so all of them are here
    as violations; `evaluate` matches them against the acknowledgments.
    """
    report_path = assembly / "validation-report.json"
    if not report_path.exists():
        return None
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    plugins = [p for p in report.get("pluginReports", []) if p.get("pluginName") == control_tower.PLUGIN_NAME]
    if not plugins:
        return None
    found: list[tuple[str, str, str]] = []
    for plugin in plugins:
        for violation in plugin.get("violations", []):
            description = violation.get("description", "")
            finding = control_tower.finding_of(description) or f"{control_tower.FINDING_PREFIX}{violation['ruleName']}"
            for resource in violation.get("violatingConstructs", []):
                found.append((finding, resource.get("constructPath") or "", description.split("]:", 1)[-1].strip()))
    return found


def _resources(assembly: Path) -> dict[str, str]:
    """Construct path -> CloudFormation type of every resource in the assembly's templates."""
    found: dict[str, str] = {}
    for template_path in assembly.rglob("*.template.json"):
        template = json.loads(template_path.read_text(encoding="utf-8"))
        for resource in template.get("Resources", {}).values():
            path = resource.get("Metadata", {}).get("aws:cdk:path")
            if path:
                found[path] = resource["Type"]
    return found


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

    def scope(path: str) -> str:
        return scope_of(path, stages)

    resources = _resources(assembly)
    acks = acknowledgments_in(app)
    index = TemplateIndex.load(assembly)
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
    findings, plain = _all_findings(app, dict(external_prerequisites or {}))
    cfn_results = _cfn_validate_findings(assembly)
    cfn_open, cfn_suppressed = cfn_results if cfn_results is not None else ([], [])

    matched: dict[int, int] = defaultdict(int)
    evaluations: list[Evaluation] = []
    noncompliant_pairs: set[tuple[str, str]] = set()
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
    for status, items in ((Status.NON_COMPLIANT, cfn_open), (Status.ACKNOWLEDGED, cfn_suppressed)):
        for finding, path, message in items:
            ack = _matching_ack(acks, finding, path)
            if ack is not None:
                matched[id(ack)] += 1
                if not accepted(ack):
                    status, message = Status.NON_COMPLIANT, f"{message} [{void(ack)}]"
            evaluations.append(
                Evaluation(
                    scope=scope(path),
                    pack="CloudFormation-Validate",
                    rule=finding,
                    finding=finding,
                    status=status,
                    path=path,
                    resource_type=resources.get(path, ""),
                    message=message,
                    reason=ack.text
                    if ack
                    else ("acknowledged by the CDK construct that creates it" if status is Status.ACKNOWLEDGED else ""),
                )
            )
    control_tower_found = _control_tower_findings(assembly)
    for finding, path, message in control_tower_found or []:
        ack = _matching_ack(acks, finding, path)
        if ack is not None:
            matched[id(ack)] += 1
        noncompliant_pairs.add((finding, path))
        evaluations.append(
            Evaluation(
                scope=scope(path),
                pack=control_tower.PACK,
                rule=finding,
                finding=finding,
                status=Status.ACKNOWLEDGED if accepted(ack) else Status.NON_COMPLIANT,
                path=path,
                resource_type=resources.get(path, ""),
                message=message if ack is None or accepted(ack) else f"{message} [{void(ack)}]",
                reason=ack.text if ack else "",
            )
        )
    if control_tower_found is not None:
        rules += control_tower.rules(disabled_controls)
    # Every resource of a type a rule reads, with no finding of that rule, passed it; cdk-nag's rules read
    # no plain CfnResource (they test for an L1 class), so those passed nothing of theirs.
    by_type: dict[str, list[str]] = defaultdict(list)
    for path, resource_type in resources.items():
        by_type[resource_type].append(path)
    for rule in rules:
        targets = (
            list(resources) if "*" in rule.resource_types else [p for t in rule.resource_types for p in by_type[t]]
        )
        if rule.pack not in (PREFLIGHT, control_tower.PACK):  # these read templates, plain resources too
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
            matched=-1 if _did_not_run(a.finding, cfn_results, control_tower_found) else matched[id(a)],
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


def _did_not_run(finding: str, cfn_results: object, control_tower_found: object) -> bool:
    """Whether the check that would raise `finding` did not run in this synth (so its acknowledgment is not stale)."""
    if finding.startswith("CloudFormation-Validate::"):
        return cfn_results is None
    return finding.startswith(control_tower.FINDING_PREFIX) and control_tower_found is None


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
