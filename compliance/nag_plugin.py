"""cdk-nag's packs as the CDK's validation plugins, each run once a synth with every finding kept.

cdk-nag leaves out of its report the findings an acknowledgment covers, and the compliance report
needs those too. Registered as they ship, the packs would run twice a synth: once for the CDK, once
more, blind to acknowledgments, for the evaluation. Wrapped here, each runs once, blind; the wrapper
keeps every finding for the evaluation and gives the CDK the report cdk-nag would have given
(`compliance.nag_adapter`, where what that report is is copied from cdk-nag and tested against it).
"""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag
import jsii
from constructs import IConstruct

from compliance.assembly import CloudAssembly, ConstructNode
from compliance.nag_adapter import (
    Acknowledged,
    BlindRun,
    NagViolation,
    acknowledged_left_out,
    blind_report,
    construct_at,
    findings_of,
    keep,
)
from compliance.plugin_time import PACKS, timed


@jsii.implements(cdk.IPolicyValidationPlugin)
class NagPackPlugin:
    """A cdk-nag pack (e.g. `NIST80053R5Checks`) run once over the app: every finding kept, open ones reported."""

    def __init__(self, pack: cdk_nag.NagPack) -> None:
        self._pack = pack

    @property
    def name(self) -> str:
        return str(self._pack.name)

    @property
    def version(self) -> str | None:
        return self._pack.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._pack.rule_ids

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        app = context.app_construct
        with timed(app, PACKS):
            return self._validate(app)

    def _validate(self, app: IConstruct) -> cdk.PolicyValidationPluginReport:
        report = blind_report(self._pack, app)
        keep(app, self.name, BlindRun(tuple(findings_of(report))))
        if not report:
            return as_report([])
        assembly = assembly_of(app)
        left = acknowledged_left_out(
            report,
            Acknowledged.of(app, assembly),
            walk=lambda: walk_order(assembly),
            alone=lambda path: blind_report(self._pack, construct_at(app, path)),
        )
        return as_report(left)

    def run_blind(self, app: IConstruct) -> BlindRun:
        """Every finding of the pack over `app`, for an app whose synth did not run the plugin."""
        return BlindRun(tuple(findings_of(blind_report(self._pack, app))))


def assembly_of(app: IConstruct) -> CloudAssembly:
    """The assembly `app` (the root of the tree the CDK validates) writes."""
    if not isinstance(app, cdk.Stage):
        raise TypeError(f"validation plugins run over an app, not over {type(app).__name__}")
    return CloudAssembly(app.outdir)


def constructs_of(assembly: CloudAssembly) -> tuple[ConstructNode, ...]:
    """The app's constructs in the order a pack walks them, from the assembly's tree."""
    constructs = assembly.constructs
    if constructs is None:
        raise RuntimeError(
            f"{assembly.directory} has no construct tree (tree.json), in whose order the packs report what they find: "
            "the app must be built with its tree metadata (cdk.App's default)"
        )
    return constructs


def walk_order(assembly: CloudAssembly) -> dict[str, int]:
    """Each construct path's place in the walk of the app's tree."""
    return {node.path: place for place, node in enumerate(constructs_of(assembly))}


def as_report(violations: list[NagViolation]) -> cdk.PolicyValidationPluginReport:
    """A pack's report as the CDK takes it from a plugin: successful when nothing is left in it."""
    return cdk.PolicyValidationPluginReport(
        success=not violations,
        violations=[
            cdk.PolicyViolation(
                rule_name=v.rule,
                description=v.description,
                severity=v.severity,
                violating_resources=[
                    cdk.PolicyViolatingResource(construct_path=r.path, locations=list(r.locations)) for r in v.resources
                ],
            )
            for v in violations
        ],
    )
