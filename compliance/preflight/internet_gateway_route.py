"""InternetGatewayRoute: no route sends all traffic to an internet gateway.

AWS Config's `no-unrestricted-route-to-igw`, in the FedRAMP Moderate pack the Baseline
deploys, is NON_COMPLIANT for a route table with a route to an internet gateway for
0.0.0.0/0 or ::/0. This app's subnets are isolated (README); a route like that is also the
internet path its network promises not to have.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render

_OPEN = frozenset({"0.0.0.0/0", "::/0"})


def internet_gateway_route(resource: ResourceView, ctx: Context) -> Verdict:
    """The route does not send 0.0.0.0/0 or ::/0 to an internet gateway."""
    if resource.type != "AWS::EC2::Route":
        return Verdict.not_applicable()
    gateway = resource.properties.get("GatewayId")
    if gateway is None:
        return Verdict.ok()
    target = ctx.index.target(resource.stack, gateway)
    gateway_type = target[2].get("Type") if target is not None else ""
    to_igw = gateway_type == "AWS::EC2::InternetGateway" or render(gateway).startswith("igw-")
    destination = {
        render(resource.properties.get("DestinationCidrBlock", "")),
        render(resource.properties.get("DestinationIpv6CidrBlock", "")),
    } & _OPEN
    if not (to_igw and destination):
        return Verdict.ok()
    shown = next(iter(destination))
    return Verdict.fail(
        shown,
        f"the route sends {shown} to an internet gateway, which AWS Config's no-unrestricted-route-to-igw reports in "
        "the account's FedRAMP Moderate pack and which gives the subnet an internet path; keep subnets isolated "
        "and reach AWS through VPC endpoints",
    )


RULE = PreflightRule(
    "InternetGatewayRoute",
    frozenset({"AWS::EC2::Route"}),
    internet_gateway_route,
    "A route of all traffic to an internet gateway is NON_COMPLIANT with the account baseline's "
    "no-unrestricted-route-to-igw and opens the subnet to the internet.",
    ("SC-7",),
    shortdesc="a route of 0.0.0.0/0 or ::/0 to an internet gateway",
)
