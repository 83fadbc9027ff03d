"""StackPropertyIgnoredByPipeline on a tiny assembly: a stack the pipeline deploys promises no protection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compliance.preflight.stack_property_ignored_by_pipeline import check_assembly_stack_properties


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def _stack_artifact(template: str, name: str, display: str, *, protected: bool) -> dict[str, Any]:
    return {
        "type": "aws:cloudformation:stack",
        "environment": "aws://710000000001/us-west-2",
        "properties": {"templateFile": template, "stackName": name, "terminationProtection": protected},
        "displayName": display,
    }


def _pipeline_template(*deployed: str) -> dict[str, Any]:
    actions = [
        {
            "Name": f"{name}.Deploy",
            "ActionTypeId": {"Category": "Deploy", "Owner": "AWS", "Provider": "CloudFormation", "Version": "1"},
            "Configuration": {"StackName": name, "ActionMode": "CHANGE_SET_EXECUTE"},
        }
        for name in deployed
    ]
    pipeline = {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Stages": [{"Name": "Prod", "Actions": actions}]}}
    return {"Resources": {"Pipeline": pipeline}}


def _assembly(root: Path, *, protected: bool, deployed: tuple[str, ...] = ("Prod-Data",)) -> Path:
    """A pipeline stack at the root, and a stage (nested assembly) with one data stack."""
    _write(root / "Pipeline.template.json", _pipeline_template(*deployed))
    _write(
        root / "manifest.json",
        {
            "artifacts": {
                "assembly-Pipeline-Prod": {
                    "type": "cdk:cloud-assembly",
                    "properties": {"directoryName": "assembly-Pipeline-Prod", "displayName": "Pipeline/Prod"},
                },
                "Pipeline": _stack_artifact("Pipeline.template.json", "Pipeline", "Pipeline", protected=True),
            }
        },
    )
    stage = root / "assembly-Pipeline-Prod"
    _write(stage / "PipelineProdData.template.json", {"Resources": {}})
    data = _stack_artifact("PipelineProdData.template.json", "Prod-Data", "Pipeline/Prod/Data", protected=protected)
    _write(stage / "manifest.json", {"artifacts": {"PipelineProdData": data}})
    return root


def test_a_protected_stack_the_pipeline_deploys_is_reported_with_what_to_do(tmp_path: Path) -> None:
    (line,) = check_assembly_stack_properties(_assembly(tmp_path, protected=True))
    assert line.startswith("Preflight-StackPropertyIgnoredByPipeline[terminationProtection] at Pipeline/Prod/Data: ")
    assert "the pipeline deploys Prod-Data with CloudFormation actions, which do not apply it" in line
    assert "update-termination-protection --enable-termination-protection --stack-name Prod-Data" in line


def test_an_unprotected_stack_passes(tmp_path: Path) -> None:
    assert check_assembly_stack_properties(_assembly(tmp_path, protected=False)) == []


@pytest.mark.parametrize("deployed", [(), ("Prod-Service",)])
def test_protection_of_stacks_the_pipeline_does_not_deploy_is_not_its_concern(
    tmp_path: Path, deployed: tuple[str, ...]
) -> None:
    # The pipeline stack itself is protected (the CLI deploys it), and so is a stage stack no action names.
    assert check_assembly_stack_properties(_assembly(tmp_path, protected=True, deployed=deployed)) == []


def test_a_directory_without_an_assembly_has_nothing_to_check(tmp_path: Path) -> None:
    assert check_assembly_stack_properties(tmp_path) == []
