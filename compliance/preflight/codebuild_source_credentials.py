"""CodeBuildSourceCredentials: no CodeBuild source URL carries sign-in credentials.

AWS Config's `codebuild-project-source-repo-url-check`, in the FedRAMP Moderate pack the
Baseline deploys, is NON_COMPLIANT for a project whose source repository URL contains sign-in
information (`https://user:token@host/...`). A project reaches its repository through a
CodeConnections connection or CodePipeline's artifact, never a URL with a secret in it.
"""

from __future__ import annotations

import re
from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render

_USERINFO = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]+@", re.I)


def codebuild_source_credentials(resource: ResourceView, ctx: Context) -> Verdict:
    """No source location of the project is a URL with user information."""
    if resource.type != "AWS::CodeBuild::Project":
        return Verdict.not_applicable()
    sources: list[Any] = [resource.properties.get("Source", {}) or {}]
    sources += resource.properties.get("SecondarySources", []) or []
    for source in sources:
        location = render(source.get("Location", ""))
        if _USERINFO.match(location):
            return Verdict.fail(
                "url-credentials",
                "a source location carries sign-in credentials in its URL, which AWS Config's "
                "codebuild-project-source-repo-url-check reports in the account's FedRAMP Moderate pack; connect "
                "the repository through CodeConnections and give the URL without user information",
            )
    return Verdict.ok()


RULE = PreflightRule(
    "CodeBuildSourceCredentials",
    frozenset({"AWS::CodeBuild::Project"}),
    codebuild_source_credentials,
    "A repository URL with credentials in it exposes them to anyone who can read the project, and is "
    "NON_COMPLIANT with the account baseline's codebuild-project-source-repo-url-check.",
    ("IA-5",),
    shortdesc="a source URL with sign-in credentials in it",
)
