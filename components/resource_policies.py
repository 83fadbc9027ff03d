"""One pass over a stage or a stack that hardens each of its KMS keys and resource policies (AC-3, AC-6)."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import IConstruct

from components.encryption_key import deny_grants_except_for_aws_resources
from components.service_principal_conditions import CONFINABLE, Confinable, confine_service_principals


@dataclass(frozen=True)
class HardenedResources:
    """What one pass hardened: the keys that now deny grants except for AWS resources, the policies it confined."""

    keys: tuple[kms.Key, ...]
    confined: tuple[Confinable, ...]


def harden_resource_policies(scope: cdk.Stage | cdk.Stack, *, confine: bool = True) -> HardenedResources:
    """Every KMS key of `scope` lets only AWS services create grants (AC-3, AC-6; Control Tower CT.KMS.PR.3), and
    with `confine`, every key, topic and bucket policy ties its grants to `CONFINED_SERVICES` to its stack's account
    (confused deputy, AC-3, AC-6).

    What the CDK and its libraries generate (the bucket and topic policies of grants and event targets, a library's
    keys) is found by type like ours. Call it once, after the last key and resource policy of `scope` is created
    and every grant on its keys is made (the end of a stage's constructor), before it synthesizes: what comes later
    is not hardened. A stage nested in `scope` is left to its own pass, as the CDK leaves it to its own synthesis.
    One walk of the tree, where an aspect would cross into Python for every construct; each resource it changes
    costs a few calls.
    """
    nodes = _own_constructs(scope)
    keys = tuple(node for node in nodes if isinstance(node, kms.Key))
    for key in keys:
        deny_grants_except_for_aws_resources(key)
    confined: tuple[Confinable, ...] = tuple(node for node in nodes if isinstance(node, CONFINABLE)) if confine else ()
    accounts: dict[cdk.Stack, str] = {}
    for resource in confined:
        stack = cdk.Stack.of(resource)
        if stack not in accounts:
            accounts[stack] = stack.account
        confine_service_principals(resource, accounts[stack])
    return HardenedResources(keys, confined)


def _own_constructs(scope: IConstruct) -> list[IConstruct]:
    """The constructs under `scope`, without the stages nested in it and theirs."""
    nodes = scope.node.find_all()  # in preorder: a construct's descendants follow it, all together
    own: list[IConstruct] = []
    position = 1  # the first is `scope`
    while position < len(nodes):
        node = nodes[position]
        if isinstance(node, cdk.Stage):
            position += len(node.node.find_all())  # the nested stage and its descendants
        else:
            own.append(node)
            position += 1
    return own
