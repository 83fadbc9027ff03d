"""ContainerMemoryLimit: every container of an ECS task definition sets its own memory limit.

AWS Config's `ecs-task-definition-memory-hard-limit`, in the FedRAMP Moderate pack the
Baseline deploys, is NON_COMPLIANT for a task definition in which any container definition
lacks `Memory` (its hard limit). A Fargate task's task-level memory does not count: the rule
reads the container definitions.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict


def container_memory_limit(resource: ResourceView, ctx: Context) -> Verdict:
    """Every container definition of the task sets `Memory`."""
    if resource.type != "AWS::ECS::TaskDefinition":
        return Verdict.not_applicable()
    unlimited = [
        str(container.get("Name", f"container {number}"))
        for number, container in enumerate(resource.properties.get("ContainerDefinitions", []) or [])
        if container.get("Memory") is None
    ]
    if not unlimited:
        return Verdict.ok()
    return Verdict.fail(
        "+".join(unlimited),
        f"container {', '.join(unlimited)} sets no hard memory limit (Memory), so AWS Config's "
        "ecs-task-definition-memory-hard-limit in the account's FedRAMP Moderate pack is NON_COMPLIANT; set "
        "memory_limit_mib on the container (the task's memory for a task of one container)",
    )


RULE = PreflightRule(
    "ContainerMemoryLimit",
    frozenset({"AWS::ECS::TaskDefinition"}),
    container_memory_limit,
    "A container without a hard memory limit makes its task definition NON_COMPLIANT with AWS Config's "
    "ecs-task-definition-memory-hard-limit, a rule of the pack the account baseline deploys.",
    ("SC-5", "SC-6"),
    shortdesc="a container without its own hard memory limit (a Fargate task's memory does not count)",
)
