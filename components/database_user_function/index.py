"""Creates the service's own PostgreSQL user and its grants, at deploy time, inside the stage's VPC.

A CloudFormation custom resource invokes this function directly (no provider framework). On Create
and Update it reads the master secret once from Secrets Manager, signs in over TLS that verifies the
server against the RDS CA bundle of the partition, and applies `grant_statements`: idempotent, so a
retried or repeated deployment changes nothing, and independent of the master password, so a
rotation never touches the service's user. The user has no password: it signs in with IAM tokens
(`rds_iam`). Delete leaves the user in place: it goes with the database, whose removal policy
decides (and a snapshot of it must restore with its users).

Deployed with pg8000 and the CA bundles vendored next to it (see the Makefile); it reports to
CloudFormation through the response URL, which the VPC reaches through its S3 gateway endpoint.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import urllib.request
from typing import Any

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TIMEOUT_SECONDS = 10


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


def _connect(properties: dict[str, Any]) -> Any:
    import pg8000.native
    from botocore.session import Session  # the Lambda runtime's; only the master secret is read with it

    secrets = Session().create_client("secretsmanager")
    secret = json.loads(secrets.get_secret_value(SecretId=properties["MasterSecretArn"])["SecretString"])
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
            connection = _connect(properties)
            try:
                provision(
                    connection, user=properties["User"], database=properties["Database"], schema=properties["Schema"]
                )
            finally:
                connection.close()
        _respond(event, "SUCCESS", physical_id, "")
    except Exception as error:
        # The type and SQLSTATE only: a driver's message may quote connection parameters.
        code = error.args[0].get("C", "") if error.args and isinstance(error.args[0], dict) else ""
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
