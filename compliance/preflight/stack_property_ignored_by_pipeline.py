"""StackPropertyIgnoredByPipeline: a stack the pipeline deploys does not promise termination protection.

`Stack(termination_protection=True)` is written into the stack's manifest artifact, and only the
CDK CLI applies it (`cdk deploy` calls UpdateTerminationProtection). CDK Pipelines deploys a
stage's stacks with CodePipeline's CloudFormation actions (CHANGE_SET_REPLACE, CHANGE_SET_EXECUTE),
which read the template and know nothing of the manifest, so the stack is created unprotected
while the code says otherwise:

- aws/aws-cdk#17871, "(pipelines): terminationProtection is ignored on stacks deployed from a CDK
  CodePipeline" (open, p1): protected when deployed with the CLI, not when deployed by the pipeline.
- aws/aws-cdk#30405, "cloudformation stack termination protection is ignored when deployed through
  pipelines (L3) module" (2024, labelled needs-cfn: the CloudFormation action has no such setting).
- aws/aws-cdk#14429, the same for `CloudFormationCreateUpdateStackAction`.

This is a property of a stack, not of a resource, so it is read from the assembly after synth:
a stack whose name a CloudFormation action of a pipeline in the assembly deploys, and whose
manifest artifact has `terminationProtection: true`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compliance.preflight.base import PACK, AssemblyRule

RULE_ID = "StackPropertyIgnoredByPipeline"

StackArtifact = tuple[Path, str, dict[str, Any]]  # (its manifest's directory, artifact id, artifact)


def check_assembly_stack_properties(assembly_dir: str | Path) -> list[str]:
    """One line per stack a pipeline deploys whose manifest asks for termination protection."""
    artifacts = list(_stack_artifacts(Path(assembly_dir) / "manifest.json"))
    deployed = {name for artifact in artifacts for name in _pipeline_deployed_stacks(artifact)}
    lines: list[str] = []
    for _, artifact_id, artifact in artifacts:
        properties = artifact.get("properties", {})
        name = str(properties.get("stackName", artifact_id))
        if properties.get("terminationProtection") is True and name in deployed:
            lines.append(
                f"{PACK}-{RULE_ID}[terminationProtection] at {artifact.get('displayName', artifact_id)}: the stack "
                f"asks for termination protection, but the pipeline deploys {name} with CloudFormation actions, "
                "which do not apply it (aws/aws-cdk#17871), so the stack can be deleted; enable it in a step after "
                f"the deployment (aws cloudformation update-termination-protection --enable-termination-protection "
                f"--stack-name {name}) and keep the stateful resources' deletion policies, or drop the property"
            )
    return lines


def _stack_artifacts(manifest_path: Path) -> Iterator[StackArtifact]:
    """Every stack artifact of an assembly and its nested assemblies (the pipeline's stages)."""
    if not manifest_path.exists():
        return
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "cdk:cloud-assembly":
            nested = manifest_path.parent / artifact["properties"]["directoryName"]
            yield from _stack_artifacts(nested / "manifest.json")
        elif artifact.get("type") == "aws:cloudformation:stack":
            yield manifest_path.parent, artifact_id, artifact


def _pipeline_deployed_stacks(stack: StackArtifact) -> Iterator[str]:
    """The stack names the CloudFormation deploy actions of this stack's pipelines deploy."""
    directory, _, artifact = stack
    template_file = artifact.get("properties", {}).get("templateFile")
    if not template_file or not (directory / template_file).exists():
        return
    template = json.loads((directory / template_file).read_text(encoding="utf-8"))
    for entry in template.get("Resources", {}).values():
        if entry.get("Type") != "AWS::CodePipeline::Pipeline":
            continue
        for stage in entry.get("Properties", {}).get("Stages", []):
            for action in stage.get("Actions", []):
                type_id, configuration = action.get("ActionTypeId", {}), action.get("Configuration", {})
                if type_id.get("Provider") == "CloudFormation" and isinstance(configuration.get("StackName"), str):
                    yield configuration["StackName"]


ASSEMBLY_RULE = AssemblyRule(
    RULE_ID,
    check_assembly_stack_properties,
    "CDK Pipelines' CloudFormation actions do not apply a stack's termination protection: a stack that asks "
    "for it is deployed unprotected.",
    ("CM-2", "CP-9", "SC-28"),
)
