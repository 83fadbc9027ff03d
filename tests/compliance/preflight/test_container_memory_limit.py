"""ContainerMemoryLimit on plain templates: every container of a task sets its hard memory limit."""

from __future__ import annotations

from typing import Any

from compliance.preflight.container_memory_limit import container_memory_limit
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _task(*containers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    properties = {"Memory": "1024", "ContainerDefinitions": list(containers)}
    return {"Task": resource("AWS::ECS::TaskDefinition", properties)}


def test_containers_with_their_own_limit_pass() -> None:
    assert_passes(check(container_memory_limit, _task({"Name": "App", "Memory": 1024}), "Task"))


def test_a_task_level_limit_alone_fails_naming_the_container() -> None:
    verdict = check(container_memory_limit, _task({"Name": "App", "Memory": 512}, {"Name": "Sidecar"}), "Task")
    assert_fails(verdict, "Sidecar", "container Sidecar", "ecs-task-definition-memory-hard-limit", "memory_limit_mib")


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(container_memory_limit, {"Service": resource("AWS::ECS::Service")}, "Service"))
