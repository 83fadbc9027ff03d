"""Every hop of an API request is encrypted: HTTPS from API Gateway to the load balancer, TLS on to the tasks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_cdk.assertions import Match

from service import contract
from stacks.service import LISTENER_PORT
from tests.conftest import STAGES, StackArtifact, env_of


@pytest.mark.parametrize("stage", STAGES)
def test_api_gateway_calls_the_load_balancer_by_the_name_its_certificate_covers(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    tls = env_of(stage).load_balancer_tls
    methods = stack(stage, "Service").template.find_resources("AWS::ApiGateway::Method")
    uris = sorted(method["Properties"]["Integration"]["Uri"] for method in methods.values())
    assert uris == [
        f"https://{tls.domain_name}:{LISTENER_PORT}/",
        f"https://{tls.domain_name}:{LISTENER_PORT}/{{proxy}}",
    ]
    assert all(method["Properties"]["Integration"]["ConnectionType"] == "VPC_LINK" for method in methods.values())


@pytest.mark.parametrize("stage", STAGES)
def test_the_load_balancer_listens_with_tls_and_speaks_tls_to_the_tasks(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    env = env_of(stage)
    service = stack(stage, "Service").template
    service.resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 1)
    service.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": LISTENER_PORT,
            "Protocol": "TLS",
            "Certificates": [{"CertificateArn": env.load_balancer_tls.certificate_arn}],
            "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
        },
    )
    service.resource_count_is("AWS::ElasticLoadBalancingV2::TargetGroup", 1)
    service.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "Port": contract.PORT,
            "Protocol": "TLS",
            "HealthCheckProtocol": "HTTPS",
            "HealthCheckPath": "/health",
        },
    )
    # The VPC link reaches the listener's port, and the load balancer reaches the tasks on theirs.
    service.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "Internal NLB",
            "SecurityGroupIngress": [
                Match.object_like({"CidrIp": env.vpc_cidr, "FromPort": LISTENER_PORT, "ToPort": LISTENER_PORT})
            ],
        },
    )


@pytest.mark.parametrize("stage", [s for s in STAGES if env_of(s).protect_data])
def test_a_stage_that_protects_its_data_keeps_every_log_30_months(stage: str, stacks: dict[str, StackArtifact]) -> None:
    """OMB M-21-31: 12 months in active and 18 in cold storage; CloudWatch Logs and S3 keep them the whole time."""
    days = env_of(stage).log_retention_days
    assert days >= 913
    groups = buckets = 0
    for path, artifact in stacks.items():
        if not path.startswith(f"Pipeline/{stage}/"):
            continue
        template = artifact.template_json
        for resource in template.get("Resources", {}).values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Logs::LogGroup":
                groups += 1
                assert props.get("RetentionInDays", days) >= 913, (path, props)
            if resource["Type"] == "AWS::S3::Bucket":
                for rule in props.get("LifecycleConfiguration", {}).get("Rules", []):
                    if "ExpirationInDays" in rule:
                        buckets += 1
                        assert rule["ExpirationInDays"] >= 913, (path, rule)
                        assert rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays", 913) >= 913
    assert groups >= 5
    assert buckets >= 1 or not any(p.startswith(f"Pipeline/{stage}/Baseline") for p in stacks)
