"""CodeBuildPlaintextCredentials: no CodeBuild project holds AWS credentials as plain environment variables.

AWS Config's `codebuild-project-envvar-awscred-check`, in the FedRAMP Moderate pack the
Baseline deploys, is NON_COMPLIANT for a project whose environment has AWS_ACCESS_KEY_ID or
AWS_SECRET_ACCESS_KEY as plaintext variables. A project signs in with its service role.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict

_CREDENTIALS = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"})


def codebuild_plaintext_credentials(resource: ResourceView, ctx: Context) -> Verdict:
    """The project's environment has no plaintext AWS credential variable."""
    if resource.type != "AWS::CodeBuild::Project":
        return Verdict.not_applicable()
    variables = (resource.properties.get("Environment", {}) or {}).get("EnvironmentVariables", []) or []
    plain = sorted(
        str(v.get("Name"))
        for v in variables
        if v.get("Name") in _CREDENTIALS and v.get("Type", "PLAINTEXT") == "PLAINTEXT"
    )
    if not plain:
        return Verdict.ok()
    return Verdict.fail(
        "+".join(plain),
        f"the project's environment sets {', '.join(plain)} as plaintext, which AWS Config's "
        "codebuild-project-envvar-awscred-check reports in the account's FedRAMP Moderate pack; remove them and "
        "grant the project's role what it needs",
    )


RULE = PreflightRule(
    "CodeBuildPlaintextCredentials",
    frozenset({"AWS::CodeBuild::Project"}),
    codebuild_plaintext_credentials,
    "AWS credentials in a CodeBuild project's plaintext environment are readable by anyone who can read the "
    "project, and NON_COMPLIANT with the account baseline's codebuild-project-envvar-awscred-check.",
    ("IA-5", "SC-28"),
    shortdesc="AWS credentials as plaintext build variables",
)
