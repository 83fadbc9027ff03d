"""Claims about who may do what.

Roles' trust, identity policies' grants, and resource policies that admit AWS services.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from compliance.assembly import ResourceView
from compliance.claims.engine import (
    FUNCTION,
    KEY,
    MANAGED_POLICY,
    POLICY,
    ROLE,
    TOPIC,
    Check,
    as_list,
    statements,
)
from compliance.references import TemplateIndex, render


def _roles_of(resource: ResourceView, index: TemplateIndex) -> list[ResourceView]:
    if resource.type == ROLE:
        return [resource]
    roles = [index.resolve(resource.stack, r) for r in as_list(resource.properties.get("Roles"))]
    return [r for r in roles if r is not None and r.type == ROLE]


@dataclass(frozen=True)
class AssumableOnlyBy(Check):
    """The role's trust policy admits exactly one AWS service, and no account, user or federated principal."""

    service: str = ""
    subject_types: ClassVar[tuple[str, ...]] = (ROLE,)
    shortdesc: ClassVar[str] = "the trust policy admits only that service"
    controls: ClassVar[tuple[str, ...]] = ("AC-3", "AC-6")

    @property
    def predicate(self) -> str:
        return f"can be assumed only by {self.service}"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        principals: list[str] = []
        for statement in statements(resource.properties.get("AssumeRolePolicyDocument")):
            if statement.get("Effect") != "Allow":
                continue
            principal = statement.get("Principal", {})
            if not isinstance(principal, dict):
                principals.append(render(principal))
                continue
            for kind, values in principal.items():
                principals += [f"{kind}:{render(v)}" for v in as_list(values)]
        holds = bool(principals) and all(p == f"Service:{self.service}" for p in principals)
        return holds, f"trusted principals: {', '.join(principals) or 'none'}"


def _actions(statement: dict[str, Any]) -> list[str]:
    return [str(a) for a in as_list(statement.get("Action"))]


@dataclass(frozen=True)
class WildcardGrantsOnly(Check):
    """Where the policy grants on a wildcard resource, it grants only `actions` (and only under `condition`).

    `resource` selects the statements: "*" (the default) those granting on every resource;
    any other text is a pattern over the resource as written, where `<ref>` stands for a
    resource of this app (e.g. "<ref>/*", "arn:*:iam::*:role/*", "arn:*:execute-api:*/GET/health").
    """

    actions: tuple[str, ...] = ()
    resource: str = "*"
    condition: str | None = None
    condition_value: str | None = None  # the value a StringEquals condition on `condition` must require
    subject_types: ClassVar[tuple[str, ...]] = (POLICY, MANAGED_POLICY)
    shortdesc: ClassVar[str] = "a wildcard resource is granted only those actions (under that condition)"
    controls: ClassVar[tuple[str, ...]] = ("AC-6",)

    @property
    def noun(self) -> str:
        return "the policy"

    @property
    def predicate(self) -> str:
        value = f" = {self.condition_value}" if self.condition_value else ""
        condition = f", and only under the condition {self.condition}{value}" if self.condition else ""
        return f"grants on {self.resource} only {', '.join(self.actions)}{condition}"

    def _conditioned(self, statement: dict[str, Any]) -> bool:
        for operator, block in statement.get("Condition", {}).items():
            if not isinstance(block, dict) or self.condition not in block:
                continue
            if self.condition_value is None or (
                operator == "StringEquals" and as_list(block[self.condition]) == [self.condition_value]
            ):
                return True
        return False

    def _selects(self, value: Any) -> bool:
        text = render(value)
        if self.resource == "*":
            return text == "*"
        return "*" in text and fnmatch.fnmatchcase(text, self.resource)

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        selected = [
            s
            for s in statements(resource.properties.get("PolicyDocument"))
            if s.get("Effect") == "Allow" and any(self._selects(r) for r in as_list(s.get("Resource")))
        ]
        if not selected:
            return False, f"no statement grants on {self.resource}"
        granted = sorted({a for s in selected for a in _actions(s)})
        extra = [a for a in granted if a not in self.actions]
        condition = self.condition
        unconditioned = [s for s in selected if condition and not self._conditioned(s)]
        evidence = f"grants {', '.join(granted)}"
        if unconditioned:
            evidence += f"; {len(unconditioned)} statement(s) without {condition}"
        return not extra and not unconditioned, evidence


_ARN = re.compile(r"^arn:[^:]*:([^:]*):([^:]*):([^:]*):")


@dataclass(frozen=True)
class GrantsConfinedToAccount(Check):
    """Every ARN of the given services that the policy names is in the stack's own account, and in its own region or
    one of `regions`."""

    services: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    subject_types: ClassVar[tuple[str, ...]] = (POLICY, MANAGED_POLICY)
    shortdesc: ClassVar[str] = "those services' ARNs are all of its own account and region"
    controls: ClassVar[tuple[str, ...]] = ("AC-3", "AC-6")

    @property
    def noun(self) -> str:
        return "the policy"

    @property
    def predicate(self) -> str:
        where = f"its own region or {', '.join(self.regions)}" if self.regions else "its own region"
        return f"names {' and '.join(self.services)} resources only of its own account and {where}"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        stack, outside, named = resource.stack, [], 0
        for statement in statements(resource.properties.get("PolicyDocument")):
            if statement.get("Effect") != "Allow":
                continue
            for value in as_list(statement.get("Resource")):
                match = _ARN.match(render(value))
                if match is None or match.group(1) not in self.services:
                    continue
                named += 1
                if match.group(2) not in (stack.region, "<AWS::Region>", *self.regions) or match.group(3) not in (
                    stack.account,
                    "<AWS::AccountId>",
                ):
                    outside.append(render(value))
        if not named:
            return False, f"names no {' or '.join(self.services)} ARN"
        return not outside, f"outside: {', '.join(outside)}" if outside else f"{named} ARN(s), all its own"


@dataclass(frozen=True)
class AttachedToOneRole(Check):
    subject_types: ClassVar[tuple[str, ...]] = (POLICY,)
    shortdesc: ClassVar[str] = "the policy belongs to one role of its template"
    controls: ClassVar[tuple[str, ...]] = ("AC-2", "AC-6")

    @property
    def predicate(self) -> str:
        return "is attached to exactly one role, created in the same template, and to no user or group"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        roles = as_list(props.get("Roles"))
        local = [r for r in roles if isinstance(r, dict) and "Ref" in r and r["Ref"] in resource.stack.resources]
        holds = len(roles) == 1 and len(local) == 1 and not props.get("Users") and not props.get("Groups")
        return (
            holds,
            f"{len(roles)} role(s), {len(as_list(props.get('Users')))} user(s), "
            f"{len(as_list(props.get('Groups')))} group(s)",
        )


@dataclass(frozen=True)
class NotInvocableByOthers(Check):
    subject_types: ClassVar[tuple[str, ...]] = (FUNCTION,)
    shortdesc: ClassVar[str] = "no Lambda permission or URL"
    controls: ClassVar[tuple[str, ...]] = ("AC-3", "AC-6")

    @property
    def predicate(self) -> str:
        return "has no resource policy or URL: only IAM principals of its account that are granted it may invoke it"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        grants = index.referrers(resource, "AWS::Lambda::Permission") + index.referrers(resource, "AWS::Lambda::Url")
        return not grants, f"resource policies: {', '.join(g.path for g in grants)}" if grants else "no resource policy"


def _service_grants(document: Any, service: str) -> list[dict[str, Any]]:
    """The Allow statements of a policy document whose principal names the AWS service `service`."""
    found = []
    for statement in statements(document):
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else None
        if statement.get("Effect") == "Allow" and service in [render(s) for s in as_list(services)]:
            found.append(statement)
    return found


_SOURCE_KEYS = ("aws:sourceaccount", "aws:sourcearn")


def _tied_to_source(statement: dict[str, Any]) -> bool:
    """A condition (other than a Null test) on aws:SourceAccount or aws:SourceArn."""
    return any(
        operator != "Null" and isinstance(values, dict) and any(str(k).lower() in _SOURCE_KEYS for k in values)
        for operator, values in (statement.get("Condition") or {}).items()
    )


@dataclass(frozen=True)
class ServiceGrantsOnly(Check):
    """Every statement of the key policy that allows the AWS service `service` grants it only `actions`."""

    service: str = ""
    actions: tuple[str, ...] = ()
    subject_types: ClassVar[tuple[str, ...]] = (KEY,)
    shortdesc: ClassVar[str] = "every statement of the key policy that allows `service` grants it only `actions`"
    controls: ClassVar[tuple[str, ...]] = ("AC-6", "SC-12")

    @property
    def predicate(self) -> str:
        return f"lets {self.service} use it only for {', '.join(self.actions)}"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        grants = _service_grants(resource.properties.get("KeyPolicy"), self.service)
        if not grants:
            return False, f"no statement allows {self.service}"
        granted = sorted({a for s in grants for a in _actions(s)})
        extra = [a for a in granted if a not in self.actions]
        return not extra, f"{len(grants)} statement(s) grant {self.service} {', '.join(granted)}"


@dataclass(frozen=True)
class PublishConfinedToAccount(Check):
    """The topic's own policy lets the AWS service `service` publish only under aws:SourceAccount or aws:SourceArn."""

    service: str = ""
    subject_types: ClassVar[tuple[str, ...]] = (TOPIC,)
    shortdesc: ClassVar[str] = (
        "the topic's own policy lets `service` publish only under `aws:SourceAccount` or `aws:SourceArn`"
    )
    controls: ClassVar[tuple[str, ...]] = ("AC-3", "AC-6")

    @property
    def predicate(self) -> str:
        return f"accepts messages from {self.service} only for resources of this account (aws:SourceAccount/Arn)"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        grants = []
        for policy in index.referrers(resource, "AWS::SNS::TopicPolicy"):
            governed = [index.resolve(policy.stack, v) for v in as_list(policy.properties.get("Topics"))]
            if any(g is not None and g.path == resource.path for g in governed):
                grants += _service_grants(policy.properties.get("PolicyDocument"), self.service)
        if not grants:
            return False, f"no policy of the topic allows {self.service}"
        untied = [s for s in grants if not _tied_to_source(s)]
        return not untied, f"{len(grants)} grant(s) to {self.service}, {len(untied)} without aws:SourceAccount/Arn"
