"""Claims about data in transit: the hops an API request crosses on its way to the service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from compliance.assembly import ResourceView
from compliance.claims.engine import STAGE, Check
from compliance.preflight.plaintext_hop import LISTENER, METHOD, TARGET_GROUP, hops
from compliance.references import TemplateIndex


@dataclass(frozen=True)
class EncryptedEndToEnd(Check):
    """Every hop behind the stage is encrypted: its methods' integrations, and the listeners and target groups of
    the load balancers its VPC links reach (`compliance.preflight.plaintext_hop` reads each one)."""

    subject_types: ClassVar[tuple[str, ...]] = (STAGE,)
    shortdesc: ClassVar[str] = (
        "every method's integration is https://, and the load balancers behind its VPC links have only TLS or HTTPS "
        "listeners and target groups"
    )
    source_url: ClassVar[str] = (
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-private-integration.html"
    )
    controls: ClassVar[tuple[str, ...]] = ("SC-8", "SC-8(1)")

    @property
    def predicate(self) -> str:
        return "sends every request on encrypted: HTTPS to the load balancer, TLS from the load balancer to its targets"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        found = list(hops(resource, index))
        kinds = {kind: [h for h in found if h.resource.type == kind] for kind in (METHOD, LISTENER, TARGET_GROUP)}
        missing = [name for kind, name in _NAMES.items() if not kinds[kind]]
        if missing:
            return False, f"no {' or '.join(missing)} found behind the stage"
        plain = [str(h) for h in found if not h.encrypted]
        if plain:
            return False, f"unencrypted: {', '.join(plain)}"
        return True, "; ".join(
            f"{len(kinds[kind])} {name}(s) {', '.join(sorted({h.protocol for h in kinds[kind]}))}"
            for kind, name in _NAMES.items()
        )


_NAMES = {METHOD: "integration", LISTENER: "listener", TARGET_GROUP: "target group"}
