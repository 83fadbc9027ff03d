"""The Preflight rules as a validation plugin, registered next to NIST 800-53 R5 and AWS Solutions.

Its findings land in the same validation report, and a finding is acknowledged the same way, e.g.
`Preflight-RDSEngineVersion[postgres-15.4]`: its report is the one a cdk-nag pack gives, without the
findings an acknowledgment covers on the resource or an ancestor (`compliance.nag_adapter`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import aws_cdk as cdk
import jsii
from constructs import IConstruct

from compliance.assembly import CloudAssembly, ResourceView
from compliance.nag_adapter import Acknowledged, BlindRun, NagResource, NagViolation, findings_of, grouped, keep
from compliance.nag_plugin import as_report, assembly_of, constructs_of
from compliance.plugin_time import PACKS, timed
from compliance.preflight import RULES
from compliance.preflight.base import PACK, Context
from compliance.references import TemplateIndex


@dataclass(frozen=True)
class _Finding:
    """One failing verdict, as cdk-nag's `applyRule` would have reported it."""

    finding: str  # "Preflight-RDSEngineVersion[postgres-15.4]"
    message: str
    path: str


@jsii.implements(cdk.IPolicyValidationPlugin)
class PreflightChecks:
    """Deployability rules over the synthesized templates, registered next to NIST 800-53 R5 and AWS Solutions.

    The rules read the templates the synth wrote (validation runs after it), and so does the pack: it
    takes the resources in the order a walk of the construct tree finds them, as the assembly records
    the tree, so its report reads as a cdk-nag pack's would, and never calls into the tree itself.
    """

    def __init__(self, *, external_prerequisites: Mapping[str, frozenset[str]] | None = None) -> None:
        self._external = dict(external_prerequisites or {})

    @property
    def name(self) -> str:
        return PACK

    @property
    def version(self) -> str | None:
        return None

    @property
    def rule_ids(self) -> list[str]:
        return [f"{PACK}-{rule.rule_id}" for rule in RULES]

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        app = context.app_construct
        with timed(app, PACKS):
            assembly = assembly_of(app)
            run, found = self._run(assembly)
            keep(app, PACK, run)
            acknowledged = Acknowledged.of(app, assembly)
            return as_report(_report(f for f in found if not acknowledged.covers(f.path, f.finding)))

    def run_blind(self, app: IConstruct) -> BlindRun:
        """Every finding of the rules over `app`'s assembly, for an app whose synth did not run the plugin."""
        return self._run(assembly_of(app))[0]

    def _run(self, assembly: CloudAssembly) -> tuple[BlindRun, list[_Finding]]:
        """What the rules find over the assembly, blind to acknowledgments, and each finding in the order found."""
        index = TemplateIndex.load(assembly)
        plain: set[str] = set()
        not_applicable: set[tuple[str, str]] = set()
        found: list[_Finding] = []
        for path, resource in self._resources(assembly, index, plain):
            context = Context(index=index, external_prerequisites=self._external.get(resource.stack.stage, frozenset()))
            for rule in RULES:
                if rule.reads(resource.type):
                    verdict = rule.check(resource, context)
                    if not verdict.applies:
                        not_applicable.add((f"{PACK}-{rule.rule_id}", path))
                    if verdict.failed:
                        message = verdict.message or rule.explanation
                        found.append(_Finding(_finding_id(rule.rule_id, verdict.finding), message, path))
        run = BlindRun(tuple(findings_of(_report(found))), frozenset(plain), frozenset(not_applicable))
        return run, found

    @staticmethod
    def _resources(
        assembly: CloudAssembly, index: TemplateIndex, plain: set[str]
    ) -> Iterator[tuple[str, ResourceView]]:
        """(construct path, resource) of every resource in a template, in the order a walk of the tree finds them.

        Each is found by its path metadata, or by the logical id the stack's manifest records for its construct;
        `plain` gets the path of each construct of the tree written as a plain CfnResource.
        """
        for node in constructs_of(assembly):
            if node.plain_resource:
                plain.add(node.path)
            resource = index.resource(node.path)
            if resource is None and node.path in assembly.logical_ids:
                resource = index.resource_by_logical_id(node.path, assembly.logical_ids[node.path])
            if resource is not None:  # a resource not in a template (removed by an override) deploys nothing
                yield node.path, resource


def _finding_id(rule_id: str, finding: str) -> str:
    """The id cdk-nag gives a rule's finding, `Preflight-<rule>[<finding>]`: the finding in the characters a
    validation id allows."""
    rule = f"{PACK}-{rule_id}"
    return f"{rule}[{re.sub(r'[^A-Za-z0-9._/:@+=-]', '-', finding)}]" if finding else rule


def _report(found: Iterable[_Finding]) -> list[NagViolation]:
    """The findings as a cdk-nag pack's report gives them, each an error on the resource's properties."""
    return grouped((f.finding, f.message, "error", NagResource(f.path)) for f in found)
