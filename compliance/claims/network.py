"""Claims about where resources sit on the network.

Isolated subnets, flow logs, zones, and references that resolve at deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from compliance.assembly import ResourceView
from compliance.claims.engine import (
    CACHE,
    DATABASE,
    FUNCTION,
    KEY,
    LOAD_BALANCER,
    LOG_GROUP,
    STREAM,
    SUBNET,
    VPC,
    Check,
    as_list,
    is_true,
)
from compliance.references import TemplateIndex, render
from config import aws_facts


def _subnets_of(resource: ResourceView, index: TemplateIndex) -> list[ResourceView]:
    """The subnets a networked resource is placed in (directly, or through its subnet group)."""
    props = resource.properties
    if resource.type == SUBNET:
        return [resource]
    values: list[Any] = []
    if resource.type == LOAD_BALANCER:
        values = as_list(props.get("Subnets")) + [m.get("SubnetId") for m in as_list(props.get("SubnetMappings"))]
    elif resource.type in (DATABASE, CACHE):
        group = index.resolve(resource.stack, props.get("DBSubnetGroupName") or props.get("CacheSubnetGroupName"))
        values = as_list(group.properties.get("SubnetIds")) if group is not None else []
    elif resource.type == FUNCTION:
        values = as_list(props.get("VpcConfig", {}).get("SubnetIds"))
    elif resource.type == "AWS::ECS::Service":
        values = as_list(props.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {}).get("Subnets"))
    subnets = [index.resolve(resource.stack, v) for v in values]
    return [s for s in subnets if s is not None and s.type == SUBNET]


@dataclass(frozen=True)
class InIsolatedSubnets(Check):
    subject_types: ClassVar[tuple[str, ...]] = (LOAD_BALANCER, DATABASE, CACHE, FUNCTION, "AWS::ECS::Service", SUBNET)
    shortdesc: ClassVar[str] = "no default, internet-gateway or NAT route and no public IPs in its subnets"
    controls: ClassVar[tuple[str, ...]] = ("SC-7", "AC-4")

    @property
    def predicate(self) -> str:
        return "sits only in subnets with no route to or from the internet"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        subnets = _subnets_of(resource, index)
        if not subnets:
            return False, "no subnets of this app found"
        routed = []
        for subnet in subnets:
            if is_true(subnet.properties.get("MapPublicIpOnLaunch")):
                routed.append(f"{subnet.path} (public IPs)")
            for association in index.referrers(subnet, "AWS::EC2::SubnetRouteTableAssociation"):
                table = index.resolve(association.stack, association.properties.get("RouteTableId"))
                for route in index.referrers(table, "AWS::EC2::Route") if table is not None else []:
                    props = route.properties
                    if (
                        props.get("DestinationCidrBlock") == "0.0.0.0/0"
                        or props.get("DestinationIpv6CidrBlock") == "::/0"
                    ):
                        routed.append(f"{subnet.path} (default route)")
                    elif props.get("GatewayId") is not None or props.get("NatGatewayId") is not None:
                        routed.append(f"{subnet.path} (gateway route)")
        return not routed, f"internet paths: {', '.join(routed)}" if routed else f"{len(subnets)} isolated subnet(s)"


@dataclass(frozen=True)
class FlowLogged(Check):
    subject_types: ClassVar[tuple[str, ...]] = (LOAD_BALANCER, DATABASE, CACHE, FUNCTION, "AWS::ECS::Service", VPC)
    shortdesc: ClassVar[str] = "the VPC has an ALL-traffic flow log"
    controls: ClassVar[tuple[str, ...]] = ("AU-12", "SI-4")

    @property
    def predicate(self) -> str:
        return "is in a VPC whose every flow is logged"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        vpcs: dict[str, ResourceView] = {}
        if resource.type == VPC:
            vpcs[resource.path] = resource
        for subnet in _subnets_of(resource, index):
            vpc = index.resolve(subnet.stack, subnet.properties.get("VpcId"))
            if vpc is not None:
                vpcs[vpc.path] = vpc
        if not vpcs:
            return False, "no VPC of this app found"
        unlogged = [
            path
            for path, vpc in vpcs.items()
            if not any(f.properties.get("TrafficType") == "ALL" for f in index.referrers(vpc, "AWS::EC2::FlowLog"))
        ]
        return not unlogged, f"no ALL-traffic flow log: {', '.join(unlogged)}" if unlogged else "flow logs: ALL traffic"


@dataclass(frozen=True)
class ZonesOfRegion(Check):
    subject_types: ClassVar[tuple[str, ...]] = (SUBNET,)
    shortdesc: ClassVar[str] = "every subnet is in a zone of its region"
    controls: ClassVar[tuple[str, ...]] = ("CM-6",)

    @property
    def predicate(self) -> str:
        return "is placed in a named availability zone of its stack's region"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        zone = resource.properties.get("AvailabilityZone")
        known = aws_facts.availability_zones().get(resource.stack.region, ())
        return isinstance(zone, str) and zone in known, f"AvailabilityZone {render(zone)} in {resource.stack.region}"


_REFERENCE_NOUNS = {KEY: "a KMS key", SUBNET: "subnets", "AWS::EC2::SecurityGroup": "security groups"}


@dataclass(frozen=True)
class ResolvedAtDeploy(Check):
    """`prop` refers only to resources of type `to`, at least one of them in another stack of the app.

    Template-reading rules (Control Tower's plugin) accept a property that is a literal or a reference
    inside the same template; a cross-stack reference fails them at synth, though
    CloudFormation resolves it to that resource's identifier before a deploy-time hook evaluates the
    resource. This check proves the property is such a reference (`Fn::ImportValue`, `Fn::GetStackOutput`), to the
    right kind of resource.
    """

    prop: str = ""  # dotted property path, e.g. "KmsKeyId", "VpcConfig.SubnetIds"
    to: str = KEY
    subject_types: ClassVar[tuple[str, ...]] = (LOG_GROUP, DATABASE, STREAM, FUNCTION)
    shortdesc: ClassVar[str] = (
        "the property refers only to resources of type `to`, at least one in another stack (resolved before a"
        " deploy-time hook runs)"
    )
    controls: ClassVar[tuple[str, ...]] = ("CM-2",)
    resolves_at_deploy: ClassVar[bool] = True

    @property
    def predicate(self) -> str:
        return (
            f"names in {self.prop} {_REFERENCE_NOUNS.get(self.to, self.to)} of this app in another stack, "
            "which CloudFormation resolves before a deploy-time hook sees it"
        )

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        value: Any = resource.properties
        for part in self.prop.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        values = as_list(value)
        if not values:
            return False, f"{self.prop} is absent"
        targets = [index.resolve(resource.stack, v) for v in values]
        wrong = [render(v) for v, t in zip(values, targets, strict=True) if t is None or t.type != self.to]
        if wrong:
            return False, f"{self.prop} has {', '.join(wrong)}, not a reference to {self.to}"
        elsewhere = [t.path for t in targets if t is not None and t.stack.stack_name != resource.stack.stack_name]
        if not elsewhere:
            return False, f"{self.prop} refers only to resources of its own stack (the synth-time rule reads those)"
        return True, f"{self.prop} refers to {', '.join(elsewhere)}"
