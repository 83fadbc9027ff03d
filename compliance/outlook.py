"""What the account baseline will report at runtime about what this synth acknowledged, or could not read.

An acknowledged finding of a synth rule that is the twin of an AWS Config rule (`compliance.twins`)
is a NON_COMPLIANT result of that rule on the same resource once deployed: the gate accepts it,
the conformance pack cannot. `runtime_outlook` lists those results (with whether this app's own
pack evaluates that account and region: it does where a stage's Baseline deploys one there), the
resources no synth rule reads (the plain CloudFormation resources a library writes, which cdk-nag
never sees: AWS Config judges them first), and the Security Hub control findings an automation
rule must suppress (`compliance.securityhub`). Everything is read from the synthesized templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from compliance.assembly import ResourceView, StackView
from compliance.model import Evaluation, RuntimeOutcome, RuntimeResult, Status, Suppression
from compliance.packs import PACKS
from compliance.references import TemplateIndex, render
from compliance.runtime import config_rules
from compliance.securityhub import (
    ACCOUNT_TYPE,
    ARN_FORMATS,
    LOWER_CASE,
    NAME_PROPERTIES,
    SecurityHubControl,
    controls_of,
    parameter_name,
)
from compliance.twins import Twin, twins, twins_by_synth_rule
from config.aws_facts import partition_of

CONFORMANCE_PACK = "AWS::Config::ConformancePack"
# AWS Config records IAM's global resources with every recorder that includes global types (the Baseline's does).
GLOBAL_TYPES = frozenset(
    {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group"}
)
# Packs whose rules read the synthesized templates, and so every resource, plain CfnResources included.
TEMPLATE_READING_PACKS = frozenset(pack.name for pack in PACKS if pack.reads_templates)
_PSEUDO = re.compile(r"<AWS::(Region|AccountId|Partition|URLSuffix)>|\$\{AWS::(Region|AccountId|Partition|URLSuffix)\}")


def runtime_outlook(
    evaluations: Iterable[Evaluation],
    index: TemplateIndex,
    unread: Mapping[str, str],
    reasons: Mapping[tuple[str, str], str],
) -> tuple[list[RuntimeResult], list[Suppression]]:
    """The Config results and Security Hub suppressions the acknowledged findings imply, and what no rule read.

    `unread` maps the path of each resource no cdk-nag rule reads (a plain CfnResource) to its scope; `reasons`
    the (finding, path) of each evaluation one of our acknowledgments accepted to that acknowledgment's reason.
    """
    views = {r.path: r for r in index.all_resources()}
    packs = {(s.account, s.region) for s in index.stacks if _holds(s, CONFORMANCE_PACK)}

    def monitored(view: ResourceView) -> bool:
        where = (view.stack.account, view.stack.region)
        return where in packs or (view.type in GLOBAL_TYPES and any(a == view.stack.account for a, _ in packs))

    results, suppressions = _acknowledged(evaluations, views, index, monitored, reasons)
    for path, scope in sorted(unread.items()):
        view = views.get(path)
        if view is not None:
            for result in _unread(view, scope, monitored(view)):
                results.setdefault((result.config_rule, path), result)
    ordered = sorted(results.values(), key=lambda r: (r.config_rule, r.scope, r.path))
    return ordered, sorted(suppressions, key=lambda s: (s.region, s.control, s.scope, s.path))


def _acknowledged(
    evaluations: Iterable[Evaluation],
    views: Mapping[str, ResourceView],
    index: TemplateIndex,
    monitored: Callable[[ResourceView], bool],
    reasons: Mapping[tuple[str, str], str],
) -> tuple[dict[tuple[str, str], RuntimeResult], list[Suppression]]:
    """Per (Config rule, path) the result an acknowledged twin finding implies; and the Security Hub suppressions."""
    in_pack = {r.source_identifier for r in config_rules()}
    by_twin = twins_by_synth_rule()
    results: dict[tuple[str, str], RuntimeResult] = {}
    suppressions: dict[tuple[str, tuple[str, ...]], Suppression] = {}
    for evaluation in evaluations:
        view = views.get(evaluation.path)
        if evaluation.status is not Status.ACKNOWLEDGED or view is None:
            continue
        # Acknowledged by one of ours: its reason as written; by the construct that creates it: what the CDK says.
        reason = reasons.get((evaluation.finding, evaluation.path), evaluation.reason)
        for row in (r for r in by_twin.get(evaluation.rule, ()) if r.covers(view.type, view.properties)):
            if row.config_rule in in_pack:
                result = _result(row, evaluation, view, monitored(view), reason)
                results.setdefault((row.config_rule, view.path), result)
            for control in controls_of(row.config_rule):
                for suppression in _suppressions(control, row, evaluation, view, index, reason):
                    key = (suppression.control, suppression.resource_ids or (view.path,))
                    suppressions.setdefault(key, suppression)
    return results, list(suppressions.values())


def _unread(view: ResourceView, scope: str, monitored: bool) -> list[RuntimeResult]:
    """The pack's Config rules that judge a resource no cdk-nag rule reads, where only cdk-nag rules are its twins."""
    return [
        RuntimeResult(
            config_rule=rule,
            outcome=RuntimeOutcome.NOT_CHECKED,
            scope=scope,
            account=view.stack.account,
            region=view.stack.region,
            path=view.path,
            resource_type=view.type,
            monitored=monitored,
        )
        for rule in _unread_rules(view, {r.source_identifier for r in config_rules()})
    ]


def _holds(stack: StackView, resource_type: str) -> bool:
    return any(r.get("Type") == resource_type for r in stack.resources.values())


def _result(row: Twin, evaluation: Evaluation, view: ResourceView, monitored: bool, reason: str) -> RuntimeResult:
    outcome = RuntimeOutcome.MAY_BE_NON_COMPLIANT if row.relation == "stricter" else RuntimeOutcome.NON_COMPLIANT
    return RuntimeResult(
        config_rule=row.config_rule,
        outcome=outcome,
        scope=evaluation.scope,
        account=view.stack.account,
        region=view.stack.region,
        path=view.path,
        resource_type=view.type,
        finding=evaluation.finding,
        reason=reason,
        monitored=monitored,
    )


def _unread_rules(view: ResourceView, in_pack: set[str]) -> list[str]:
    """The pack's Config rules that judge this resource and whose every twin is a pack that cannot read it."""
    found: list[str] = []
    for rule in sorted(in_pack):
        rows = [t for t in twins() if t.config_rule == rule]
        relevant = [t for t in rows if t.evaluated_by_config(view.type, view.properties)]
        named = [t for t in relevant if t.twin]
        if named and all(t.pack not in TEMPLATE_READING_PACKS for t in named):
            found.append(rule)
    return found


def _suppressions(
    control: SecurityHubControl,
    row: Twin,
    evaluation: Evaluation,
    view: ResourceView,
    index: TemplateIndex,
    reason: str,
) -> list[Suppression]:
    """One suppression per resource the control's finding names: the acknowledged one, or what it belongs to."""
    if ACCOUNT_TYPE in control.resource_types:
        subjects: list[ResourceView | None] = [None]
    elif view.type in control.resource_types:
        subjects = [view]
    else:
        # An inline policy's finding names the roles, users and groups that hold it.
        holders = [view.properties.get(p) or [] for p in ("Roles", "Users", "Groups")]
        resolved = [index.resolve(view.stack, h) for hs in holders for h in hs]
        subjects = [r for r in resolved if r is not None and r.type in control.resource_types]
    found: list[Suppression] = []
    for subject in subjects:
        ids, parameter, stack_name, logical_id = (
            ((f"{ACCOUNT_TYPE}:{view.stack.account}",), "", "", "") if subject is None else resource_ids(subject, index)
        )
        found.append(
            Suppression(
                control=control.control,
                config_rule=row.config_rule,
                finding=evaluation.finding,
                scope=evaluation.scope,
                account=view.stack.account,
                region=view.stack.region,
                path=view.path,
                resource_type=ACCOUNT_TYPE if subject is None else subject.type,
                reason=reason,
                resource_ids=ids,
                parameter=parameter,
                stack_name=stack_name,
                logical_id=logical_id,
            )
        )
    return found


def resource_ids(view: ResourceView, index: TemplateIndex) -> tuple[tuple[str, ...], str, str, str]:
    """(ARNs, parameter, stack, logical id): the ARN Security Hub names the resource by, from the template.

    Where the template fixes the resource's name the ARN is literal; where CloudFormation generates it,
    the ARN holds `${Parameter}` for the physical id, read from the deployed stack (the parameter's
    stack and logical id say where). No ARN form known for the type: `((), ...)`.
    """
    form = ARN_FORMATS.get(view.type)
    if form is None:
        return (), "", "", ""
    stack = view.stack
    values: dict[str, str] = {
        "partition": partition_of(stack.region),
        "region": stack.region,
        "account": stack.account,
        "rest_api": "",
    }
    parameter, source = "", view
    name_property = NAME_PROPERTIES.get(view.type)
    known = _literal(view.properties.get(name_property), stack) if name_property else None
    if view.type == "AWS::ApiGateway::Stage":
        api = index.resolve(stack, view.properties.get("RestApiId"))
        if known is None or api is None:
            return (), "", "", ""
        source = api
        parameter = parameter_name(stack.stack_name, api.logical_id)
        values["rest_api"] = "${" + parameter + "}"
        values["id"] = known
    elif known is not None:
        values["id"] = known.lower() if view.type in LOWER_CASE else known
    else:
        parameter = parameter_name(stack.stack_name, view.logical_id)
        values["id"] = "${" + parameter + "}"
    arn = form.format(**values)
    # Security Hub may name a log group with or without CloudWatch Logs' ":*" suffix: both are listed.
    ids = (arn, f"{arn}:*") if view.type == "AWS::Logs::LogGroup" else (arn,)
    return ids, parameter, (stack.stack_name if parameter else ""), (source.logical_id if parameter else "")


def _literal(value: Any, stack: StackView) -> str | None:
    """A name as deployed, when the template fixes it (pseudo-parameters resolved); None when generated."""
    if value is None:
        return None
    text = render(value)
    pseudo = {"Region": stack.region, "AccountId": stack.account, "Partition": partition_of(stack.region)}
    text = _PSEUDO.sub(lambda m: pseudo.get(m.group(1) or m.group(2), m.group(0)), text)
    if "<" in text or "${" in text or not text:
        return None
    return text
