"""The task definition, the load balancer and the image agree with the service's contract (service/contract.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from service import contract
from tests.conftest import STAGES, StackArtifact


@pytest.mark.parametrize("stage", STAGES)
def test_container_serves_the_contract_port_as_the_contract_user(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    template = stack(stage, "Service").template
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "User": contract.container_user(),
                        "PortMappings": [Match.object_like({"ContainerPort": contract.PORT})],
                        "Environment": Match.array_with([{"Name": "PORT", "Value": str(contract.PORT)}]),
                    }
                )
            ]
        },
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup", {"Port": contract.PORT, "Protocol": "TLS"}
    )


def test_every_service_image_is_built_with_the_contract(assembly_dir: Path) -> None:
    images = [
        image["source"]
        for manifest in sorted(assembly_dir.glob("assembly-*/*.assets.json"))
        for image in json.loads(manifest.read_text()).get("dockerImages", {}).values()
    ]

    assert len(images) >= len(STAGES)
    assert all(image.get("dockerBuildArgs") == contract.image_build_args() for image in images)
