"""UnpinnedToolInstall on plain templates and buildspec files: every installed tool names an exact version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compliance.preflight.unpinned_tool_install import (
    check_assembly_buildspecs,
    unpinned_installs,
    unpinned_tool_install,
)
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _buildspec(*install: str) -> str:
    """A buildspec as the CDK writes it: JSON text."""
    return json.dumps({"version": "0.2", "phases": {"install": {"commands": list(install)}}}, indent=2)


def _project(buildspec: Any) -> dict[str, dict[str, Any]]:
    source = {"Type": "CODEPIPELINE", "BuildSpec": buildspec}
    return {"Project": resource("AWS::CodeBuild::Project", {"Source": source})}


@pytest.mark.parametrize(
    "command",
    [
        "npm install -g aws-cdk@2.1100.0",
        "npm i -g @aws-cdk/cdk-assets@3.0.1",
        "npm ci",
        "npm install left-pad",  # a project install: package.json and its lock file decide
        "npx cdk synth",  # the project's installed copy
        "python3 -m pip install --quiet -r requirements-smoke.txt",
        "pip install -r requirements.txt -c constraints.txt",
        "pip install -c constraints.txt cfn-lint",
        "pip3 install boto3==1.35.0 ./tools",
        "gem install cfn-nag -v 0.8.10",
        "gem install cfn-nag:0.8.10",
        "make synth",
    ],
)
def test_pinned_installs_and_other_commands_pass(command: str) -> None:
    assert unpinned_installs(_buildspec(command)) == []


@pytest.mark.parametrize(
    ("command", "spec", "advice"),
    [
        ("npm install -g aws-cdk", "aws-cdk", "npm install -g aws-cdk@<exact version>"),
        ("npm i -g cdk-assets@latest", "cdk-assets@latest", "npm install -g cdk-assets@<exact version>"),
        ("npm install --global aws-cdk@2", "aws-cdk@2", "npm install -g aws-cdk@<exact version>"),
        ("npx aws-cdk@latest deploy", "aws-cdk@latest", "npx aws-cdk@<version>"),
        ("pip install cfn-lint", "cfn-lint", "pip install cfn-lint==<version>"),
        ("python3 -m pip install --upgrade pip", "pip", "pip install pip==<version>"),
        ("pip install -r requirements.txt checkov>=3", "checkov>=3", "pip install checkov==<version>"),
        ("gem install cfn-nag", "cfn-nag", "gem install cfn-nag -v <version>"),
    ],
)
def test_unpinned_installs_are_named_with_the_command(command: str, spec: str, advice: str) -> None:
    (install,) = unpinned_installs(_buildspec(command))
    assert install.spec == spec
    assert f"{command!r} installs {spec} without a pinned version" in install.message
    assert advice in install.message


def test_commands_joined_in_one_line_are_read_one_by_one() -> None:
    installs = unpinned_installs(_buildspec("npm ci && npm install -g aws-cdk; pip install cfn-lint==1.0.0"))
    assert [i.spec for i in installs] == ["aws-cdk"]


def test_a_project_that_pins_its_tools_passes() -> None:
    assert_passes(check(unpinned_tool_install, _project(_buildspec("npm install -g aws-cdk@2.1100.0")), "Project"))


def test_a_project_that_installs_the_newest_cli_says_to_pin_it() -> None:
    verdict = check(unpinned_tool_install, _project(_buildspec("npm install -g aws-cdk")), "Project")
    assert_fails(verdict, "aws-cdk", "'npm install -g aws-cdk'", "pin it: npm install -g aws-cdk@<exact version>")


def test_a_buildspec_joined_with_references_and_written_as_yaml_is_read() -> None:
    joined = {
        "Fn::Join": [
            "",
            [
                '{"phases": {"build": {"commands": ["aws lambda invoke --function-name ',
                {"Ref": "Fn"},
                ' out", "npm install -g aws-cdk"]}}}',
            ],
        ]
    }
    assert_fails(check(unpinned_tool_install, _project(joined), "Project"), "aws-cdk")
    yaml_text = "version: 0.2\nphases:\n  install:\n    commands:\n      - gem install cfn-nag\n"
    assert_fails(check(unpinned_tool_install, _project(yaml_text), "Project"), "cfn-nag")


def test_a_buildspec_file_name_and_other_types_are_not_applicable() -> None:
    file_name = "buildspec-c89ea2755f69744f0411f7b91d60224ce28e119295-FileAsset.yaml"
    assert_not_applicable(check(unpinned_tool_install, _project(file_name), "Project"))
    assert_not_applicable(check(unpinned_tool_install, {"Topic": resource("AWS::SNS::Topic")}, "Topic"))


def test_assembly_buildspec_files_are_checked(tmp_path: Path) -> None:
    (tmp_path / "buildspec-abc-FileAsset.yaml").write_text(_buildspec("npm install -g cdk-assets@latest"))
    (tmp_path / "buildspec-abc-DockerAsset.yaml").write_text(_buildspec("npm install -g cdk-assets@3.0.1"))
    (tmp_path / "manifest.json").write_text("{}")
    (line,) = check_assembly_buildspecs(tmp_path)
    assert line.startswith("Preflight-UnpinnedToolInstall[cdk-assets@latest] at buildspec-abc-FileAsset.yaml: ")
    assert "set CodePipeline(cdk_assets_cli_version=...)" in line


def test_an_assembly_without_buildspec_files_has_nothing_to_check(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    assert check_assembly_buildspecs(tmp_path) == []
