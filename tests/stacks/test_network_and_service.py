"""The network has no internet path; the service runs hardened in it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from config import AppConfig
from tests.conftest import STAGES, StackArtifact, env_of, resources_of


@pytest.mark.parametrize("stage", STAGES)
def test_vpc_has_no_internet_path_and_logs_every_flow(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    network = stack(stage, "Network").template_json
    for kind in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP"):
        assert not resources_of(network, kind), kind
    for subnet in resources_of(network, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    (flow_log,) = resources_of(network, "AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    assert resources_of(network, "Custom::VpcRestrictDefaultSG"), "the default security group is closed"
    endpoints = resources_of(network, "AWS::EC2::VPCEndpoint")
    assert len(endpoints) == 7  # S3 gateway and six interface endpoints


@pytest.mark.parametrize("stage", STAGES)
def test_subnets_use_exactly_the_configured_zones(
    stage: str, stack: Callable[[str, str], StackArtifact], fixture_config: AppConfig
) -> None:
    network = stack(stage, "Network").template_json
    zones = {s["Properties"]["AvailabilityZone"] for s in resources_of(network, "AWS::EC2::Subnet").values()}
    assert zones == set(env_of(stage).availability_zones)


@pytest.mark.parametrize("stage", STAGES)
def test_service_runs_hardened(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    service = stack(stage, "Service").template_json
    (task,) = resources_of(service, "AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    assert container["ReadonlyRootFilesystem"] is True
    assert not container["User"].startswith("0")
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    (ecs_service,) = resources_of(service, "AWS::ECS::Service").values()
    props = ecs_service["Properties"]
    assert props["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert props["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    (nlb,) = resources_of(service, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert nlb["Properties"]["Scheme"] == "internal"


@pytest.mark.parametrize("stage", STAGES)
def test_service_task_role_has_no_wildcard_actions(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    service = stack(stage, "Service").template_json
    for policy in resources_of(service, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any("*" in a for a in actions), statement


@pytest.mark.parametrize("stage", STAGES)
def test_service_signs_in_to_the_cache_with_its_task_role(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    service = stack(stage, "Service").template_json
    statements = [
        st
        for policy in resources_of(service, "AWS::IAM::Policy").values()
        if "TaskRole" in json.dumps(policy["Properties"]["Roles"])
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    (connect,) = [st for st in statements if st["Action"] == "elasticache:Connect"]
    assert len(connect["Resource"]) == 2  # the replication group and the service's cache user
