"""CodeBuildPlaintextCredentials on plain templates: no AWS credentials in a plaintext build environment."""

from __future__ import annotations

from typing import Any

from compliance.preflight.codebuild_plaintext_credentials import codebuild_plaintext_credentials
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _project(**properties: Any) -> dict[str, dict[str, Any]]:
    base = {"Artifacts": {"Type": "CODEPIPELINE"}, "Source": {"Type": "CODEPIPELINE"}, "Environment": {}}
    return {"Project": resource("AWS::CodeBuild::Project", {**base, **properties})}


def _environment(*variables: dict[str, str]) -> dict[str, Any]:
    return {"ComputeType": "BUILD_GENERAL1_SMALL", "EnvironmentVariables": list(variables)}


def test_credentials_from_secrets_manager_pass_and_plaintext_ones_fail() -> None:
    secret = {"Name": "AWS_SECRET_ACCESS_KEY", "Type": "SECRETS_MANAGER", "Value": "build/key"}
    assert_passes(check(codebuild_plaintext_credentials, _project(Environment=_environment(secret)), "Project"))
    plain = {"Name": "AWS_ACCESS_KEY_ID", "Value": "AKIAIOSFODNN7EXAMPLE"}
    verdict = check(codebuild_plaintext_credentials, _project(Environment=_environment(plain)), "Project")
    assert_fails(verdict, "AWS_ACCESS_KEY_ID", "codebuild-project-envvar-awscred-check", "project's role")


def test_other_types_are_not_applicable() -> None:
    group = {"Group": resource("AWS::CodeBuild::ReportGroup", {"Type": "TEST"})}
    assert_not_applicable(check(codebuild_plaintext_credentials, group, "Group"))
