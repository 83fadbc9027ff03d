"""InternetGatewayRoute on plain templates: no route sends all traffic to an internet gateway."""

from __future__ import annotations

from typing import Any

from compliance.preflight.internet_gateway_route import internet_gateway_route
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _route(**properties: Any) -> dict[str, dict[str, Any]]:
    return {
        "Igw": resource("AWS::EC2::InternetGateway"),
        "Endpoint": resource("AWS::EC2::VPCEndpoint"),
        "Route": resource("AWS::EC2::Route", {"RouteTableId": {"Ref": "Table"}, **properties}),
    }


def test_a_default_route_to_an_internet_gateway_fails() -> None:
    verdict = check(internet_gateway_route, _route(DestinationCidrBlock="0.0.0.0/0", GatewayId={"Ref": "Igw"}), "Route")
    assert_fails(verdict, "0.0.0.0/0", "no-unrestricted-route-to-igw", "keep subnets isolated")
    ipv6 = _route(DestinationIpv6CidrBlock="::/0", GatewayId="igw-0123456789abcdef0")
    assert_fails(check(internet_gateway_route, ipv6, "Route"), "::/0")


def test_narrow_routes_and_other_targets_pass() -> None:
    narrow = _route(DestinationCidrBlock="10.0.0.0/8", GatewayId={"Ref": "Igw"})
    assert_passes(check(internet_gateway_route, narrow, "Route"))
    endpoint = _route(DestinationCidrBlock="0.0.0.0/0", VpcEndpointId={"Ref": "Endpoint"})
    assert_passes(check(internet_gateway_route, endpoint, "Route"))


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(internet_gateway_route, {"Table": resource("AWS::EC2::RouteTable")}, "Table"))
