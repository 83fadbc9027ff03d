"""The assembly reader on a tiny hand-made cloud assembly: stacks, stages, resources, files, validation report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compliance.assembly import OUTPUT_DIRECTORY, CloudAssembly, PluginReport, Violation
from config import PROJECT_ROOT

PIPELINE_ACCOUNT, STAGE_ACCOUNT = "710000000001", "710000000002"


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def _resource(resource_type: str, path: str | None = None, **properties: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"Type": resource_type, "Properties": properties}
    if path:
        entry["Metadata"] = {"aws:cdk:path": path}
    return entry


def _stack(template: str, display: str, account: str, region: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "aws:cloudformation:stack",
        "environment": f"aws://{account}/{region}",
        "properties": {"templateFile": template, **properties},
        "displayName": display,
    }


@pytest.fixture
def assembly(tmp_path: Path) -> CloudAssembly:
    """A pipeline stack at the root, a stage (nested assembly) with two stacks, and a buildspec file in each."""
    _write(tmp_path / "Pipeline.template.json", {"Resources": {"Key": _resource("AWS::KMS::Key", "Pipeline/Key")}})
    _write(tmp_path / "Pipeline.metadata.json", {"/Pipeline/Key": [{"type": "aws:cdk:warning", "data": "careful"}]})
    pipeline = _stack("Pipeline.template.json", "Pipeline", PIPELINE_ACCOUNT, "us-west-2")
    pipeline["additionalMetadataFile"] = "Pipeline.metadata.json"
    _write(
        tmp_path / "manifest.json",
        {
            "artifacts": {
                "assembly-Pipeline-Prod": {
                    "type": "cdk:cloud-assembly",
                    "properties": {"directoryName": "assembly-Pipeline-Prod", "displayName": "Pipeline/Prod"},
                },
                "Pipeline.assets": {"type": "cdk:asset-manifest", "properties": {"file": "Pipeline.assets.json"}},
                "Pipeline": pipeline,
            }
        },
    )
    stage = tmp_path / "assembly-Pipeline-Prod"
    data = {
        "Bucket": _resource("AWS::S3::Bucket", "Pipeline/Prod/Data/Bucket/Resource", BucketName="logs"),
        "Condition": _resource("AWS::CloudFormation::WaitConditionHandle"),  # no path metadata
    }
    _write(stage / "PipelineProdData.template.json", {"Resources": data})
    _write(stage / "PipelineProdKeys.template.json", {"Resources": {}})
    keys = _stack("PipelineProdKeys.template.json", "Pipeline/Prod/Keys", STAGE_ACCOUNT, "us-east-1")
    keys["metadata"] = {"/Pipeline/Prod/Keys": [{"type": "aws:cdk:error", "data": "broken"}]}
    _write(
        stage / "manifest.json",
        {
            "artifacts": {
                "PipelineProdData": _stack(
                    "PipelineProdData.template.json",
                    "Pipeline/Prod/Data",
                    STAGE_ACCOUNT,
                    "us-east-1",
                    stackName="Prod-Data",
                    terminationProtection=True,
                ),
                "PipelineProdKeys": keys,
            }
        },
    )
    (tmp_path / "buildspec-abc-FileAsset.yaml").write_text("version: 0.2\n")
    (stage / "buildspec-def-DockerAsset.yml").write_text("version: 0.2\n")
    return CloudAssembly(tmp_path)


def test_stacks_are_read_from_every_manifest_with_where_they_deploy(assembly: CloudAssembly) -> None:
    stacks = {s.path: (s.stack_name, s.stage, s.account, s.region, s.termination_protection) for s in assembly.stacks}
    assert stacks == {
        "Pipeline/Prod/Data": ("Prod-Data", "Prod", STAGE_ACCOUNT, "us-east-1", True),
        "Pipeline/Prod/Keys": ("PipelineProdKeys", "Prod", STAGE_ACCOUNT, "us-east-1", False),
        "Pipeline": ("Pipeline", "", PIPELINE_ACCOUNT, "us-west-2", False),
    }
    data = assembly.stack("Pipeline/Prod/Data")
    assert data.template_file == assembly.directory / "assembly-Pipeline-Prod" / "PipelineProdData.template.json"
    assert set(data.resources) == {"Bucket", "Condition"}


def test_stages_list_the_stacks_under_the_app_first(assembly: CloudAssembly) -> None:
    stages = {stage: [s.path for s in stacks] for stage, stacks in assembly.stages().items()}
    assert list(stages) == ["", "Prod"]
    assert stages[""] == ["Pipeline"]


def test_resources_are_found_by_construct_path(assembly: CloudAssembly) -> None:
    bucket = assembly.resources["Pipeline/Prod/Data/Bucket/Resource"]
    assert (bucket.logical_id, bucket.type, bucket.properties, bucket.stack.path) == (
        "Bucket",
        "AWS::S3::Bucket",
        {"BucketName": "logs"},
        "Pipeline/Prod/Data",
    )
    assert set(assembly.resources) == {"Pipeline/Key", "Pipeline/Prod/Data/Bucket/Resource"}
    # Without path metadata, a resource is still one of its stack's, at `<stack path>/<logical id>`.
    views = {r.path for r in assembly.stack("Pipeline/Prod/Data").resource_views()}
    assert "Pipeline/Prod/Data/Condition" in views


def test_metadata_is_read_from_the_manifest_and_its_files(assembly: CloudAssembly) -> None:
    assert set(assembly.metadata()) == {
        ("/Pipeline/Key", "aws:cdk:warning", "careful"),
        ("/Pipeline/Prod/Keys", "aws:cdk:error", "broken"),
    }


def test_acknowledgments_and_logical_ids_are_read_by_construct_path(assembly: CloudAssembly) -> None:
    """Each stack's manifest holds its constructs' metadata; the app's own and that of a construct between the app and
    a stack are in none: those are named for a reader to ask the constructs."""
    metadata = {
        "/Pipeline/Key": [
            {"type": "aws:cdk:logicalId", "data": "Key"},
            {"type": "aws:cdk:acknowledged-rules", "data": {"Annotation::AwsSolutions-KMS5": "rotated elsewhere"}},
            {"type": "aws:cdk:acknowledged-rules", "data": {"AwsSolutions-IAM5[Resource::*]": "scoped by condition"}},
        ],
        "/Pipeline/Prod": [{"type": "aws:cdk:acknowledged-rules", "data": {"Preflight-S3ObjectLock[disabled]": "r"}}],
    }
    _write(assembly.directory / "Pipeline.metadata.json", metadata)
    read = CloudAssembly(assembly.directory)
    assert read.acknowledged_ids == {
        "Pipeline/Key": ("Annotation::AwsSolutions-KMS5", "AwsSolutions-IAM5[Resource::*]"),
        "Pipeline/Prod": ("Preflight-S3ObjectLock[disabled]",),
    }
    assert read.logical_ids == {"Pipeline/Key": "Key"}
    assert read.outside_stacks() == [""]  # the stage is the pipeline stack's


def test_stacks_of_a_stage_under_the_app_leave_the_stage_outside_every_stack(tmp_path: Path) -> None:
    _write(tmp_path / "Fixture.template.json", {"Resources": {}})
    stack = _stack("Fixture.template.json", "Fixture/Store", STAGE_ACCOUNT, "us-east-1")
    _write(tmp_path / "manifest.json", {"artifacts": {"FixtureStore": stack}})
    assert CloudAssembly(tmp_path).outside_stacks() == ["", "Fixture"]


def test_the_construct_tree_is_read_depth_first_with_its_subtree_files(tmp_path: Path) -> None:
    """Each construct before its children, in the order the tree lists them, subtrees from their own files."""
    assert CloudAssembly(tmp_path).constructs is None

    def node(path: str, fqn: str = "constructs.Construct", **children: Any) -> dict[str, Any]:
        return {
            "id": path.rsplit("/", 1)[-1] or "App",
            "path": path,
            "constructInfo": {"fqn": fqn},
            "children": children,
        }

    provider = node("Stack/Provider", "aws-cdk-lib.CfnResource")
    stack = node("Stack", "aws-cdk-lib.Stack", Bucket=node("Stack/Bucket", "aws-cdk-lib.aws_s3.CfnBucket"))
    stack["children"]["Provider"] = {
        "id": "Provider",
        "path": "Stack/Provider",
        "fileName": "trees-1.json",
        "treeId": "t0",
    }
    _write(
        tmp_path / "tree.json",
        {"version": "tree-0.1", "tree": node("", "aws-cdk-lib.App", Stack=stack, Tree=node("Tree"))},
    )
    _write(tmp_path / "trees-1.json", {"version": "forest-0.1", "forest": {"t0": provider}})
    _write(
        tmp_path / "manifest.json", {"artifacts": {"Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}}}
    )
    constructs = CloudAssembly(tmp_path).constructs
    assert constructs is not None
    assert [(c.path, c.plain_resource) for c in constructs] == [
        ("", False),
        ("Stack", False),
        ("Stack/Bucket", False),
        ("Stack/Provider", True),
        ("Tree", False),
    ]


def test_buildspec_files_are_found_beside_the_templates(assembly: CloudAssembly) -> None:
    names = [p.relative_to(assembly.directory).as_posix() for p in assembly.buildspec_files()]
    assert names == ["assembly-Pipeline-Prod/buildspec-def-DockerAsset.yml", "buildspec-abc-FileAsset.yaml"]


def test_a_directory_without_a_manifest_holds_no_assembly(tmp_path: Path) -> None:
    assembly = CloudAssembly(tmp_path)
    assert not assembly.exists()
    assert assembly.stacks == ()
    assert assembly.plugin_reports is None
    (tmp_path / "manifest.json").write_text("{}")
    assert CloudAssembly(tmp_path).exists()
    assert CloudAssembly(tmp_path).stacks == ()


def _violation(rule: str, *paths: str, **extra: Any) -> dict[str, Any]:
    constructs = [{"constructPath": p, "cloudFormationResource": {"logicalId": f"Id{i}"}} for i, p in enumerate(paths)]
    return {"ruleName": rule, "description": f"{rule} broken ", "violatingConstructs": constructs, **extra}


def test_every_plugin_report_is_read_whatever_the_plugin(tmp_path: Path) -> None:
    report = {
        "version": "55.0.0",
        "pluginReports": [
            {
                "pluginName": "CloudFormation Validate",
                "violations": [_violation("E3001", "Stack/A", "Stack/B", severity="warning")],
                "suppressedViolations": [_violation("W3010", "Stack/Subnet", acknowledgedId="x")],
            },
            {"pluginName": "Some Other Plugin", "violations": [_violation("RULE_1", "")]},
            {"pluginName": "Broken", "conclusion": "failure", "violations": [], "metadata": {"error": "it crashed"}},
        ],
    }
    _write(tmp_path / "validation-report.json", report)
    assembly = CloudAssembly(tmp_path)
    reports = assembly.plugin_reports
    assert reports is not None
    assert [r.plugin for r in reports] == ["CloudFormation Validate", "Some Other Plugin", "Broken"]
    validate = assembly.plugin_report("CloudFormation Validate")
    assert validate == PluginReport(
        plugin="CloudFormation Validate",
        violations=(
            Violation("E3001", "E3001 broken ", "warning", "Stack/A", "Id0"),
            Violation("E3001", "E3001 broken ", "warning", "Stack/B", "Id1"),
        ),
        suppressed=(Violation("W3010", "W3010 broken ", "error", "Stack/Subnet", "Id0"),),
    )
    (other,) = reports[1].violations
    assert (other.construct_path, other.where) == ("", "Id0")
    assert reports[2].error == "it crashed"
    assert assembly.plugin_report("Absent") is None


def test_the_legacy_report_form_is_read_too(tmp_path: Path) -> None:
    legacy = {
        "title": "Validation Report",
        "pluginReports": [
            {
                "summary": {"pluginName": "Legacy", "status": "failure", "metadata": {"error": "half done"}},
                "violations": [
                    {
                        "ruleName": "R1",
                        "description": "d",
                        "violatingResources": [{"resourceLogicalId": "Thing", "locations": []}],
                        "violatingConstructs": [{"constructPath": "Stack/Thing", "resourceLogicalId": "Thing"}],
                    }
                ],
            }
        ],
    }
    _write(tmp_path / "validation-report.json", legacy)
    (report,) = CloudAssembly(tmp_path).plugin_reports or ()
    assert (report.plugin, report.error, report.suppressed) == ("Legacy", "half done", ())
    assert report.violations == (Violation("R1", "d", "error", "", "Thing"),)


def test_the_cli_writes_the_assembly_where_the_scripts_read_it() -> None:
    # cdk.json cannot import the constant: it names the same directory, and this holds them together.
    assert json.loads((PROJECT_ROOT / "cdk.json").read_text())["output"] == OUTPUT_DIRECTORY
