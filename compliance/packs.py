"""The rule packs every synth is checked against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import aws_cdk as cdk
import cdk_nag

from compliance import control_tower
from compliance.preflight import PreflightChecks

# Leave the gate to `compliance.gate`, which reads the report the CDK writes and
# prints one line per finding, instead of a jsii exception with a stack trace.
CONTEXT = {"@aws-cdk/core:failSynthOnValidationErrors": False}


def register_packs(
    app: cdk.App,
    *,
    external_prerequisites: Mapping[str, Iterable[str]] | None = None,
    disabled_controls: Iterable[str] = (),
) -> None:
    """Register NIST 800-53 rev 5, AWS Solutions, Preflight and Control Tower's proactive controls on the app.

    They cover the pipeline and every stage. `external_prerequisites` maps a stage
    name to the secrets and parameters that stage may read without creating them
    (declared in configuration); `disabled_controls` are the Control Tower controls
    no organisational unit of the deployment enables.

    Acknowledgments are also written into each resource's template metadata, so a
    deployed template carries the record of what was accepted and why (stages call
    `record_acknowledgments_in_templates` themselves).
    """
    preflight = PreflightChecks(
        external_prerequisites={stage: frozenset(names) for stage, names in (external_prerequisites or {}).items()}
    )
    cdk.Validations.of(app).add_plugins(
        cdk_nag.NIST80053R5Checks(),
        cdk_nag.AwsSolutionsChecks(),
        preflight,
        control_tower.validator(disabled_controls),
    )
    record_acknowledgments_in_templates(app)


def record_acknowledgments_in_templates(stage: cdk.Stage) -> None:
    """Copy each resource's acknowledgments into its template metadata (`cdk_nag.rules_to_suppress`).

    A nested stage synthesizes on its own, and CDK Pipelines synthesizes it as soon
    as it is added to the pipeline, so an aspect on the app never reaches it: each
    stage registers this in its constructor.
    """
    cdk.Aspects.of(stage).add(cdk_nag.WriteNagSuppressionsToCloudFormationAspect())
