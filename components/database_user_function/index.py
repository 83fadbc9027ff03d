"""Creates the service's own PostgreSQL user and its grants, at deploy time, inside the stage's VPC.

A CloudFormation custom resource invokes this function directly (no provider framework). On Create
and Update it reads the master secret from Secrets Manager, signs in over TLS that verifies the
server against the RDS CA bundle of the partition, and applies `grant_statements`: idempotent, so a
retried or repeated deployment changes nothing, and independent of the master password, so a
rotation never touches the service's user. The user has no password: it signs in with IAM tokens
(`rds_iam`). Delete leaves the user in place: it goes with the database, whose removal policy
decides (and a snapshot of it must restore with its users).

The function runs while the secret's first rotation does, which sets the new password in the database
before it makes that password the secret's current value; a sign-in in between fails its
authentication. So a failed authentication reads the secret again and retries, for a bounded time
(`connect_with_retry`).

Deployed with pg8000 and the CA bundles vendored next to it (see the Makefile); it reports to
CloudFormation through the response URL, which the VPC reaches through its S3 gateway endpoint.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import time
import urllib.request
from collections.abc import Callable
from typing import Any

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TIMEOUT_SECONDS = 10
# PostgreSQL's invalid_password and invalid_authorization_specification: the password read is not (yet) the
# database's. Secrets Manager's single-user rotation sets the new password, then makes it AWSCURRENT.
AUTHENTICATION_FAILED = frozenset({"28P01", "28000"})
RETRY_INTERVAL_SECONDS = 5
MAX_RETRY_SECONDS = 90
# Kept for answering CloudFormation after the last attempt.
RESPONSE_MARGIN_SECONDS = 20


def grant_statements(*, user: str, database: str, schema: str) -> list[str]:
    """SQL that leaves `user` able to sign in with IAM and use `schema` of `database`, and nothing more.

    Every statement is safe to run again. Identifiers are validated, then quoted.
    """
    for name in (user, database, schema):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a plain lower-case PostgreSQL identifier")
    u, d, s = (f'"{name}"' for name in (user, database, schema))
    return [
        # Create once; afterwards only re-assert the attributes (no password: IAM tokens only).
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') "
        f"THEN CREATE ROLE {u} LOGIN; END IF; END $$",
        f"ALTER ROLE {u} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
        "CONNECTION LIMIT 50 PASSWORD NULL",
        f"GRANT rds_iam TO {u}",
        f"REVOKE ALL ON DATABASE {d} FROM PUBLIC",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {d} TO {u}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        # The application's tables live in their own schema, owned by the administrator.
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {s} TO {u}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {u}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {u}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {u}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {u}",
    ]


def provision(connection: Any, *, user: str, database: str, schema: str) -> None:
    """Apply `grant_statements` in one transaction on an open pg8000 native connection."""
    connection.run("BEGIN")
    try:
        for statement in grant_statements(user=user, database=database, schema=schema):
            connection.run(statement)
        connection.run("COMMIT")
    except Exception:
        connection.run("ROLLBACK")
        raise


def sqlstate(error: BaseException) -> str:
    """The SQLSTATE of a pg8000 database error ("" for any other error)."""
    return str(error.args[0].get("C", "")) if error.args and isinstance(error.args[0], dict) else ""


def connect_with_retry(
    read_secret: Callable[[], dict[str, Any]],
    connect: Callable[[dict[str, Any]], Any],
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Sign in with the secret as it is now; after a failed authentication, read it again and retry.

    Gives up, raising the last error, when another attempt would start after `deadline` (a `clock` reading),
    and at once on any other error.
    """
    while True:
        try:
            return connect(read_secret())
        except Exception as error:
            code = sqlstate(error)
            if code not in AUTHENTICATION_FAILED or clock() + RETRY_INTERVAL_SECONDS > deadline:
                raise
            print(json.dumps({"event": "sign-in refused, reading the secret again", "sqlstate": code}))
        sleep(RETRY_INTERVAL_SECONDS)


def _read_secret(properties: dict[str, Any]) -> dict[str, Any]:
    from botocore.session import Session  # the Lambda runtime's; only the master secret is read with it

    secrets = Session().create_client("secretsmanager")
    secret: dict[str, Any] = json.loads(
        secrets.get_secret_value(SecretId=properties["MasterSecretArn"])["SecretString"]
    )
    return secret


def _connect(properties: dict[str, Any], secret: dict[str, Any]) -> Any:
    import pg8000.native

    context = ssl.create_default_context(
        cafile=os.path.join(os.path.dirname(__file__), "certs", f"rds-ca-{properties['Partition']}.pem")
    )
    return pg8000.native.Connection(
        user=secret["username"],
        password=secret["password"],
        host=properties["Host"],
        port=int(properties["Port"]),
        database=properties["Database"],
        ssl_context=context,
        timeout=TIMEOUT_SECONDS,
        application_name="database-user-provisioning",
    )


def handler(event: dict[str, Any], context: Any) -> None:
    """The custom resource's entry point: apply on Create and Update, keep on Delete, always answer."""
    properties = event["ResourceProperties"]
    physical_id = f"{properties.get('Database', 'database')}/{properties.get('User', 'user')}"
    try:
        if event["RequestType"] in ("Create", "Update"):
            remaining = context.get_remaining_time_in_millis() / 1000 - RESPONSE_MARGIN_SECONDS
            connection = connect_with_retry(
                lambda: _read_secret(properties),
                lambda secret: _connect(properties, secret),
                deadline=time.monotonic() + min(MAX_RETRY_SECONDS, remaining),
            )
            try:
                provision(
                    connection, user=properties["User"], database=properties["Database"], schema=properties["Schema"]
                )
            finally:
                connection.close()
        _respond(event, "SUCCESS", physical_id, "")
    except Exception as error:
        # The type and SQLSTATE only: a driver's message may quote connection parameters.
        code = sqlstate(error)
        reason = f"{type(error).__name__}{f' (SQLSTATE {code})' if code else ''}; see the function's log"
        print(json.dumps({"event": "provisioning failed", "error": type(error).__name__, "sqlstate": code}))
        _respond(event, "FAILED", physical_id, reason)


def _respond(event: dict[str, Any], status: str, physical_id: str, reason: str) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason or status,
            "PhysicalResourceId": event.get("PhysicalResourceId", physical_id),
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": True,
            "Data": {},
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        response.read()
