"""PlaintextHop: no hop of an API request travels unencrypted, from API Gateway to the load balancer to its targets.

cdk-nag asks a load balancer's listener for an ACM certificate (`ELBv2ACMCertificateRequired`) and
nothing more: neither API Gateway's integration nor the load balancer's connection to its targets
is checked. Each of the three hops is a resource of its own, and each fails here when it is plain:

* an API Gateway method whose HTTP integration URI is `http://`: "By default, private integration
  traffic uses the HTTP protocol. To use HTTPS, specify an uri that contains a secure server name"
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-private-integration.html);
* a load balancer listener that is not TLS or HTTPS;
* a target group that is not TLS or HTTPS: "If a target group is configured with the TLS protocol,
  the load balancer establishes TLS connections with the targets" (Network Load Balancer guide,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html).

`hops` lists a stage's hops, for the claim that says its requests are encrypted end to end
(`compliance.claims.transit`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import TemplateIndex, render

METHOD = "AWS::ApiGateway::Method"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
_ENCRYPTED = frozenset({"TLS", "HTTPS"})
_HTTP_INTEGRATIONS = frozenset({"HTTP", "HTTP_PROXY"})


@dataclass(frozen=True)
class Hop:
    """One hop of a request: the resource that sets it up, how it is protected, and whether that is encryption."""

    resource: ResourceView
    protocol: str  # "https", "TLS", "TCP", ...
    encrypted: bool

    def __str__(self) -> str:
        return f"{self.resource.path} {self.protocol}"


def hop_of(resource: ResourceView) -> Hop | None:
    """The hop a method, listener or target group sets up (None for any other resource or integration)."""
    props = resource.properties
    if resource.type == METHOD:
        integration = props.get("Integration") or {}
        if integration.get("Type") not in _HTTP_INTEGRATIONS:
            return None  # AWS service, Lambda and mock integrations are AWS's own endpoints
        scheme = render(integration.get("Uri", "")).partition("://")[0].lower()
        return Hop(resource, scheme or "unknown", scheme == "https")
    if resource.type in (LISTENER, TARGET_GROUP):
        protocol = render(props.get("Protocol", "")) or "unset"
        return Hop(resource, protocol, protocol in _ENCRYPTED)
    return None


def plaintext_hop(resource: ResourceView, ctx: Context) -> Verdict:
    """The method's HTTP integration is HTTPS; the listener or target group is TLS or HTTPS."""
    hop = hop_of(resource)
    if hop is None:
        return Verdict.not_applicable()
    if hop.encrypted:
        return Verdict.ok()
    if resource.type == METHOD:
        return Verdict.fail(
            f"{hop.protocol}-integration",
            f"the method's integration sends requests over {hop.protocol}: give it an https:// URI whose host "
            "name the backend's certificate covers (through a VPC link, the load balancer's TLS listener)",
        )
    what = "listener" if resource.type == LISTENER else "target group"
    return Verdict.fail(
        f"{hop.protocol}-{what.replace(' ', '-')}",
        f"the load balancer's {what} speaks {hop.protocol}, so requests cross it unencrypted: make it TLS (a Network "
        "Load Balancer) or HTTPS (an Application Load Balancer)"
        + (" with an ACM certificate" if resource.type == LISTENER else ", with the targets serving TLS"),
    )


def hops(stage: ResourceView, index: TemplateIndex) -> Iterator[Hop]:
    """Every hop of a REST API stage's requests: its methods' integrations, then through each VPC link's load
    balancers their listeners and the target groups those forward to."""
    api = index.resolve(stage.stack, stage.properties.get("RestApiId"))
    methods = index.referrers(api, METHOD) if api is not None else []
    links: dict[str, ResourceView] = {}
    for method in methods:
        hop = hop_of(method)
        if hop is not None:
            yield hop
        link = index.resolve(method.stack, (method.properties.get("Integration") or {}).get("ConnectionId"))
        if link is not None:
            links.setdefault(link.path, link)
    for link in links.values():
        for value in link.properties.get("TargetArns") or []:
            balancer = index.resolve(link.stack, value)
            if balancer is not None:
                yield from _behind(balancer, index)


def _behind(balancer: ResourceView, index: TemplateIndex) -> Iterator[Hop]:
    for listener in index.referrers(balancer, LISTENER):
        yield Hop(listener, *_protocol(listener))
        for action in listener.properties.get("DefaultActions") or []:
            groups = [action.get("TargetGroupArn")] + [
                g.get("TargetGroupArn") for g in (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            ]
            for value in groups:
                group = index.resolve(listener.stack, value) if value is not None else None
                if group is not None:
                    yield Hop(group, *_protocol(group))


def _protocol(resource: ResourceView) -> tuple[str, bool]:
    hop = hop_of(resource)
    assert hop is not None  # a listener or a target group
    return hop.protocol, hop.encrypted


RULE = PreflightRule(
    "PlaintextHop",
    frozenset({METHOD, LISTENER, TARGET_GROUP}),
    plaintext_hop,
    "An API request crosses every hop encrypted: API Gateway's HTTP integrations are HTTPS, and a load balancer's "
    "listeners and target groups are TLS or HTTPS. cdk-nag asks only for a listener's certificate.",
    ("SC-8", "SC-8(1)"),
    shortdesc="an http:// integration, or a load balancer listener or target group that is not TLS or HTTPS",
    source_url="https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-private-integration.html",
)
