"""ContainerSecrets: an ECS task's secrets are credentials, and name a JSON key their secret holds.

The failure report's task passed the database host as a secret and read a key its generated
secret did not contain; the task never started. A secret generated in this app is followed
through its reference (and its RDS attachment) to learn which keys it will hold.
"""

from __future__ import annotations

import json
import re
from typing import Any

from compliance.assembly import ResourceView, StackView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import intrinsics, render

# Names that are endpoints or identifiers, never credentials.
_NOT_A_CREDENTIAL = re.compile(r"(HOST|PORT|ENDPOINT|URL|URI|_NAME|REGION|STREAM|BUCKET|TABLE|QUEUE|TOPIC)$", re.I)
_RDS_ATTACHED_KEYS = frozenset(
    {"host", "port", "dbname", "engine", "username", "password", "dbInstanceIdentifier", "dbClusterIdentifier"}
)
_RDS_NON_SECRET_KEYS = frozenset({"host", "port", "dbname", "engine", "dbInstanceIdentifier", "dbClusterIdentifier"})


def container_secrets(resource: ResourceView, ctx: Context) -> Verdict:
    """ECS secrets carry credentials only, and name a JSON key their generated secret really contains."""
    if resource.type != "AWS::ECS::TaskDefinition":
        return Verdict.not_applicable()
    for container in resource.properties.get("ContainerDefinitions", []) or []:
        for secret in container.get("Secrets", []) or []:
            verdict = _secret(resource, secret, ctx)
            if verdict is not None:
                return verdict
    return Verdict.ok()


def _secret(resource: ResourceView, secret: dict[str, Any], ctx: Context) -> Verdict | None:
    """What is wrong with one container secret, or None."""
    name = secret.get("Name", "")
    value_from = secret.get("ValueFrom")
    if _NOT_A_CREDENTIAL.search(name):
        return Verdict.fail(
            name,
            f"{name} is not a credential: pass it as a plain environment variable "
            "(e.g. DB_HOST from the database's endpoint address) and keep secrets for credentials",
        )
    text = render(value_from)
    json_key = text.split("<ref>:", 1)[1].split(":", 1)[0] if "<ref>:" in text else ""
    references = intrinsics(value_from)
    target = ctx.index.target(resource.stack, references[0]) if references else None
    keys = _secret_keys(target, ctx)
    if json_key and json_key in _RDS_NON_SECRET_KEYS:
        return Verdict.fail(
            f"{name}:{json_key}",
            f"{name} reads '{json_key}' from a database secret; that is not a credential — pass it as "
            "environment from the database's attributes",
        )
    if json_key and keys is not None and json_key not in keys:
        return Verdict.fail(
            f"{name}:{json_key}",
            f"{name} reads the key '{json_key}', which the secret does not contain "
            f"(its keys: {', '.join(sorted(keys))})",
        )
    return None


def _secret_keys(target: tuple[StackView, str, dict[str, Any]] | None, ctx: Context) -> set[str] | None:
    """The JSON keys a secret generated in this app will hold, or None if unknown."""
    attached = False
    if target is not None and target[2].get("Type") == "AWS::SecretsManager::SecretTargetAttachment":
        attached = True
        refs = intrinsics(target[2].get("Properties", {}).get("SecretId"))
        target = ctx.index.target(target[0], refs[0]) if refs else None
    if target is None or target[2].get("Type") != "AWS::SecretsManager::Secret":
        return None
    generator = target[2].get("Properties", {}).get("GenerateSecretString")
    if not isinstance(generator, dict):
        return None
    keys: set[str] = set()
    template = generator.get("SecretStringTemplate")
    if isinstance(template, str):
        keys.update(json.loads(template))
    key = generator.get("GenerateStringKey")
    if key:
        keys.add(str(key))
    if attached:
        keys |= _RDS_ATTACHED_KEYS
    return keys


RULE = PreflightRule(
    "ContainerSecrets",
    frozenset({"AWS::ECS::TaskDefinition"}),
    container_secrets,
    "Tasks fail to start when a secret lacks the key they read; endpoints passed as secrets hide "
    "configuration and break when the secret rotates.",
    ("IA-5(7)", "SC-28"),
    shortdesc="an endpoint or name passed as an ECS secret, or a JSON key the generated secret does not contain",
)
