"""The traversal engine of the claims: what a `Check` is, which resources it judges, and the sentence it makes.

Which resources a check judges (its subjects): the acknowledged resource when it is
of a type the check reads; otherwise, the resources of those types that the
acknowledged resource refers to, following references across stacks (a role's
policy -> the bucket it grants on), or failing those, the resources of those types
that refer to it (a function's log group). `on=` narrows the subjects to one type. A check
that finds no subject does not hold: a claim about nothing is not evidence.

The claims themselves are in the modules beside this one, by domain; none of them imports another.
Standard library only (plus the template index), so the report can be rebuilt without the CDK.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from compliance.assembly import ResourceView
from compliance.model import CheckResult
from compliance.references import TemplateIndex, intrinsics

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
    # What each claim documents of itself (the claims table of docs/compliance.md): when it holds, in a phrase;
    # the AWS documentation it rests on ("" where it cites none); the NIST 800-53 controls it evidences.
    shortdesc: ClassVar[str] = ""
    source_url: ClassVar[str] = ""
    controls: ClassVar[tuple[str, ...]] = ()
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
        for statement in statements(policy.properties.get("PolicyDocument")):
            if statement.get("Effect") != "Allow" or action not in as_list(statement.get("Action")):
                continue
            targets = [index.resolve(policy.stack, v) for v in intrinsics(statement.get("Resource"))]
            for value in as_list(statement.get("Resource")):
                bucket = _S3_ARN.match(value) if isinstance(value, str) else None
                if bucket is not None:
                    targets.append(index.named(BUCKET, "BucketName", bucket.group(1)))
            for condition in statement.get("Condition", {}).values():
                for alias in as_list(condition.get("kms:ResourceAliases")) if isinstance(condition, dict) else []:
                    named = index.named("AWS::KMS::Alias", "AliasName", str(alias))
                    targets.append(index.resolve(named.stack, named.properties.get("TargetKeyId")) if named else None)
            for target in targets:
                if target is not None and target.type in types:
                    found.setdefault(target.path, target)
    return list(found.values())


_S3_ARN = re.compile(r"^arn:[^:]+:s3:::([^/*]+)(?:/.*)?$")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def statements(document: Any) -> list[dict[str, Any]]:
    found = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in as_list(found) if isinstance(s, dict)]


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


_CREDENTIAL_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY", re.IGNORECASE)


def credential_like_variables(task_definition: ResourceView) -> list[str]:
    """The names of the task definition's environment variables that look like credentials (PASSWORD, TOKEN, ...)."""
    return [
        str(variable.get("Name"))
        for container in as_list(task_definition.properties.get("ContainerDefinitions"))
        for variable in as_list(container.get("Environment"))
        if _CREDENTIAL_NAME.search(str(variable.get("Name")))
    ]


def evaluate_checks(checks: Iterable[Check], path: str, index: TemplateIndex) -> list[CheckResult]:
    """Every check of one acknowledgment on its subjects, in the order the checks were given."""
    return [result for check in checks for result in check.evaluate(path, index)]


def compensating_sentence(checks: Iterable[Check]) -> str:
    """The compensating control as one sentence, generated from the checks that verify it."""
    claims = list(dict.fromkeys(check.claim for check in checks))
    if len(claims) <= 1:
        return "".join(claims)
    return "; ".join(claims[:-1]) + "; and " + claims[-1]
