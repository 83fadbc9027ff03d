"""MasterSecretGrant: only the functions that administer the database may read its master secret.

The database's master password signs in as the database's owner: whoever reads it bypasses the
service's own IAM database user and the grants the database-user function gives it. Today two
functions need it: the database-user function, which creates that user (a `Custom::DatabaseUser`
resource passes it the secret), and the rotation function that changes the password (the secret's
`RotationSchedule`; the Serverless Application Repository's rotation application creates its role in
a nested stack, with its own policy, so no template of the app holds it). Any other grant of
`secretsmanager:GetSecretValue` on the secret (an inline, managed or role policy, an AWS managed
policy that reads every secret, or the secret's resource policy), directly or through `*`, a
wildcard ARN or `secretsmanager:*`, fails: a commit cannot hand a stage's master password, Dev's
included, to the task role or any other principal without an acknowledged reason.

A master secret is one an RDS instance or cluster reads its password from (a dynamic reference in
`MasterUserPassword`, or a `SecretTargetAttachment` to it), or the secret RDS manages itself
(`ManageMasterUserPassword`, named as the instance's `MasterUserSecret.SecretArn`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from compliance.assembly import ResourceView, StackView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import TemplateIndex, intrinsics, render
from config import aws_facts

_READ = "secretsmanager:getsecretvalue"
_DATABASES = frozenset({"AWS::RDS::DBInstance", "AWS::RDS::DBCluster"})
_RDS_MANAGED = "MasterUserSecret.SecretArn"
# AWS managed policies that read every secret of the account (reviewed: their documents are not in the templates).
BROAD_MANAGED_POLICIES = ("AdministratorAccess", "PowerUserAccess", "SecretsManagerReadWrite")
# Custom resources whose function administers the database with the master secret it is given.
ADMINISTERING_CUSTOM_RESOURCES = frozenset({"Custom::DatabaseUser"})
_ADVICE = (
    "the master password signs in as the database's owner, past the service's IAM database user and its grants; "
    "remove the grant (a service signs in as its own IAM database user), or acknowledge it with its reason"
)


@dataclass(frozen=True)
class MasterSecret:
    """A database's master secret: the secret resource, or the database whose secret RDS manages."""

    stack: StackView
    logical_id: str
    rds_managed: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.stack.stack_name, self.logical_id)

    def example_arn(self) -> str:
        """An ARN the secret could have (its generated name starts with its logical id), for wildcard patterns."""
        name = "rds!db-0" if self.rds_managed else f"{self.logical_id}-AbCdEf"
        partition = aws_facts.partition_of(self.stack.region)
        return f"arn:{partition}:secretsmanager:{self.stack.region}:{self.stack.account}:secret:{name}"


@dataclass(frozen=True)
class _Principal:
    label: str
    role: tuple[str, str] | None = None  # (stack name, logical id) where it is a role of the app


def master_secret_grant(resource: ResourceView, ctx: Context) -> Verdict:
    """No policy lets a principal other than the database's administering functions read its master secret."""
    grants = list(_grants(ctx.index, resource))
    if not grants:
        return Verdict.not_applicable()
    applies = False
    for secret in master_secrets(ctx.index):
        readers = administering_roles(ctx.index, secret)
        for statement, principals in grants:
            if not _covers(ctx.index, resource, statement, secret):
                continue
            applies = True
            for principal in principals:
                if principal.role is None or principal.role not in readers:
                    return Verdict.fail(
                        f"{principal.label}/{secret.logical_id}",
                        f"{_policy_label(resource, statement)} lets {principal.label} read the database master "
                        f"secret {secret.stack.stack_name}/{secret.logical_id} (secretsmanager:GetSecretValue), "
                        f"which only the database-user function and the secret's rotation function may; {_ADVICE}",
                    )
    return Verdict.ok() if applies else Verdict.not_applicable()


def master_secrets(index: TemplateIndex) -> list[MasterSecret]:
    """Every database master secret of the app."""
    return list(index.fact(_master_secrets))


def administering_roles(index: TemplateIndex, secret: MasterSecret) -> set[tuple[str, str]]:
    """The roles of the functions that administer the database with `secret`: the database-user function's
    (a custom resource that is given the secret) and the rotation function's, where the app creates it."""
    return set(index.fact(_administering_roles).get(secret.key, ()))


def _master_secrets(index: TemplateIndex) -> list[MasterSecret]:
    found: dict[tuple[str, str], MasterSecret] = {}
    for view in index.all_resources():
        if view.type in _DATABASES:
            if view.properties.get("ManageMasterUserPassword") in (True, "true"):
                found.setdefault(
                    (view.stack.stack_name, view.logical_id), MasterSecret(view.stack, view.logical_id, True)
                )
            if "{{resolve:secretsmanager:" in render(view.properties.get("MasterUserPassword")):
                for secret in _secrets(index, view.stack, view.properties.get("MasterUserPassword")):
                    found.setdefault(secret.key, secret)
        elif (
            view.type == "AWS::SecretsManager::SecretTargetAttachment"
            and view.properties.get("TargetType") in _DATABASES
        ):
            for secret in _secrets(index, view.stack, view.properties.get("SecretId")):
                found.setdefault(secret.key, secret)
    return list(found.values())


def _administering_roles(index: TemplateIndex) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """By secret (stack name, logical id), the roles of the functions given it, in one pass over the app."""
    functions: list[tuple[tuple[str, str], StackView, Any]] = []
    for view in index.all_resources():
        given: Any
        if view.type in ADMINISTERING_CUSTOM_RESOURCES:
            given, token = view.properties, view.properties.get("ServiceToken")
        elif view.type == "AWS::SecretsManager::RotationSchedule":
            given, token = view.properties.get("SecretId"), view.properties.get("RotationLambdaARN")
        else:
            continue
        functions += [(secret.key, view.stack, token) for secret in _secrets(index, view.stack, given)]
    roles: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for key, stack, reference in functions:
        function = index.resolve(stack, reference)
        if function is not None and function.type == "AWS::Lambda::Function":
            role = index.target(function.stack, function.properties.get("Role"))
            if role is not None:
                roles.setdefault(key, set()).add((role[0].stack_name, role[1]))
    return roles


def _secrets(index: TemplateIndex, stack: StackView, value: Any) -> Iterator[MasterSecret]:
    """The secrets a value refers to, through a SecretTargetAttachment (whose Ref is its secret's ARN) too."""
    for reference in intrinsics(value):
        target = index.target(stack, reference)
        if target is None:
            continue
        owner, logical_id, entry = target
        if entry.get("Type") == "AWS::SecretsManager::Secret":
            yield MasterSecret(owner, logical_id, False)
        elif entry.get("Type") == "AWS::SecretsManager::SecretTargetAttachment":
            yield from _secrets(index, owner, entry.get("Properties", {}).get("SecretId"))
        elif entry.get("Type") in _DATABASES and _RDS_MANAGED in render(reference.get("Fn::GetAtt", "")):
            yield MasterSecret(owner, logical_id, True)


def _refers(index: TemplateIndex, stack: StackView, value: Any, secret: MasterSecret) -> bool:
    """Whether `value` refers to `secret` (across stacks, through an attachment)."""
    return any(s.key == secret.key for s in _secrets(index, stack, value))


def _names(index: TemplateIndex, stack: StackView, value: Any, secret: MasterSecret) -> bool:
    """Whether `value` names `secret`: a reference to it, `*`, or an ARN pattern it matches."""
    if _refers(index, stack, value, secret):
        return True
    # A policy of another account reaches this account's secrets only where it names the account.
    foreign = bool(secret.stack.account and stack.account and secret.stack.account != stack.account)
    for item in value if isinstance(value, list) else [value]:
        text = _literal_text(item, stack)
        if foreign and secret.stack.account not in text:
            continue
        if ("*" in text or "?" in text) and fnmatch.fnmatchcase(secret.example_arn(), text):
            return True
    return False


def _literal_text(value: Any, stack: StackView) -> str:
    """A resource value as text, pseudo-parameters filled in; other references become a character no ARN has."""
    text = render(value)
    pseudo = {
        "Partition": aws_facts.partition_of(stack.region),
        "Region": stack.region,
        "AccountId": stack.account,
        "URLSuffix": "amazonaws.com",
    }
    for name, literal in pseudo.items():  # as render writes a Ref, and as Fn::Sub does
        text = text.replace(f"<AWS::{name}>", literal).replace(f"${{AWS::{name}}}", literal)
    return re.sub(r"<ref>|\$\{[^}]*\}", "\0", text)


def _reads(statement: dict[str, Any]) -> bool:
    """Whether an Allow statement's actions include secretsmanager:GetSecretValue (`*`, `secretsmanager:*`, ...)."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not any(fnmatch.fnmatchcase(_READ, str(a).lower()) for a in _listed(statement["NotAction"]))
    return any(fnmatch.fnmatchcase(_READ, str(a).lower()) for a in _listed(statement.get("Action")))


def _covers(index: TemplateIndex, resource: ResourceView, statement: dict[str, Any], secret: MasterSecret) -> bool:
    if resource.type == "AWS::SecretsManager::ResourcePolicy":  # a secret's own policy: its statements are on it
        return _names(index, resource.stack, resource.properties.get("SecretId"), secret)
    if "NotResource" in statement:
        return not _names(index, resource.stack, statement["NotResource"], secret)
    return _names(index, resource.stack, statement.get("Resource"), secret)


def _grants(index: TemplateIndex, resource: ResourceView) -> Iterator[tuple[dict[str, Any], list[_Principal]]]:
    """Each statement of the resource that allows reading secrets, with the principals it grants that to."""
    properties = resource.properties
    if resource.type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        principals = _attached(index, resource)
        yield from ((s, principals) for s in _statements(properties.get("PolicyDocument")) if _reads(s))
    elif resource.type == "AWS::IAM::Role":
        yield from _role_grants(resource)
    elif resource.type == "AWS::SecretsManager::ResourcePolicy":
        for statement in _statements(properties.get("ResourcePolicy")):
            if _reads(statement):
                yield statement, _resource_principals(resource.stack, index, statement.get("Principal"))


def _role_grants(role: ResourceView) -> Iterator[tuple[dict[str, Any], list[_Principal]]]:
    """A role's inline policies, and the AWS managed policies it attaches that read every secret."""
    itself = [_Principal(f"role {role.logical_id}", (role.stack.stack_name, role.logical_id))]
    for policy in role.properties.get("Policies", []) or []:
        for statement in _statements(policy.get("PolicyDocument")):
            if _reads(statement):
                yield {**statement, "_policy": policy.get("PolicyName")}, itself
    for arn in role.properties.get("ManagedPolicyArns", []) or []:
        name = render(arn).rsplit(":policy/", 1)[-1]
        if name in BROAD_MANAGED_POLICIES:
            yield {"Effect": "Allow", "Action": "*", "Resource": "*", "_policy": name}, itself


def _attached(index: TemplateIndex, policy: ResourceView) -> list[_Principal]:
    """The roles, users and groups an inline or managed policy is attached to."""
    principals = []
    for kind, key in (("role", "Roles"), ("user", "Users"), ("group", "Groups")):
        for value in policy.properties.get(key, []) or []:
            target = index.target(policy.stack, value)
            if kind == "role" and target is not None:
                principals.append(_Principal(f"role {target[1]}", (target[0].stack_name, target[1])))
            else:
                principals.append(_Principal(f"{kind} {render(value)}"))
    if policy.type == "AWS::IAM::ManagedPolicy":
        for role in index.referrers(policy, "AWS::IAM::Role"):
            principals.append(_Principal(f"role {role.logical_id}", (role.stack.stack_name, role.logical_id)))
    return principals or [_Principal("whoever it is attached to")]


def _resource_principals(stack: StackView, index: TemplateIndex, principal: Any) -> list[_Principal]:
    if not isinstance(principal, dict):
        return [_Principal(render(principal) or "*")]
    found = []
    for kind, values in principal.items():
        for value in _listed(values):
            target = index.target(stack, value)
            if kind == "AWS" and target is not None and target[2].get("Type") == "AWS::IAM::Role":
                found.append(_Principal(f"role {target[1]}", (target[0].stack_name, target[1])))
            else:
                found.append(_Principal(f"{kind} {render(value)}"))
    return found


def _policy_label(resource: ResourceView, statement: dict[str, Any]) -> str:
    if resource.type == "AWS::IAM::Role":
        return f"the policy {statement.get('_policy')} of role {resource.logical_id}"
    kinds = {
        "AWS::IAM::Policy": "policy",
        "AWS::IAM::ManagedPolicy": "managed policy",
        "AWS::SecretsManager::ResourcePolicy": "the secret's resource policy",
    }
    return f"{kinds[resource.type]} {resource.logical_id}"


def _statements(document: Any) -> list[dict[str, Any]]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in _listed(statements) if isinstance(s, dict)]


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


RULE = PreflightRule(
    "MasterSecretGrant",
    frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::SecretsManager::ResourcePolicy"}),
    master_secret_grant,
    "A policy that lets a principal other than the database-user function or the rotation function read a "
    "database's master secret (secretsmanager:GetSecretValue, directly or by wildcard).",
    ("AC-3", "AC-6", "IA-5"),
    shortdesc=(
        "a policy (inline, managed, a role's own, an AWS managed policy that reads every secret, or the secret's "
        "resource policy) that lets a principal other than the database-user function or the secret's rotation "
        "function read a database's master secret (`secretsmanager:GetSecretValue`, directly or through `*`, "
        "`secretsmanager:*` or a wildcard ARN)"
    ),
)
