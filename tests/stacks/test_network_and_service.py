"""The network has no internet path; the service runs hardened in it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_cdk.assertions import Match

from config import AppConfig
from tests.conftest import STAGES, StackArtifact, env_of

# What the workload calls from subnets without an internet path: the image registry, logs, the stream, keys, secrets.
PRIVATE_APIS = ("ecr.api", "ecr.dkr", "logs", "kinesis-streams", "kms", "secretsmanager")


@pytest.mark.parametrize("stage", STAGES)
def test_vpc_has_no_internet_path_and_logs_every_flow(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    network = stack(stage, "Network").template
    for kind in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP"):
        network.resource_count_is(kind, 0)  # none at all is the behaviour
    network.all_resources_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": False})
    network.has_resource_properties("AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "ALL"})
    network.has_resource("Custom::VpcRestrictDefaultSG", {})  # the default security group is closed


@pytest.mark.parametrize("stage", STAGES)
def test_aws_apis_are_reached_through_endpoints_in_the_vpc(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    network = stack(stage, "Network").template
    network.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {"VpcEndpointType": "Gateway", "ServiceName": {"Fn::Join": ["", Match.array_with([".s3"])]}},
    )
    for api in PRIVATE_APIS:
        network.has_resource_properties(
            "AWS::EC2::VPCEndpoint",
            {
                "VpcEndpointType": "Interface",
                "ServiceName": f"com.amazonaws.{env_of(stage).region}.{api}",
                "PrivateDnsEnabled": True,
            },
        )


@pytest.mark.parametrize("stage", STAGES)
def test_subnets_use_exactly_the_configured_zones(
    stage: str, stack: Callable[[str, str], StackArtifact], fixture_config: AppConfig
) -> None:
    subnets = stack(stage, "Network").template.find_resources("AWS::EC2::Subnet")
    zones = {s["Properties"]["AvailabilityZone"] for s in subnets.values()}
    assert zones == set(env_of(stage).availability_zones)


@pytest.mark.parametrize("stage", STAGES)
def test_service_runs_hardened(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    service = stack(stage, "Service").template
    service.all_resources_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "ReadonlyRootFilesystem": True,
                        "User": Match.string_like_regexp("^[^0]"),  # not root
                        "LinuxParameters": Match.object_like({"Capabilities": {"Drop": ["ALL"]}}),
                        "LogConfiguration": Match.object_like({"LogDriver": "awslogs"}),
                    }
                )
            ]
        },
    )
    service.all_resources_properties(
        "AWS::ECS::Service",
        {
            "DeploymentConfiguration": Match.object_like(
                {"DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}}
            ),
            "NetworkConfiguration": {"AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "DISABLED"})},
        },
    )
    service.all_resources_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internal"})


@pytest.mark.parametrize("stage", STAGES)
def test_service_task_role_has_no_wildcard_actions(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    for policy in stack(stage, "Service").template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any("*" in a for a in actions), statement


@pytest.mark.parametrize("stage", STAGES)
def test_service_signs_in_to_the_cache_with_its_task_role(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    stack(stage, "Service").template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("TaskRole")}],
            "PolicyDocument": Match.object_like(
                {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                # IAM authentication to the cache is granted on both: the replication group and
                                # the service's cache user.
                                {"Action": "elasticache:Connect", "Resource": [Match.any_value(), Match.any_value()]}
                            )
                        ]
                    )
                }
            ),
        },
    )
