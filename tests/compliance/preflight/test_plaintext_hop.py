"""PlaintextHop on plain templates: API Gateway's HTTP integrations are HTTPS, load balancer hops TLS or HTTPS."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.preflight.plaintext_hop import plaintext_hop
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _method(integration_type: str, uri: str) -> dict[str, dict[str, Any]]:
    return {"Method": resource("AWS::ApiGateway::Method", {"Integration": {"Type": integration_type, "Uri": uri}})}


def _balancer(kind: str, protocol: str) -> dict[str, dict[str, Any]]:
    return {"Hop": resource(f"AWS::ElasticLoadBalancingV2::{kind}", {"Protocol": protocol, "Port": 443})}


def test_an_https_integration_and_tls_or_https_load_balancer_hops_pass() -> None:
    assert_passes(check(plaintext_hop, _method("HTTP_PROXY", "https://backend.example.com:443/{proxy}"), "Method"))
    for kind in ("Listener", "TargetGroup"):
        for protocol in ("TLS", "HTTPS"):
            assert_passes(check(plaintext_hop, _balancer(kind, protocol), "Hop"))


@pytest.mark.parametrize("integration_type", ["HTTP", "HTTP_PROXY"])
def test_an_http_integration_fails(integration_type: str) -> None:
    verdict = check(plaintext_hop, _method(integration_type, "http://internal-nlb.example:80/"), "Method")
    assert_fails(verdict, "http-integration", "over http", "https:// URI", "certificate covers")


@pytest.mark.parametrize(
    ("kind", "protocol", "finding"),
    [
        ("Listener", "TCP", "TCP-listener"),
        ("Listener", "HTTP", "HTTP-listener"),
        ("TargetGroup", "TCP", "TCP-target-group"),
    ],
)
def test_a_plain_listener_or_target_group_fails(kind: str, protocol: str, finding: str) -> None:
    verdict = check(plaintext_hop, _balancer(kind, protocol), "Hop")
    assert_fails(verdict, finding, f"speaks {protocol}", "unencrypted", "make it TLS")


def test_other_integrations_and_types_are_not_applicable() -> None:
    assert_not_applicable(check(plaintext_hop, _method("AWS_PROXY", "arn:aws:apigateway:lambda"), "Method"))
    assert_not_applicable(check(plaintext_hop, _method("MOCK", ""), "Method"))
    assert_not_applicable(check(plaintext_hop, {"Bucket": resource("AWS::S3::Bucket")}, "Bucket"))
