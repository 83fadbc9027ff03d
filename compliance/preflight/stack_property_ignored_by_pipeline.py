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

from collections.abc import Iterator
from pathlib import Path

from compliance.assembly import CloudAssembly, StackView
from compliance.preflight.base import PACK, AssemblyRule

RULE_ID = "StackPropertyIgnoredByPipeline"


def check_assembly_stack_properties(assembly_dir: str | Path | CloudAssembly) -> list[str]:
    """One line per stack a pipeline deploys whose manifest asks for termination protection."""
    stacks = CloudAssembly.of(assembly_dir).stacks
    deployed = {name for stack in stacks for name in _pipeline_deployed_stacks(stack)}
    return [
        f"{PACK}-{RULE_ID}[terminationProtection] at {stack.path}: the stack "
        f"asks for termination protection, but the pipeline deploys {stack.stack_name} with CloudFormation actions, "
        "which do not apply it (aws/aws-cdk#17871), so the stack can be deleted; enable it in a step after "
        f"the deployment (aws cloudformation update-termination-protection --enable-termination-protection "
        f"--stack-name {stack.stack_name}) and keep the stateful resources' deletion policies, or drop the property"
        for stack in stacks
        if stack.termination_protection and stack.stack_name in deployed
    ]


def _pipeline_deployed_stacks(stack: StackView) -> Iterator[str]:
    """The stack names the CloudFormation deploy actions of this stack's pipelines deploy."""
    for entry in stack.resources.values():
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
    shortdesc=(
        "a stage stack that sets `terminationProtection`, which CDK Pipelines' deploy actions never apply (aws-"
        "cdk#17871)"
    ),
)
