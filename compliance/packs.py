"""The rule packs every synth is checked against."""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag

# Leave the gate to `compliance.gate`, which reads the report the CDK writes and
# prints one line per finding, instead of a jsii exception with a stack trace.
CONTEXT = {"@aws-cdk/core:failSynthOnValidationErrors": False}


def register_packs(app: cdk.App) -> None:
    """Register NIST 800-53 rev 5 and AWS Solutions on the app: they cover the pipeline and every stage.

    Acknowledgments are also written into each resource's template metadata, so a
    deployed template carries the record of what was accepted and why.
    """
    cdk.Validations.of(app).add_plugins(
        cdk_nag.NIST80053R5Checks(app, write_suppressions_to_cloud_formation=True),
        cdk_nag.AwsSolutionsChecks(app),
    )
