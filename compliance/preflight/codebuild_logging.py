"""CodeBuildLogging: a CodeBuild project keeps at least one of its logs.

AWS Config's `codebuild-project-logging-enabled`, in the FedRAMP Moderate pack the Baseline
deploys, is NON_COMPLIANT for a project whose every log configuration is disabled. CloudWatch
Logs is on unless `LogsConfig.CloudWatchLogs.Status` says DISABLED; S3 logs are off unless
`LogsConfig.S3Logs.Status` says ENABLED.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict


def codebuild_logging(resource: ResourceView, ctx: Context) -> Verdict:
    """CloudWatch Logs or S3 logs of the project are enabled."""
    if resource.type != "AWS::CodeBuild::Project":
        return Verdict.not_applicable()
    logs = resource.properties.get("LogsConfig", {}) or {}
    cloudwatch = (logs.get("CloudWatchLogs", {}) or {}).get("Status", "ENABLED")
    s3 = (logs.get("S3Logs", {}) or {}).get("Status", "DISABLED")
    if cloudwatch != "DISABLED" or s3 == "ENABLED":
        return Verdict.ok()
    return Verdict.fail(
        "disabled",
        "the project disables every log, which AWS Config's codebuild-project-logging-enabled reports in the "
        "account's FedRAMP Moderate pack and leaves its builds without a record; keep its CloudWatch Logs",
    )


RULE = PreflightRule(
    "CodeBuildLogging",
    frozenset({"AWS::CodeBuild::Project"}),
    codebuild_logging,
    "A CodeBuild project with every log disabled leaves no record of what its builds ran, and is NON_COMPLIANT "
    "with the account baseline's codebuild-project-logging-enabled.",
    ("AU-2", "AU-12"),
    shortdesc="a build project with every log disabled",
)
