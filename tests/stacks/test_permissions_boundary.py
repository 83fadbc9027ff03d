"""Every IAM role the app's templates create carries its account's permissions boundary (AC-6(10))."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compliance.assembly import CloudAssembly
from config import aws_facts, permissions_boundary
from tests.conftest import StackArtifact, resources_of


def _unbounded(stacks: list[tuple[str, str, str, dict[str, Any]]]) -> list[str]:
    """Each role (or user) whose PermissionsBoundary is not the boundary of its own stack's account and partition."""
    wrong = []
    for path, account, region, template in stacks:
        expected = permissions_boundary.arn(aws_facts.partition_of(region), account)
        for kind in ("AWS::IAM::Role", "AWS::IAM::User"):
            for logical_id, role in resources_of(template, kind).items():
                found = role.get("Properties", {}).get("PermissionsBoundary")
                if found != expected:
                    wrong.append(f"{path}/{logical_id}: {found!r}")
    return wrong


def test_every_role_of_every_stack_carries_the_boundary_of_its_account(stacks: dict[str, StackArtifact]) -> None:
    # The fixture deploys to several accounts and regions: the pipeline's, shared and separate stage accounts.
    views = [(s.path, s.account, s.region, s.template_json) for s in stacks.values()]
    roles = sum(len(resources_of(s.template_json, "AWS::IAM::Role")) for s in stacks.values())

    assert len({s.account for s in stacks.values()}) > 2
    assert roles > 50, "the fixture app no longer creates the roles this test is about"
    assert _unbounded(views) == []


def test_the_pipeline_stacks_roles_carry_it_too(stacks: dict[str, StackArtifact]) -> None:
    # CDK Pipelines' own roles (the build projects, the self-mutation and asset projects, the action roles).
    pipeline = stacks["Pipeline"]
    roles = resources_of(pipeline.template_json, "AWS::IAM::Role")

    assert any("SelfMutation" in logical_id for logical_id in roles)
    assert {r["Properties"]["PermissionsBoundary"] for r in roles.values()} == {
        permissions_boundary.arn(aws_facts.partition_of(pipeline.region), pipeline.account)
    }


def test_govcloud_roles_name_the_boundary_in_their_partition(govcloud_assembly: Path) -> None:
    views = [(s.path, s.account, s.region, s.template) for s in CloudAssembly(govcloud_assembly).stacks]

    assert {aws_facts.partition_of(region) for _, _, region, _ in views} == {"aws-us-gov"}
    assert _unbounded(views) == []


def test_a_role_without_the_boundary_or_with_another_accounts_is_named() -> None:
    account = "123456789012"
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}
    other = permissions_boundary.arn("aws", "210987654321")
    template = {
        "Resources": {
            "Bare": role,
            "Foreign": {**role, "Properties": {"PermissionsBoundary": other}},
            "Bounded": {**role, "Properties": {"PermissionsBoundary": permissions_boundary.arn("aws", account)}},
        }
    }

    assert _unbounded([("Pipeline/Dev/Data", account, "us-east-1", template)]) == [
        "Pipeline/Dev/Data/Bare: None",
        f"Pipeline/Dev/Data/Foreign: {other!r}",
    ]
