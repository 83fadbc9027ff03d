"""CodeBuildSourceCredentials on plain templates: no sign-in credentials in a source URL."""

from __future__ import annotations

from typing import Any

from compliance.preflight.codebuild_source_credentials import codebuild_source_credentials
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _project(**properties: Any) -> dict[str, dict[str, Any]]:
    base = {"Artifacts": {"Type": "CODEPIPELINE"}, "Source": {"Type": "CODEPIPELINE"}, "Environment": {}}
    return {"Project": resource("AWS::CodeBuild::Project", {**base, **properties})}


def test_a_source_url_with_credentials_fails_and_one_without_passes() -> None:
    clean = {"Type": "BITBUCKET", "Location": "https://bitbucket.org/fixture-org/repo.git"}
    assert_passes(check(codebuild_source_credentials, _project(Source=clean), "Project"))
    leaked = {"Type": "BITBUCKET", "Location": "https://builder:token123@bitbucket.org/fixture-org/repo.git"}
    verdict = check(codebuild_source_credentials, _project(SecondarySources=[leaked]), "Project")
    assert_fails(verdict, "url-credentials", "codebuild-project-source-repo-url-check", "CodeConnections")


def test_other_types_are_not_applicable() -> None:
    group = {"Group": resource("AWS::CodeBuild::ReportGroup", {"Type": "TEST"})}
    assert_not_applicable(check(codebuild_source_credentials, group, "Group"))
