"""Claims about credentials: what a task is given, and how the database admits whom.

A claim that "the task holds no credential" is three facts of the template: its container gets no
ECS secret and no credential-like variable, and neither of its roles may read a secret or a
parameter. A claim about the database says what it admits, and no more: it accepts IAM tokens, and
its master user still signs in with a password, which only the functions that administer the
database may read (`compliance.preflight.master_secret_grant` finds every other grant).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from compliance.assembly import ResourceView
from compliance.claims.engine import (
    DATABASE,
    MANAGED_POLICY,
    POLICY,
    TASK_DEFINITION,
    Check,
    as_list,
    credential_like_variables,
    is_true,
    statements,
)
from compliance.preflight.base import Context, Verdict
from compliance.preflight.master_secret_grant import (
    BROAD_MANAGED_POLICIES,
    MasterSecret,
    administering_roles,
    master_secret_grant,
    master_secrets,
)
from compliance.references import TemplateIndex, intrinsics, render

# The reads that hand a principal a stored credential: a Secrets Manager secret or a Parameter Store parameter.
_SECRET_READS = (
    "secretsmanager:getsecretvalue",
    "ssm:getparameter",
    "ssm:getparameters",
    "ssm:getparametersbypath",
)
_CONNECT = "rds-db:connect"


def _allows(statement: dict[str, Any], action: str) -> bool:
    """An Allow statement whose actions (`*` and `service:*` too) include `action` (lower-case)."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not any(fnmatch.fnmatchcase(action, str(a).lower()) for a in as_list(statement["NotAction"]))
    return any(fnmatch.fnmatchcase(action, str(a).lower()) for a in as_list(statement.get("Action")))


def _role_statements(role: ResourceView, index: TemplateIndex) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, statement) for every statement that applies to `role`: inline, attached, and AWS's broad policies."""
    for policy in role.properties.get("Policies") or []:
        for statement in statements(policy.get("PolicyDocument")):
            yield f"{role.path} {policy.get('PolicyName')}", statement
    for kind in (POLICY, MANAGED_POLICY):
        for policy in index.referrers(role, kind):
            for statement in statements(policy.properties.get("PolicyDocument")):
                yield policy.path, statement
    for arn in as_list(role.properties.get("ManagedPolicyArns")):
        name = render(arn).rsplit(":policy/", 1)[-1]
        if name in BROAD_MANAGED_POLICIES:
            yield name, {"Effect": "Allow", "Action": "*", "Resource": "*"}


@dataclass(frozen=True)
class GivenNoCredential(Check):
    """The task definition gives its containers no credential, and its roles may fetch none."""

    subject_types: ClassVar[tuple[str, ...]] = (TASK_DEFINITION,)
    shortdesc: ClassVar[str] = (
        "no ECS secret, no credential-like environment variable, and neither the task role nor the execution role "
        "may read a secret or a parameter"
    )
    controls: ClassVar[tuple[str, ...]] = ("IA-5(7)", "SC-28")

    @property
    def predicate(self) -> str:
        return (
            "gives its container no credential: no ECS secret, no credential-like environment variable, and neither "
            "its task role nor its execution role may read a secret or a parameter"
        )

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        containers = as_list(resource.properties.get("ContainerDefinitions"))
        problems = [f"ECS secret {s.get('Name')}" for c in containers for s in as_list(c.get("Secrets"))]
        problems += [f"variable {name}" for name in credential_like_variables(resource)]
        roles = [
            index.resolve(resource.stack, resource.properties.get(key)) for key in ("TaskRoleArn", "ExecutionRoleArn")
        ]
        for role in (r for r in roles if r is not None):
            for where, statement in _role_statements(role, index):
                problems += [f"{where} allows {action}" for action in _SECRET_READS if _allows(statement, action)]
        if problems:
            return False, "; ".join(dict.fromkeys(problems))
        named = sum(role is not None for role in roles)
        return True, f"no ECS secret or credential-like variable; {named} role(s), none may read a secret or parameter"


def _connect_grants(database: ResourceView, index: TemplateIndex) -> Iterator[tuple[str, str]]:
    """(policy path, database user) for each grant of rds-db:connect that can reach `database` ("*" for any user)."""
    for policy_path, text, targets in index.fact(_connect_resources):
        if database.path in targets or (not targets and "*" in text):  # a literal wildcard may cover every database
            yield policy_path, text.rpartition("/")[2] if "dbuser:" in text else "*"


def _connect_resources(index: TemplateIndex) -> list[tuple[str, str, tuple[str | None, ...]]]:
    """(policy path, the resource as text, the path of each resource it refers to, None where not the app's) of each
    resource of each statement of the app's policies that allows rds-db:connect: one pass, for every database."""
    found = []
    for policy in index.all_resources():
        if policy.type not in (POLICY, MANAGED_POLICY):
            continue
        for statement in statements(policy.properties.get("PolicyDocument")):
            if not _allows(statement, _CONNECT):
                continue
            for value in as_list(statement.get("Resource")):
                targets = (index.resolve(policy.stack, v) for v in intrinsics(value))
                found.append((policy.path, render(value), tuple(t.path if t else None for t in targets)))
    return found


@dataclass(frozen=True)
class IamDatabaseAuthentication(Check):
    """The database accepts IAM authentication tokens, and every grant to connect to it names one database user."""

    subject_types: ClassVar[tuple[str, ...]] = (DATABASE,)
    shortdesc: ClassVar[str] = (
        "IAM database authentication on, and every `rds-db:connect` grant names its database user"
    )
    source_url: ClassVar[str] = (
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html"
    )
    controls: ClassVar[tuple[str, ...]] = ("IA-2", "IA-5(7)")

    @property
    def predicate(self) -> str:
        return "accepts IAM authentication tokens, and every grant to connect with one names its database user"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        if not is_true(resource.properties.get("EnableIAMDatabaseAuthentication")):
            return False, "EnableIAMDatabaseAuthentication is not true"
        grants = list(_connect_grants(resource, index))
        wildcard = [path for path, user in grants if "*" in user or not user]
        if wildcard:
            return False, f"rds-db:connect for any database user: {', '.join(wildcard)}"
        users = sorted({user for _, user in grants})
        return True, f"IAM authentication on; rds-db:connect as {', '.join(users) or 'no user yet'}"


def _master_secrets_of(database: ResourceView, index: TemplateIndex) -> list[MasterSecret]:
    """The master secrets of `database`: the one RDS manages for it, or the secrets its password resolves from."""
    own = []
    for secret in master_secrets(index):
        if secret.rds_managed:
            if (secret.stack.stack_name, secret.logical_id) == (database.stack.stack_name, database.logical_id):
                own.append(secret)
            continue
        password = database.properties.get("MasterUserPassword")
        holders = [index.resolve(database.stack, v) for v in intrinsics(password)]
        for holder in (h for h in holders if h is not None):
            secret_id = holder.properties.get("SecretId") if holder.type.endswith("SecretTargetAttachment") else None
            linked = index.resolve(holder.stack, secret_id) if secret_id is not None else holder
            if linked is not None and (linked.stack.stack_name, linked.logical_id) == secret.key:
                own.append(secret)
    return own


@dataclass(frozen=True)
class MasterSecretReadOnlyByAdministrators(Check):
    """The database's master password is a Secrets Manager secret that only its administering functions may read."""

    subject_types: ClassVar[tuple[str, ...]] = (DATABASE,)
    shortdesc: ClassVar[str] = (
        "the master password is a Secrets Manager secret; no principal but the database-user and rotation "
        "functions may read it"
    )
    controls: ClassVar[tuple[str, ...]] = ("AC-6", "IA-5(7)")

    @property
    def predicate(self) -> str:
        return (
            "signs in its master user with a password kept in Secrets Manager, which no principal but the functions "
            "that administer the database may read"
        )

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        secrets = _master_secrets_of(resource, index)
        if not secrets:
            return False, "no master secret in Secrets Manager (the master password is not one this app manages)"
        outside = [
            f"{view.path} ({verdict.finding})"
            for view, verdict in index.fact(_grants_outside)
            if any(verdict.finding.endswith(f"/{s.logical_id}") for s in secrets)
        ]
        if outside:
            return False, f"also readable through: {', '.join(outside)}"
        readers = sorted({role for s in secrets for role in administering_roles(index, s)})
        names = ", ".join(f"{s.stack.stack_name}/{s.logical_id}" for s in secrets)
        return True, f"master secret {names}; read only by {len(readers)} administering function role(s)"


def _grants_outside(index: TemplateIndex) -> list[tuple[ResourceView, Verdict]]:
    """Every resource that lets a principal other than the administering functions read a master secret, with
    MasterSecretGrant's verdict: one pass over the app, which every database's check then reads."""
    context = Context(index=index, external_prerequisites=frozenset())
    verdicts = ((view, master_secret_grant(view, context)) for view in index.all_resources())
    return [(view, verdict) for view, verdict in verdicts if verdict.failed]
