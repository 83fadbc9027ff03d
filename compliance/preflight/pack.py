"""The Preflight rules as a cdk-nag 3 `NagPack`, registered next to NIST 800-53 R5 and AWS Solutions.

Its findings land in the same validation report, and a finding is acknowledged the same
way, e.g. `Preflight-RDSEngineVersion[postgres-15.4]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import aws_cdk as cdk
import cdk_nag
import jsii

from compliance.preflight import RULES
from compliance.preflight.base import PACK, Context, PreflightRule, Verdict
from compliance.references import TemplateIndex


@jsii.implements(cdk_nag.IApplyRule)
class _Application:
    """One rule applied to one resource, in the shape cdk-nag's `applyRule` expects."""

    def __init__(self, node: cdk.CfnResource, rule: PreflightRule, verdict: Verdict) -> None:
        self._node = node
        self._rule = rule
        self._verdict = verdict

    @property
    def node(self) -> cdk.CfnResource:
        return self._node

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.rule_id

    @property
    def info(self) -> str:
        return self._verdict.message or self._rule.explanation

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> cdk_nag.NagMessageLevel:
        return cdk_nag.NagMessageLevel.ERROR

    def rule(self, node: cdk.CfnResource) -> Any:
        del node  # the (failing) verdict was computed in Python; hand it to cdk-nag as its result
        if not self._verdict.finding:
            return cdk_nag.NagRuleCompliance.NON_COMPLIANT
        # Finding ids become validation ids: keep them to the characters those allow.
        return [re.sub(r"[^A-Za-z0-9._/:@+=-]", "-", self._verdict.finding)]


class PreflightChecks(cdk_nag.NagPack):
    """Deployability rules, registered next to NIST 800-53 R5 and AWS Solutions.

    The rules read the synthesized templates (validation runs after synth), so a
    resource costs one call across the jsii bridge to learn its path, plus one
    more only when a rule finds something to report.
    """

    def __init__(self, *, external_prerequisites: Mapping[str, frozenset[str]] | None = None) -> None:
        super().__init__()
        self._pack_name = PACK
        self._external = dict(external_prerequisites or {})
        self._index: TemplateIndex | None = None
        # Paths of the resources written as plain CfnResources (a library's custom-resource provider), which
        # cdk-nag's rules never read: they test for the L1 class of a type, not the type.
        self.plain_resources: set[str] = set()
        # (rule id, path) of each resource a rule reads the type of but found it does not apply to: no pass of it.
        self.not_applicable: set[tuple[str, str]] = set()

    @property
    def name(self) -> str:
        return PACK

    @property
    def rule_ids(self) -> list[str]:
        return [f"{PACK}-{rule.rule_id}" for rule in RULES]

    def _check_resource(self, node: cdk.CfnResource) -> None:
        index = self._index
        if index is None:
            # The assembly the validation runs on: the app's output directory.
            app = node.node.root
            assert isinstance(app, cdk.Stage)
            index = self._index = TemplateIndex.load(app.outdir)
        path = node.node.path
        if type(node) is cdk.CfnResource:
            self.plain_resources.add(path)
        resource = index.resource(path)
        if resource is None:  # templates written without path metadata: find it by logical id
            stack = cdk.Stack.of(node)
            resource = index.resource_by_logical_id(path, stack.resolve(stack.get_logical_id(node)))
        if resource is None:
            return  # not in a template (e.g. removed by an override): nothing deploys, nothing to check
        context = Context(index=index, external_prerequisites=self._external.get(resource.stack.stage, frozenset()))
        for rule in RULES:
            if rule.reads(resource.type):
                verdict = rule.check(resource, context)
                if not verdict.applies:
                    self.not_applicable.add((f"{PACK}-{rule.rule_id}", path))
                if verdict.failed:
                    # jsii reads the application's members as properties; the protocol types them as variables.
                    self._apply_rule(cast(cdk_nag.IApplyRule, _Application(node, rule, verdict)))

    def validate_scope(self, scope: Any) -> Any:
        self._index = None  # a new walk of the tree reads the assembly as it is now
        self.plain_resources = set()
        self.not_applicable = set()
        return super().validate_scope(scope)
