"""Compensating controls as checks: named claims evaluated against the synthesized templates.

An acknowledgment accepts a finding because something else reduces the risk. That
something is a claim about resources ("the bucket is versioned", "only
ecs-tasks.amazonaws.com can assume the role"), and a claim an auditor reads must be
true of what deploys. So each claim is a `Check`: a small, pure function of the
synthesized resource (and of the resources it references or that reference it),
read from the cloud assembly after synth. The sentence the report prints is built
from the checks, so it cannot drift from what was checked.

Which resources a check judges (its subjects): the acknowledged resource when it is
of a type the check reads; otherwise, the resources of those types that the
acknowledged resource refers to, following references across stacks (a role's
policy -> the bucket it grants on), or failing those, the resources of those types
that refer to it (a function's log group). `on=` narrows the subjects to one type. A check
that finds no subject does not hold: a claim about nothing is not evidence.

Standard library only (plus the template index), so the report can be rebuilt
without the CDK.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from compliance.assembly import ResourceView
from compliance.model import CheckResult
from compliance.references import TemplateIndex, intrinsics, render
from config import aws_facts  # cfn-lint's region data, read only when a check asks
from config.schema import ECR_IMAGE  # the configuration's own form of an image pinned by digest

BUCKET = "AWS::S3::Bucket"
KEY = "AWS::KMS::Key"
LOG_GROUP = "AWS::Logs::LogGroup"
POLICY = "AWS::IAM::Policy"
MANAGED_POLICY = "AWS::IAM::ManagedPolicy"
ROLE = "AWS::IAM::Role"
STAGE = "AWS::ApiGateway::Stage"
METHOD = "AWS::ApiGateway::Method"
TOPIC = "AWS::SNS::Topic"
CACHE = "AWS::ElastiCache::ReplicationGroup"
DATABASE = "AWS::RDS::DBInstance"
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
SUBNET = "AWS::EC2::Subnet"
VPC = "AWS::EC2::VPC"
FUNCTION = "AWS::Lambda::Function"
TASK_DEFINITION = "AWS::ECS::TaskDefinition"
STREAM = "AWS::Kinesis::Stream"
SECRET = "AWS::SecretsManager::Secret"

# How a claim names its subject when it reads one type.
_NOUNS = {
    BUCKET: "the S3 bucket",
    KEY: "the KMS key",
    LOG_GROUP: "the log group",
    POLICY: "the policy",
    MANAGED_POLICY: "the policy",
    ROLE: "the role",
    STAGE: "the API stage",
    METHOD: "the API method",
    TOPIC: "the SNS topic",
    CACHE: "the cache",
    DATABASE: "the database",
    LOAD_BALANCER: "the load balancer",
    SUBNET: "each subnet",
    VPC: "the VPC",
    FUNCTION: "the function",
    TASK_DEFINITION: "the task definition",
    STREAM: "the stream",
}


@dataclass(frozen=True)
class Check:
    """A named claim about resources of some types; subclasses implement `judge` and `predicate`."""

    on: str | None = field(default=None, kw_only=True)
    via: str | None = field(default=None, kw_only=True)  # on a policy: only what it grants this action on
    subject_types: ClassVar[tuple[str, ...]] = ()
    # True where the claim is that a deploy-time hook sees the resource differently from the template.
    resolves_at_deploy: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def types(self) -> tuple[str, ...]:
        return (self.on,) if self.on else self.subject_types

    @property
    def noun(self) -> str:
        return _NOUNS.get(self.types[0], "the resource") if len(self.types) == 1 else "the resource"

    @property
    def predicate(self) -> str:
        """The claim's verb phrase, e.g. "is versioned"."""
        raise NotImplementedError

    @property
    def claim(self) -> str:
        granted = f" it grants {self.via} on" if self.via else ""
        return f"{self.noun}{granted} {self.predicate}"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        """(holds, evidence) for one subject."""
        raise NotImplementedError

    def evaluate(self, path: str, index: TemplateIndex) -> list[CheckResult]:
        """The check on every subject found from the acknowledged construct at `path`."""
        found = granted(path, self.via, self.types, index) if self.via else subjects(path, self.types, index)
        if not found:
            wanted = " or ".join(self.types)
            return [
                CheckResult(
                    self.name,
                    self.claim,
                    "",
                    False,
                    f"no {wanted} at or referenced from {path}",
                    resolves_at_deploy=self.resolves_at_deploy,
                )
            ]
        results = []
        for resource in found:
            holds, evidence = self.judge(resource, index)
            results.append(
                CheckResult(
                    self.name, self.claim, resource.path, holds, evidence, resolves_at_deploy=self.resolves_at_deploy
                )
            )
        return results


def subjects(path: str, types: tuple[str, ...], index: TemplateIndex, *, depth: int = 3) -> list[ResourceView]:
    """The resources a check of `types` judges for an acknowledgment on `path` (see the module docstring)."""
    own = index.resources_under(path)
    matched = [r for r in own if r.type in types]
    if matched:
        return matched
    seen = {r.path for r in own}
    frontier: list[ResourceView] = own
    found: list[ResourceView] = []
    for _ in range(depth):
        following: list[ResourceView] = []
        for resource in frontier:
            for target in index.references(resource):
                if target.path in seen:
                    continue
                seen.add(target.path)
                (found if target.type in types else following).append(target)
        if found:
            return found
        frontier = following
    # Last, what refers to the acknowledged resource (a function's log group names the function).
    return [r for resource in own for t in types for r in index.referrers(resource, t)]


def granted(path: str, action: str, types: tuple[str, ...], index: TemplateIndex) -> list[ResourceView]:
    """The resources of `types` that the policy at `path` grants `action` on.

    Besides references, a grant may name what another region's stack creates: a bucket by its
    name in an ARN, or keys through the aliases of a `kms:ResourceAliases` condition.
    """
    found: dict[str, ResourceView] = {}
    for policy in index.resources_under(path):
        for statement in _statements(policy.properties.get("PolicyDocument")):
            if statement.get("Effect") != "Allow" or action not in _list(statement.get("Action")):
                continue
            targets = [index.resolve(policy.stack, v) for v in intrinsics(statement.get("Resource"))]
            for value in _list(statement.get("Resource")):
                bucket = _S3_ARN.match(value) if isinstance(value, str) else None
                if bucket is not None:
                    targets.append(index.named(BUCKET, "BucketName", bucket.group(1)))
            for condition in statement.get("Condition", {}).values():
                for alias in _list(condition.get("kms:ResourceAliases")) if isinstance(condition, dict) else []:
                    named = index.named("AWS::KMS::Alias", "AliasName", str(alias))
                    targets.append(index.resolve(named.stack, named.properties.get("TargetKeyId")) if named else None)
            for target in targets:
                if target is not None and target.type in types:
                    found.setdefault(target.path, target)
    return list(found.values())


_S3_ARN = re.compile(r"^arn:[^:]+:s3:::([^/*]+)(?:/.*)?$")


# --- Helpers over resolved properties -----------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _statements(document: Any) -> list[dict[str, Any]]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in _list(statements) if isinstance(s, dict)]


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _subnets_of(resource: ResourceView, index: TemplateIndex) -> list[ResourceView]:
    """The subnets a networked resource is placed in (directly, or through its subnet group)."""
    props = resource.properties
    if resource.type == SUBNET:
        return [resource]
    values: list[Any] = []
    if resource.type == LOAD_BALANCER:
        values = _list(props.get("Subnets")) + [m.get("SubnetId") for m in _list(props.get("SubnetMappings"))]
    elif resource.type in (DATABASE, CACHE):
        group = index.resolve(resource.stack, props.get("DBSubnetGroupName") or props.get("CacheSubnetGroupName"))
        values = _list(group.properties.get("SubnetIds")) if group is not None else []
    elif resource.type == FUNCTION:
        values = _list(props.get("VpcConfig", {}).get("SubnetIds"))
    elif resource.type == "AWS::ECS::Service":
        values = _list(props.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {}).get("Subnets"))
    subnets = [index.resolve(resource.stack, v) for v in values]
    return [s for s in subnets if s is not None and s.type == SUBNET]


# --- The checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Versioned(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET,)

    @property
    def predicate(self) -> str:
        return "is versioned"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        status = resource.properties.get("VersioningConfiguration", {}).get("Status", "absent")
        return status == "Enabled", f"VersioningConfiguration.Status is {status}"


@dataclass(frozen=True)
class RetainedOnDelete(Check):
    """DeletionPolicy Retain, or RetainExceptOnCreate (kept unless the stack's very first create rolls back)."""

    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, KEY, LOG_GROUP, STREAM, SECRET, "AWS::CodeBuild::ReportGroup")

    @property
    def predicate(self) -> str:
        return "is retained when its stack is deleted"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        policy = resource.deletion_policy
        return policy in ("Retain", "RetainExceptOnCreate"), f"DeletionPolicy is {policy}"


@dataclass(frozen=True)
class TlsOnly(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, TOPIC, CACHE, DATABASE)

    @property
    def predicate(self) -> str:
        return "refuses connections without TLS"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        if resource.type == CACHE:
            enabled, mode = _true(props.get("TransitEncryptionEnabled")), props.get("TransitEncryptionMode", "required")
            return enabled and mode == "required", f"TransitEncryptionEnabled {enabled}, mode {mode}"
        if resource.type == DATABASE:
            group = index.resolve(resource.stack, props.get("DBParameterGroupName"))
            value = group.properties.get("Parameters", {}).get("rds.force_ssl") if group is not None else None
            return str(value) == "1", f"rds.force_ssl is {value}"
        policy_type, key = (
            ("AWS::S3::BucketPolicy", "Bucket") if resource.type == BUCKET else ("AWS::SNS::TopicPolicy", "Topics")
        )
        for policy in index.referrers(resource, policy_type):
            # The policy must be this resource's own, not one that merely names it in a condition.
            governed = [index.resolve(policy.stack, v) for v in _list(policy.properties.get(key))]
            if not any(g is not None and g.path == resource.path for g in governed):
                continue
            for statement in _statements(policy.properties.get("PolicyDocument")):
                condition = statement.get("Condition", {}).get("Bool", {})
                if statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false":
                    return True, f"{policy.path} denies requests where aws:SecureTransport is false"
        return False, "no resource policy denies requests without TLS (aws:SecureTransport false)"


_KEY_PROPERTY = {
    STREAM: ("StreamEncryption", "KeyId"),
    LOG_GROUP: ("KmsKeyId",),
    TOPIC: ("KmsMasterKeyId",),
    CACHE: ("KmsKeyId",),
    DATABASE: ("KmsKeyId",),
    SECRET: ("KmsKeyId",),
}


def _key_reference(resource: ResourceView) -> Any:
    if resource.type == BUCKET:
        rules = resource.properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        for rule in _list(rules):
            default = rule.get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                return default.get("KMSMasterKeyID")
        return None
    value: Any = resource.properties
    for part in _KEY_PROPERTY.get(resource.type, ("KmsKeyId",)):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass(frozen=True)
class EncryptedWithCmk(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, STREAM, LOG_GROUP, TOPIC, CACHE, DATABASE, SECRET)

    @property
    def predicate(self) -> str:
        return "is encrypted with a customer-managed KMS key of this app"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        reference = _key_reference(resource)
        key = None
        # The key itself, or an ARN built around a reference to it or to its alias (an alias names its key).
        for target in (index.resolve(resource.stack, v) for v in intrinsics(reference)):
            if target is not None and target.type == "AWS::KMS::Alias":
                target = index.resolve(target.stack, target.properties.get("TargetKeyId"))
            if target is not None and target.type == KEY:
                key = target
                break
        if key is None:
            return False, f"encryption key is {render(reference) if reference is not None else 'absent'}"
        return True, f"encrypted with {key.path}"


@dataclass(frozen=True)
class EncryptedAtRest(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET,)

    @property
    def predicate(self) -> str:
        return "encrypts every object at rest by default"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        rules = resource.properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        algorithms = [r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in _list(rules)]
        found = [a for a in algorithms if a]
        return bool(found), f"default encryption {', '.join(found) or 'absent'}"


@dataclass(frozen=True)
class AccessLogged(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, STAGE)

    @property
    def predicate(self) -> str:
        return "logs every access"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        if resource.type == STAGE:
            destination = resource.properties.get("AccessLogSetting", {}).get("DestinationArn")
            target = index.resolve(resource.stack, destination) if destination is not None else None
            where = target.path if target is not None else render(destination) if destination else ""
            return bool(destination), f"access logs to {where}" if destination else "no AccessLogSetting"
        destination = resource.properties.get("LoggingConfiguration", {}).get("DestinationBucketName")
        target = index.resolve(resource.stack, destination) if destination is not None else None
        if destination is None:
            return False, "no LoggingConfiguration"
        return True, f"server access logs to {target.path if target is not None else render(destination)}"


@dataclass(frozen=True)
class NotPublic(Check):
    subject_types: ClassVar[tuple[str, ...]] = (BUCKET, DATABASE, LOAD_BALANCER)

    @property
    def predicate(self) -> str:
        return "is not reachable from the internet"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        if resource.type == DATABASE:
            public = _true(props.get("PubliclyAccessible"))
            return not public, f"PubliclyAccessible is {public}"
        if resource.type == LOAD_BALANCER:
            scheme = props.get("Scheme", "internet-facing")
            return scheme == "internal", f"Scheme is {scheme}"
        block = props.get("PublicAccessBlockConfiguration", {})
        settings = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        missing = [s for s in settings if not _true(block.get(s))]
        return (
            not missing,
            f"public access block missing {', '.join(missing)}" if missing else "all public access blocked",
        )


@dataclass(frozen=True)
class KeptAtLeast(Check):
    """Records are kept at least `days` days: log retention, or the bucket's earliest expiration."""

    days: int = 365
    subject_types: ClassVar[tuple[str, ...]] = (LOG_GROUP, BUCKET)

    @property
    def predicate(self) -> str:
        return f"keeps its records at least {self.days} days"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        if resource.type == LOG_GROUP:
            retention = props.get("RetentionInDays")
            if retention is None:
                return True, "RetentionInDays absent (kept indefinitely)"
            return int(retention) >= self.days, f"RetentionInDays is {retention}"
        rules = _list(props.get("LifecycleConfiguration", {}).get("Rules"))
        expirations = [
            int(r["ExpirationInDays"]) for r in rules if r.get("Status") != "Disabled" and "ExpirationInDays" in r
        ]
        if not expirations:
            return True, "no expiration rule (kept indefinitely)"
        return min(expirations) >= self.days, f"objects expire after {min(expirations)} days"


@dataclass(frozen=True)
class KeyRotation(Check):
    subject_types: ClassVar[tuple[str, ...]] = (KEY,)

    @property
    def predicate(self) -> str:
        return "rotates its key material yearly"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        rotation = _true(resource.properties.get("EnableKeyRotation"))
        return rotation, f"EnableKeyRotation is {rotation}"


@dataclass(frozen=True)
class IamAuthenticationRequired(Check):
    subject_types: ClassVar[tuple[str, ...]] = (METHOD, STAGE, DATABASE, CACHE)

    @property
    def predicate(self) -> str:
        return "admits only callers that authenticate with IAM (SigV4 or IAM tokens)"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        if resource.type == DATABASE:
            enabled = _true(props.get("EnableIAMDatabaseAuthentication"))
            return enabled, f"EnableIAMDatabaseAuthentication is {enabled}"
        if resource.type == CACHE:
            return _cache_users_use_iam(resource, index)
        methods = [resource] if resource.type == METHOD else _methods_of_stage(resource, index)
        if not methods:
            return False, "no methods found"
        open_ = [m.path for m in methods if m.properties.get("AuthorizationType") != "AWS_IAM"]
        return not open_, f"not AWS_IAM: {', '.join(open_)}" if open_ else f"{len(methods)} method(s) use AWS_IAM"


def _cache_users_use_iam(resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
    groups = [index.resolve(resource.stack, g) for g in _list(resource.properties.get("UserGroupIds"))]
    users = [
        index.resolve(group.stack, u)
        for group in groups
        if group is not None
        for u in _list(group.properties.get("UserIds"))
    ]
    if not groups or not users or any(u is None for u in users):
        return False, "no user group of users defined in this app (the default user would admit anyone)"
    password = [
        u.path
        for u in users
        if u is not None
        and u.properties.get("AuthenticationMode", {}).get("Type") != "iam"
        and not str(u.properties.get("AccessString", "")).startswith("off")
    ]
    names = ", ".join(str(u.properties.get("UserName")) for u in users if u is not None)
    return not password, f"enabled users without IAM: {', '.join(password)}" if password else f"users: {names}"


def _methods_of_stage(stage: ResourceView, index: TemplateIndex) -> list[ResourceView]:
    api = index.resolve(stage.stack, stage.properties.get("RestApiId"))
    return index.referrers(api, METHOD) if api is not None else []


@dataclass(frozen=True)
class PrivateIntegration(Check):
    subject_types: ClassVar[tuple[str, ...]] = (STAGE,)

    @property
    def predicate(self) -> str:
        return "reaches its backend only through a VPC link"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        methods = _methods_of_stage(resource, index)
        public = [m.path for m in methods if m.properties.get("Integration", {}).get("ConnectionType") != "VPC_LINK"]
        if not methods:
            return False, "no methods found"
        return not public, f"not through a VPC link: {', '.join(public)}" if public else f"{len(methods)} method(s)"


@dataclass(frozen=True)
class NotCached(Check):
    subject_types: ClassVar[tuple[str, ...]] = (STAGE,)

    @property
    def predicate(self) -> str:
        return "caches no response"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        cluster = _true(props.get("CacheClusterEnabled"))
        cached = [
            s.get("ResourcePath", "?") for s in _list(props.get("MethodSettings")) if _true(s.get("CachingEnabled"))
        ]
        holds = not cluster and not cached
        return holds, "no cache cluster, no method caching" if holds else f"cache cluster {cluster}, caching {cached}"


@dataclass(frozen=True)
class InIsolatedSubnets(Check):
    subject_types: ClassVar[tuple[str, ...]] = (LOAD_BALANCER, DATABASE, CACHE, FUNCTION, "AWS::ECS::Service", SUBNET)

    @property
    def predicate(self) -> str:
        return "sits only in subnets with no route to or from the internet"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        subnets = _subnets_of(resource, index)
        if not subnets:
            return False, "no subnets of this app found"
        routed = []
        for subnet in subnets:
            if _true(subnet.properties.get("MapPublicIpOnLaunch")):
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


def _roles_of(resource: ResourceView, index: TemplateIndex) -> list[ResourceView]:
    if resource.type == ROLE:
        return [resource]
    roles = [index.resolve(resource.stack, r) for r in _list(resource.properties.get("Roles"))]
    return [r for r in roles if r is not None and r.type == ROLE]


@dataclass(frozen=True)
class AssumableOnlyBy(Check):
    """The role's trust policy admits exactly one AWS service, and no account, user or federated principal."""

    service: str = ""
    subject_types: ClassVar[tuple[str, ...]] = (ROLE,)

    @property
    def predicate(self) -> str:
        return f"can be assumed only by {self.service}"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        principals: list[str] = []
        for statement in _statements(resource.properties.get("AssumeRolePolicyDocument")):
            if statement.get("Effect") != "Allow":
                continue
            principal = statement.get("Principal", {})
            if not isinstance(principal, dict):
                principals.append(render(principal))
                continue
            for kind, values in principal.items():
                principals += [f"{kind}:{render(v)}" for v in _list(values)]
        holds = bool(principals) and all(p == f"Service:{self.service}" for p in principals)
        return holds, f"trusted principals: {', '.join(principals) or 'none'}"


def _actions(statement: dict[str, Any]) -> list[str]:
    return [str(a) for a in _list(statement.get("Action"))]


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
                operator == "StringEquals" and _list(block[self.condition]) == [self.condition_value]
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
            for s in _statements(resource.properties.get("PolicyDocument"))
            if s.get("Effect") == "Allow" and any(self._selects(r) for r in _list(s.get("Resource")))
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

    @property
    def noun(self) -> str:
        return "the policy"

    @property
    def predicate(self) -> str:
        where = f"its own region or {', '.join(self.regions)}" if self.regions else "its own region"
        return f"names {' and '.join(self.services)} resources only of its own account and {where}"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        stack, outside, named = resource.stack, [], 0
        for statement in _statements(resource.properties.get("PolicyDocument")):
            if statement.get("Effect") != "Allow":
                continue
            for value in _list(statement.get("Resource")):
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

    @property
    def predicate(self) -> str:
        return "is attached to exactly one role, created in the same template, and to no user or group"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        roles = _list(props.get("Roles"))
        local = [r for r in roles if isinstance(r, dict) and "Ref" in r and r["Ref"] in resource.stack.resources]
        holds = len(roles) == 1 and len(local) == 1 and not props.get("Users") and not props.get("Groups")
        return (
            holds,
            f"{len(roles)} role(s), {len(_list(props.get('Users')))} user(s), "
            f"{len(_list(props.get('Groups')))} group(s)",
        )


@dataclass(frozen=True)
class ZonesOfRegion(Check):
    subject_types: ClassVar[tuple[str, ...]] = (SUBNET,)

    @property
    def predicate(self) -> str:
        return "is placed in a named availability zone of its stack's region"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        zone = resource.properties.get("AvailabilityZone")
        known = aws_facts.availability_zones().get(resource.stack.region, ())
        return isinstance(zone, str) and zone in known, f"AvailabilityZone {render(zone)} in {resource.stack.region}"


@dataclass(frozen=True)
class BackedUp(Check):
    subject_types: ClassVar[tuple[str, ...]] = (DATABASE, CACHE, "AWS::DynamoDB::Table", "AWS::EFS::FileSystem")

    @property
    def predicate(self) -> str:
        return "has recovery points: an AWS Backup plan selects it, or it keeps automatic daily snapshots"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        if resource.type == CACHE:
            days = int(resource.properties.get("SnapshotRetentionLimit", 0) or 0)
            return days > 0, f"SnapshotRetentionLimit is {days}"
        for selection in index.referrers(resource, "AWS::Backup::BackupSelection"):
            plan = index.resolve(selection.stack, selection.properties.get("BackupPlanId"))
            rules = _list(plan.properties.get("BackupPlan", {}).get("BackupPlanRule")) if plan is not None else []
            if rules:
                names = ", ".join(str(r.get("RuleName")) for r in rules)
                return True, f"{selection.path} in {plan.path if plan else '?'} (rules: {names})"
        return False, "no AWS Backup selection names it"


_CREDENTIAL_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY", re.IGNORECASE)


@dataclass(frozen=True)
class CredentialsOnlyAsSecrets(Check):
    subject_types: ClassVar[tuple[str, ...]] = (TASK_DEFINITION,)

    @property
    def predicate(self) -> str:
        return "passes no credential in an environment variable (any credential comes as an ECS secret)"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        suspicious, secrets = [], 0
        for container in _list(resource.properties.get("ContainerDefinitions")):
            suspicious += [
                str(e.get("Name"))
                for e in _list(container.get("Environment"))
                if _CREDENTIAL_NAME.search(str(e.get("Name")))
            ]
            secrets += len(_list(container.get("Secrets")))
        if suspicious:
            return False, f"credential-like environment variables: {', '.join(suspicious)}"
        return True, f"{secrets} ECS secret(s), no credential-like environment variable"


@dataclass(frozen=True)
class NotInvocableByOthers(Check):
    subject_types: ClassVar[tuple[str, ...]] = (FUNCTION,)

    @property
    def predicate(self) -> str:
        return "has no resource policy or URL: only IAM principals of its account that are granted it may invoke it"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        grants = index.referrers(resource, "AWS::Lambda::Permission") + index.referrers(resource, "AWS::Lambda::Url")
        return not grants, f"resource policies: {', '.join(g.path for g in grants)}" if grants else "no resource policy"


@dataclass(frozen=True)
class SigningOnly(Check):
    subject_types: ClassVar[tuple[str, ...]] = (KEY,)

    @property
    def predicate(self) -> str:
        return "is an asymmetric key usable only to sign and verify"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        usage, spec = resource.properties.get("KeyUsage"), resource.properties.get("KeySpec")
        return usage == "SIGN_VERIFY", f"KeyUsage {usage}, KeySpec {spec}"


@dataclass(frozen=True)
class RunOnlyByPipeline(Check):
    """A CodeBuild project with a CODEPIPELINE source and no webhook: nothing but a pipeline action starts it."""

    subject_types: ClassVar[tuple[str, ...]] = ("AWS::CodeBuild::Project",)

    @property
    def noun(self) -> str:
        return "the build project"

    @property
    def predicate(self) -> str:
        return "runs only as a pipeline action (CODEPIPELINE source, no webhook) with a customer-managed key"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        props = resource.properties
        source = props.get("Source", {}).get("Type")
        webhook = bool(props.get("Triggers", {}).get("Webhook"))
        key = index.resolve(resource.stack, props.get("EncryptionKey"))
        key_type = key.type if key is not None else None
        holds = source == "CODEPIPELINE" and not webhook and key_type in (KEY, "AWS::KMS::Alias")
        return holds, f"source {source}, webhook {'on' if webhook else 'off'}, key {key_type or 'not of this app'}"


@dataclass(frozen=True)
class ImagePinnedByDigest(Check):
    """A CodeBuild project runs on an Amazon ECR image named by its sha256 digest, pulled with its service role."""

    subject_types: ClassVar[tuple[str, ...]] = ("AWS::CodeBuild::Project",)

    @property
    def noun(self) -> str:
        return "the build project"

    @property
    def predicate(self) -> str:
        return "runs on an Amazon ECR image named by its sha256 digest, pulled with the project's own service role"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        environment = resource.properties.get("Environment", {})
        image, credentials = render(environment.get("Image", "absent")), environment.get("ImagePullCredentialsType")
        holds = bool(ECR_IMAGE.fullmatch(image)) and credentials == "SERVICE_ROLE"
        return holds, f"image {image}, pulled with {credentials or 'CODEBUILD'} credentials"


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
        values = _list(value)
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


def _service_grants(document: Any, service: str) -> list[dict[str, Any]]:
    """The Allow statements of a policy document whose principal names the AWS service `service`."""
    found = []
    for statement in _statements(document):
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else None
        if statement.get("Effect") == "Allow" and service in [render(s) for s in _list(services)]:
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

    @property
    def predicate(self) -> str:
        return f"accepts messages from {self.service} only for resources of this account (aws:SourceAccount/Arn)"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        grants = []
        for policy in index.referrers(resource, "AWS::SNS::TopicPolicy"):
            governed = [index.resolve(policy.stack, v) for v in _list(policy.properties.get("Topics"))]
            if any(g is not None and g.path == resource.path for g in governed):
                grants += _service_grants(policy.properties.get("PolicyDocument"), self.service)
        if not grants:
            return False, f"no policy of the topic allows {self.service}"
        untied = [s for s in grants if not _tied_to_source(s)]
        return not untied, f"{len(grants)} grant(s) to {self.service}, {len(untied)} without aws:SourceAccount/Arn"


def evaluate_checks(checks: Iterable[Check], path: str, index: TemplateIndex) -> list[CheckResult]:
    """Every check of one acknowledgment on its subjects, in the order the checks were given."""
    return [result for check in checks for result in check.evaluate(path, index)]


def compensating_sentence(checks: Iterable[Check]) -> str:
    """The compensating control as one sentence, generated from the checks that verify it."""
    claims = list(dict.fromkeys(check.claim for check in checks))
    if len(claims) <= 1:
        return "".join(claims)
    return "; ".join(claims[:-1]) + "; and " + claims[-1]


__all__ = [
    "AccessLogged",
    "AssumableOnlyBy",
    "AttachedToOneRole",
    "BackedUp",
    "Check",
    "CredentialsOnlyAsSecrets",
    "EncryptedAtRest",
    "EncryptedWithCmk",
    "FlowLogged",
    "GrantsConfinedToAccount",
    "IamAuthenticationRequired",
    "ImagePinnedByDigest",
    "InIsolatedSubnets",
    "KeptAtLeast",
    "KeyRotation",
    "NotCached",
    "NotInvocableByOthers",
    "NotPublic",
    "PrivateIntegration",
    "PublishConfinedToAccount",
    "ResolvedAtDeploy",
    "RetainedOnDelete",
    "RunOnlyByPipeline",
    "ServiceGrantsOnly",
    "SigningOnly",
    "TlsOnly",
    "Versioned",
    "WildcardGrantsOnly",
    "ZonesOfRegion",
    "compensating_sentence",
    "evaluate_checks",
]
