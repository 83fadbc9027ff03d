"""CodeBuildLogging on plain templates: a project keeps at least one of its logs."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.preflight.codebuild_logging import codebuild_logging
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _project(**properties: Any) -> dict[str, dict[str, Any]]:
    base = {"Artifacts": {"Type": "CODEPIPELINE"}, "Source": {"Type": "CODEPIPELINE"}, "Environment": {}}
    return {"Project": resource("AWS::CodeBuild::Project", {**base, **properties})}


@pytest.mark.parametrize(
    "logs",
    [
        None,
        {"CloudWatchLogs": {"Status": "ENABLED"}},
        {"CloudWatchLogs": {"Status": "DISABLED"}, "S3Logs": {"Status": "ENABLED", "Location": "b/p"}},
    ],
)
def test_a_project_keeping_one_log_passes(logs: dict[str, Any] | None) -> None:
    properties = {"LogsConfig": logs} if logs is not None else {}
    assert_passes(check(codebuild_logging, _project(**properties), "Project"))


def test_a_project_with_every_log_disabled_fails() -> None:
    logs = {"CloudWatchLogs": {"Status": "DISABLED"}, "S3Logs": {"Status": "DISABLED"}}
    verdict = check(codebuild_logging, _project(LogsConfig=logs), "Project")
    assert_fails(verdict, "disabled", "codebuild-project-logging-enabled", "keep its CloudWatch Logs")


def test_other_types_are_not_applicable() -> None:
    group = {"Group": resource("AWS::CodeBuild::ReportGroup", {"Type": "TEST"})}
    assert_not_applicable(check(codebuild_logging, group, "Group"))
