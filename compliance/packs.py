"""The rule packs every synth is checked against: one list, `PACKS`, and their registration on the app.

Registration, the evaluation (which packs keep their findings for it, whose findings it reads from the
CDK's validation report, which rules it counts as passed), the gate, the finding ids `acknowledge` accepts
and the synth summary all read `PACKS`: a pack is added by appending it here (cdk-nag's own packs are
named in `compliance.catalogue`, which reads their rules). The module imports neither the CDK nor
cdk-nag until a pack is registered, so the synth driver reads the list without starting jsii.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compliance import control_tower
from compliance.catalogue import NAG_PACKS, control_tower_rules
from compliance.nag_adapter import nag_pack
from compliance.preflight.base import PACK as PREFLIGHT

if TYPE_CHECKING:
    from pathlib import Path

    import aws_cdk as cdk

    from compliance.assembly import Violation
    from compliance.model import Rule

# Leave the gate to `compliance.gate`, which reads the report the CDK writes and
# prints one line per finding, instead of a jsii exception with a stack trace.
CONTEXT = {"@aws-cdk/core:failSynthOnValidationErrors": False}


@dataclass(frozen=True)
class PackOptions:
    """What the configuration tells the packs."""

    # Stage name -> the secrets and parameters it may read without creating them.
    external_prerequisites: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Control Tower controls no organisational unit of the deployment enables.
    disabled_controls: tuple[str, ...] = ()


def _rule_and_description(violation: Violation) -> tuple[str, str]:
    return violation.rule, violation.description


@dataclass(frozen=True)
class Pack:
    """One pack of rules: how the app registers it, and where the evaluation finds its findings.

    A pack cdk-nag ships names its class (`cdk_nag_class`): its rules are read from cdk-nag's sources,
    and since cdk-nag drops an acknowledged finding before the CDK sees it, it is registered wrapped
    (`compliance.nag_plugin`): run once, blind to acknowledgments, it keeps every finding for the
    evaluation. A pack of our own, or of another library, builds its validation plugin (`create`);
    Preflight's keeps its findings the same way. A pack whose findings, open and acknowledged, the
    evaluation reads from the CDK's validation report names its plugin there (`report_plugin`); `read`
    gives the rule and message of one of its violations, and `rules` the rules it evaluates, which pass
    where it reports nothing. The CDK's own template checks are such a pack, which the CDK runs without
    being asked.
    """

    name: str  # the prefix of its finding ids, and its name in every report
    cdk_nag_class: str = ""
    create: Callable[[PackOptions], Any] | None = None
    report_plugin: str = ""
    read: Callable[[Violation], tuple[str, str]] = _rule_and_description
    rules: Callable[[PackOptions], Sequence[Rule]] | None = None
    rule_pattern: str = r"[A-Za-z0-9]+(\[.+\])?"  # what follows the prefix in a finding id
    # The id the CDK matches against its plugin's violations, for a finding id of ours; the same id when None.
    validation_id: Callable[[str], str] | None = None
    # For a pack read from the report: whether it ran over these templates in this app's synth (the CDK leaves a
    # plugin with nothing to report out of its report); None where only its report tells.
    ran_on: Callable[[object, Iterable[Path]], bool] | None = None

    @property
    def registered(self) -> bool:
        """Whether the app registers it as a validation plugin."""
        return bool(self.cdk_nag_class or self.create)

    @property
    def keeps_findings(self) -> bool:
        """Whether the evaluation reads its findings, acknowledged or not, from what its plugin kept in the synth.

        Such a plugin runs blind to acknowledgments and can run so again (`run_blind`) for an app whose synth
        did not run it.
        """
        return self.registered and not self.report_plugin

    @property
    def reads_templates(self) -> bool:
        """Whether its rules read the synthesized templates, and so every resource, plain CfnResources included.

        cdk-nag's own rules test a resource's L1 class: a plain CfnResource (a library's custom-resource
        provider) is never read by them.
        """
        return not self.cdk_nag_class

    @property
    def finding_prefix(self) -> str:
        """How its finding ids begin: `AwsSolutions-IAM5[...]`, `CloudFormation-Validate::W3010`."""
        return f"{self.name}::" if self.report_plugin else f"{self.name}-"

    def finding(self, violation: Violation) -> tuple[str, str]:
        """(finding id, message) of one violation in the validation report of a pack read from there."""
        rule, message = self.read(violation)
        return f"{self.finding_prefix}{rule}", message

    def acknowledgment_id(self, finding: str) -> str:
        """The id `cdk.Validations.acknowledge` takes for `finding`, so the CDK suppresses the violation."""
        return self.validation_id(finding) if self.validation_id else finding

    def plugin(self, options: PackOptions) -> Any:
        """A new instance of its validation plugin; None for one the CDK runs by itself."""
        if self.cdk_nag_class:
            from compliance.nag_plugin import NagPackPlugin

            return NagPackPlugin(nag_pack(self.cdk_nag_class))
        return self.create(options) if self.create is not None else None


# The plugins are jsii classes: their modules are imported only when the app registers them.


def _preflight(options: PackOptions) -> Any:
    from compliance.preflight.pack import PreflightChecks

    return PreflightChecks(external_prerequisites=options.external_prerequisites)


def _control_tower(options: PackOptions) -> Any:
    from compliance.control_tower_validator import validator

    return validator(options.disabled_controls)


PACKS: tuple[Pack, ...] = (
    *(Pack(name, cdk_nag_class=nag_class) for name, nag_class in NAG_PACKS.items()),
    Pack(PREFLIGHT, create=_preflight),
    # The CDK's template checks (cfn-lint's rules), run when the app synthesizes itself (`validateAgainstDefaultRules`).
    Pack("CloudFormation-Validate", report_plugin="CloudFormation Validate"),
    # Control Tower's proactive controls; the CDK suppresses a violation under the plugin's rule name (`validation_id`).
    Pack(
        control_tower.PACK,
        create=_control_tower,
        report_plugin=control_tower.PLUGIN_NAME,
        read=control_tower.read_violation,
        rules=lambda options: control_tower_rules(options.disabled_controls),
        rule_pattern=control_tower.CONTROL_ID_PATTERN,
        validation_id=control_tower.validation_id,
        ran_on=control_tower.ran_on,
    ),
)


def pack_of(finding: str) -> Pack:
    """The pack a finding id belongs to (`acknowledge` has checked it is one of theirs)."""
    return next(p for p in PACKS if finding.startswith(p.finding_prefix))


def report_pack(plugin: str) -> Pack | None:
    """The pack whose findings are read from the validation report under plugin name `plugin`."""
    return next((p for p in PACKS if p.report_plugin and p.report_plugin == plugin), None)


def register_packs(
    app: cdk.App,
    *,
    external_prerequisites: Mapping[str, Iterable[str]] | None = None,
    disabled_controls: Iterable[str] = (),
) -> None:
    """Register every pack of `PACKS` the app runs (NIST 800-53 rev 5, AWS Solutions, Preflight, Control Tower).

    They cover the pipeline and every stage. `external_prerequisites` maps a stage name to the
    secrets and parameters that stage may read without creating them (declared in configuration);
    `disabled_controls` are the Control Tower controls no organisational unit of the deployment enables.

    Acknowledgments are also written into each resource's template metadata, so a
    deployed template carries the record of what was accepted and why (stages call
    `record_acknowledgments_in_templates` themselves).
    """
    import aws_cdk as cdk

    options = PackOptions(
        external_prerequisites={stage: frozenset(names) for stage, names in (external_prerequisites or {}).items()},
        disabled_controls=tuple(disabled_controls),
    )
    cdk.Validations.of(app).add_plugins(*(pack.plugin(options) for pack in PACKS if pack.registered))
    record_acknowledgments_in_templates(app)


def record_acknowledgments_in_templates(stage: cdk.Stage) -> None:
    """Copy each resource's acknowledgments into its template metadata (`cdk_nag.rules_to_suppress`).

    A nested stage synthesizes on its own, and CDK Pipelines synthesizes it as soon
    as it is added to the pipeline, so an aspect on the app never reaches it: each
    stage registers this in its constructor.
    """
    import aws_cdk as cdk
    import cdk_nag

    cdk.Aspects.of(stage).add(cdk_nag.WriteNagSuppressionsToCloudFormationAspect())
