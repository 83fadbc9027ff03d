"""`/ready` against real servers the suite starts itself (PostgreSQL and Valkey from pinned wheels).

A local server cannot check an IAM token, so the "token" the probes present is the local user's
password; token signing is tested in test_iam_auth.py. The wheels are built without TLS, so TLS
is terminated by `TlsRelay` (tests/servers.py) with a test CA's certificate: the client's
verification runs against a real handshake, and a direct connection to the plain server is the
"TLS refused" case. The database user is created by the stage's own provisioning code.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from botocore.credentials import Credentials
from botocore.session import Session

from components.database_user_function.index import provision
from service import app, readiness
from service.readiness import CacheProbe, DatabaseProbe, Probe, StreamProbe
from tests.servers import LOCALHOST, KinesisStub, PostgresServer, TlsRelay, ValkeyServer, free_port

TIMEOUT = 0.5
SERVICE_USER = "monitoring_service"
SERVICE_PASSWORD = "stand-in-for-an-iam-token"


@dataclass(frozen=True)
class Endpoints:
    """Where the probes can reach each variant of each server."""

    ca_file: str
    postgres_tls: int
    postgres_untrusted: int
    postgres_plain: int
    valkey_tls: int
    valkey_untrusted: int
    valkey_plain: int


@pytest.fixture(scope="module")
def service_user(postgres_server: PostgresServer) -> str:
    connection = postgres_server.connect()
    try:
        provision(connection, user=SERVICE_USER, database=postgres_server.database, schema="monitoring")
    finally:
        connection.close()
    # Locally the IAM token is a password (RDS checks tokens for members of rds_iam).
    postgres_server.run(f"ALTER ROLE {SERVICE_USER} PASSWORD '{SERVICE_PASSWORD}'")
    return SERVICE_USER


@pytest.fixture(scope="module")
def endpoints(
    postgres_server: PostgresServer,
    valkey_server: ValkeyServer,
    test_ca: trustme.CA,
    untrusted_ca: trustme.CA,
    tmp_path_factory: pytest.TempPathFactory,
    service_user: str,
) -> Iterator[Endpoints]:
    trusted = test_ca.issue_cert(LOCALHOST, "localhost")
    untrusted = untrusted_ca.issue_cert(LOCALHOST, "localhost")
    ca_file = tmp_path_factory.mktemp("ca") / "rds-ca-test.pem"
    test_ca.cert_pem.write_to_path(str(ca_file))
    relays = [
        TlsRelay(postgres_server.port, trusted, postgres=True),
        TlsRelay(postgres_server.port, untrusted, postgres=True),
        TlsRelay(valkey_server.port, trusted, postgres=False),
        TlsRelay(valkey_server.port, untrusted, postgres=False),
    ]
    for relay in relays:
        relay.__enter__()
    try:
        yield Endpoints(
            str(ca_file),
            relays[0].port,
            relays[1].port,
            postgres_server.port,
            relays[2].port,
            relays[3].port,
            valkey_server.port,
        )
    finally:
        for relay in relays:
            relay.__exit__()


def _database(endpoints: Endpoints, port: int, password: str = SERVICE_PASSWORD) -> DatabaseProbe:
    return DatabaseProbe(
        host=LOCALHOST,
        port=port,
        database="monitoring",
        user=SERVICE_USER,
        password=lambda: password,
        ssl_context=readiness.verifying_context(endpoints.ca_file),
        timeout=TIMEOUT,
    )


def _cache(
    endpoints: Endpoints,
    valkey_server: ValkeyServer,
    port: int,
    password: str | None = None,
    max_connections: int = readiness.CACHE_MAX_CONNECTIONS,
) -> CacheProbe:
    secret = valkey_server.password if password is None else password
    return CacheProbe(
        host=LOCALHOST,
        port=port,
        user=valkey_server.user,
        password=lambda: secret,
        ca_file=endpoints.ca_file,
        timeout=TIMEOUT,
        max_connections=max_connections,
    )


def _stream(kinesis: KinesisStub, url: str | None = None) -> StreamProbe:
    session = Session()
    session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    return StreamProbe(
        stream_name="events", region="us-west-2", timeout=TIMEOUT, endpoint_url=url or kinesis.url, session=session
    )


def _result(probe: Probe) -> tuple[bool, str | None, str | None]:
    (result,) = readiness.check_all([probe], timeout=TIMEOUT)
    return result.ready, result.reason, result.detail


# --- database ---------------------------------------------------------------------------------


def test_database_ready_as_the_service_user_over_verified_tls(endpoints: Endpoints) -> None:
    assert _result(_database(endpoints, endpoints.postgres_tls)) == (True, None, None)


def test_database_wrong_credentials(endpoints: Endpoints) -> None:
    rejected: list[bool] = []
    probe = _database(endpoints, endpoints.postgres_tls, password="expired-token")
    probe._on_rejected = lambda: rejected.append(True)
    ready, reason, detail = _result(probe)
    assert (ready, reason) == (False, "authentication")
    assert detail == "the database refused the sign-in (SQLSTATE 28P01)"
    assert rejected == [True]  # the token cache signs a new token next time


def test_database_refusing_tls(endpoints: Endpoints) -> None:
    # The plain server answers PostgreSQL's SSLRequest with "N".
    assert _result(_database(endpoints, endpoints.postgres_plain)) == (False, "tls", "the server refused TLS")


def test_database_certificate_that_cannot_be_verified(endpoints: Endpoints) -> None:
    ready, reason, detail = _result(_database(endpoints, endpoints.postgres_untrusted))
    assert (ready, reason) == (False, "tls")
    assert str(detail).startswith("the server's certificate could not be verified")


def test_database_down(endpoints: Endpoints) -> None:
    ready, reason, _ = _result(_database(endpoints, free_port()))
    assert (ready, reason) == (False, "refused")


def test_database_slow(endpoints: Endpoints, postgres_server: PostgresServer) -> None:
    with postgres_server.paused():
        assert _result(_database(endpoints, endpoints.postgres_tls)) == (False, "timeout", "no answer within 0.5 s")


def test_the_service_user_can_do_only_what_it_needs(postgres_server: PostgresServer, service_user: str) -> None:
    (row,) = postgres_server.run(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
        f"pg_has_role('{service_user}', 'rds_iam', 'MEMBER') FROM pg_roles WHERE rolname = '{service_user}'"
    )
    assert row == [False, False, False, False, False, True]
    (can,) = postgres_server.run(
        f"SELECT has_schema_privilege('{service_user}', 'monitoring', 'USAGE'), "
        f"has_schema_privilege('{service_user}', 'monitoring', 'CREATE'), "
        f"has_schema_privilege('{service_user}', 'public', 'CREATE'), "
        f"has_database_privilege('{service_user}', 'monitoring', 'CREATE')"
    )
    assert can == [True, False, False, False]


def test_provisioning_is_idempotent_and_keeps_what_the_user_was_granted(
    postgres_server: PostgresServer, service_user: str, endpoints: Endpoints
) -> None:
    postgres_server.run("CREATE TABLE IF NOT EXISTS monitoring.events (id bigserial PRIMARY KEY, body text)")
    for _ in range(2):
        connection = postgres_server.connect()
        try:
            provision(connection, user=service_user, database=postgres_server.database, schema="monitoring")
        finally:
            connection.close()
    (row,) = postgres_server.run(f"SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = '{service_user}'")
    assert row == [True]  # provisioning leaves no password: only IAM tokens sign in
    postgres_server.run(f"ALTER ROLE {service_user} PASSWORD '{SERVICE_PASSWORD}'")
    (grants,) = postgres_server.run(
        f"SELECT has_table_privilege('{service_user}', 'monitoring.events', 'INSERT'), "
        f"has_table_privilege('{service_user}', 'monitoring.events', 'TRUNCATE')"
    )
    assert grants == [True, False]
    assert _result(_database(endpoints, endpoints.postgres_tls))[0] is True


# --- cache ------------------------------------------------------------------------------------


def test_cache_ready_as_the_service_user_over_verified_tls(endpoints: Endpoints, valkey_server: ValkeyServer) -> None:
    assert _result(_cache(endpoints, valkey_server, endpoints.valkey_tls)) == (True, None, None)


def test_cache_wrong_credentials(endpoints: Endpoints, valkey_server: ValkeyServer) -> None:
    probe = _cache(endpoints, valkey_server, endpoints.valkey_tls, password="expired-token")
    assert _result(probe) == (False, "authentication", "the cache refused the sign-in")


def test_cache_refusing_tls(endpoints: Endpoints, valkey_server: ValkeyServer) -> None:
    ready, reason, _ = _result(_cache(endpoints, valkey_server, endpoints.valkey_plain))
    assert (ready, reason) == (False, "tls")


def test_cache_certificate_that_cannot_be_verified(endpoints: Endpoints, valkey_server: ValkeyServer) -> None:
    ready, reason, detail = _result(_cache(endpoints, valkey_server, endpoints.valkey_untrusted))
    assert (ready, reason) == (False, "tls")
    assert str(detail).startswith("the server's certificate could not be verified")


def test_cache_down(endpoints: Endpoints, valkey_server: ValkeyServer) -> None:
    assert _result(_cache(endpoints, valkey_server, free_port()))[:2] == (False, "refused")


def test_cache_slow(endpoints: Endpoints, valkey_server: ValkeyServer) -> None:
    probe = _cache(endpoints, valkey_server, endpoints.valkey_tls)
    with valkey_server.paused():
        assert _result(probe)[:2] == (False, "timeout")
    assert _result(probe) == (True, None, None)  # and it recovers once the server answers again


def test_cache_connections_are_reopened_with_a_fresh_token_before_12_hours(
    endpoints: Endpoints, valkey_server: ValkeyServer
) -> None:
    clock = [0.0]
    tokens: list[str] = []

    def token() -> str:
        tokens.append(valkey_server.password)
        return valkey_server.password

    probe = CacheProbe(
        host=LOCALHOST,
        port=endpoints.valkey_tls,
        user=valkey_server.user,
        password=token,
        ca_file=endpoints.ca_file,
        timeout=TIMEOUT,
        clock=lambda: clock[0],
    )
    probe.check()
    probe.check()
    assert (len(tokens), probe.recycled) == (1, 0)  # one connection, signed in once
    clock[0] = readiness.CACHE_CONNECTION_MAX_AGE_SECONDS
    probe.check()
    assert (len(tokens), probe.recycled) == (2, 1)  # re-opened, signed in again


def _concurrent_cache_checks(probe: CacheProbe, count: int) -> list[readiness.CheckResult]:
    """`count` checks of `probe` at once, each through its own `check_all` (so none shares another's check)."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: readiness.check_all([probe], timeout=TIMEOUT)[0], range(count)))


def _closed(probe: CacheProbe, threads_before: int) -> bool:
    """Close the probe's connections; True once the relay's threads for them have ended."""
    probe.client.connection_pool.disconnect()
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    return threading.active_count() <= threads_before


class _HandshakeTimesOut:
    """A probe whose second check times out inside a TLS handshake (the frame name `explain` looks for)."""

    name = "cache"

    def __init__(self) -> None:
        self.checks = 0

    def check(self) -> None:
        self.checks += 1
        if self.checks == 1:
            return

        def do_handshake() -> None:
            raise TimeoutError("timed out")

        do_handshake()


def test_a_handshake_timeout_reads_as_no_tls_until_the_server_has_shown_it_speaks_tls() -> None:
    first = _HandshakeTimesOut()
    first.checks = 1  # never passed a check: the server may not speak TLS at all
    assert readiness.check_all([first], timeout=TIMEOUT)[0].reason == "tls"
    answered = _HandshakeTimesOut()
    assert readiness.check_all([answered], timeout=TIMEOUT)[0].ready
    slow = readiness.check_all([answered], timeout=TIMEOUT)[0]
    assert (slow.ready, slow.reason) == (False, "timeout")
    assert "from a server that completed one before" in str(slow.detail)


@pytest.mark.parametrize("max_connections", [4, readiness.CACHE_MAX_CONNECTIONS])
def test_fifty_concurrent_cache_checks_wait_for_a_connection_and_never_fail_as_error(
    endpoints: Endpoints, valkey_server: ValkeyServer, max_connections: int
) -> None:
    probe = _cache(endpoints, valkey_server, endpoints.valkey_tls, max_connections=max_connections)
    threads_before = threading.active_count()
    # One check first, as the service's first readiness check comes before any load: the cache has shown it speaks
    # TLS, so a handshake that the load slows past the timeout reads as a timeout, not as a server without TLS.
    assert readiness.check_all([probe], timeout=TIMEOUT)[0].ready
    results = _concurrent_cache_checks(probe, 50)
    # A pool of 4 used to answer "Too many connections" (reason "error"); a check now waits for a connection.
    assert {r.reason for r in results} <= {None, "timeout"}
    assert any(r.ready for r in results)
    assert _closed(probe, threads_before)


def test_a_cache_check_that_finds_no_connection_free_is_a_timeout(
    endpoints: Endpoints, valkey_server: ValkeyServer
) -> None:
    probe = _cache(endpoints, valkey_server, endpoints.valkey_tls, max_connections=2)
    threads_before = threading.active_count()
    with valkey_server.paused():  # the two connections wait for an answer; the other checks wait for them
        results = _concurrent_cache_checks(probe, 6)
    assert {r.reason for r in results} == {"timeout"}
    assert f"no connection free within {TIMEOUT:g} s: all 2 connections to the cache stayed in use" in {
        r.detail for r in results
    }
    assert _closed(probe, threads_before)


# --- stream -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("active", (True, None, None)),
        ("denied", (False, "authentication", "AWS refused the task role (AccessDeniedException)")),
        ("missing", (False, "not ready", "the stream does not exist")),
        ("creating", (False, "not ready", "the stream is CREATING")),
    ],
)
def test_stream(kinesis_stub: KinesisStub, mode: str, expected: tuple[bool, str | None, str | None]) -> None:
    kinesis_stub.mode, kinesis_stub.operations = mode, []
    try:
        assert _result(_stream(kinesis_stub)) == expected
    finally:
        kinesis_stub.mode = "active"
    # Readiness reads; it never writes a record into the stream.
    assert kinesis_stub.operations == ["DescribeStreamSummary"]


def test_stream_slow_and_down(kinesis_stub: KinesisStub) -> None:
    kinesis_stub.delay = TIMEOUT * 3
    try:
        assert _result(_stream(kinesis_stub))[:2] == (False, "timeout")
    finally:
        kinesis_stub.delay = 0
    assert _result(_stream(kinesis_stub, f"http://{LOCALHOST}:{free_port()}"))[:2] == (False, "unreachable")


# --- /ready over HTTP -------------------------------------------------------------------------


@pytest.fixture
def serve(
    endpoints: Endpoints, valkey_server: ValkeyServer, kinesis_stub: KinesisStub
) -> Iterator[Callable[..., tuple[int, dict[str, object], float]]]:
    servers: list[app.ServiceServer] = []

    def run(ports: dict[str, int], budget: float = TIMEOUT) -> tuple[int, dict[str, object], float]:
        probes: list[Probe] = [
            _database(endpoints, ports.get("database", endpoints.postgres_tls)),
            _cache(endpoints, valkey_server, ports.get("cache", endpoints.valkey_tls)),
            _stream(kinesis_stub),
        ]
        httpd = app.make_server(
            0,
            env={"ENVIRONMENT": "dev"},
            host=LOCALHOST,
            log_stream=io.StringIO(),
            readiness=lambda: readiness.check_all(probes, timeout=budget),
        )
        servers.append(httpd)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        started = time.monotonic()
        try:
            with opener.open(f"http://{LOCALHOST}:{httpd.server_address[1]}/ready", timeout=10) as response:
                return response.status, json.loads(response.read()), time.monotonic() - started
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read()), time.monotonic() - started

    yield run
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_ready_when_every_dependency_works(
    serve: Callable[..., tuple[int, dict[str, object], float]],
) -> None:
    # A whole check (TLS through the relay, sign-in, query) may take longer than its half-second budget on a
    # loaded test machine; the probes' own per-read timeouts stay at TIMEOUT.
    status, body, _ = serve({}, budget=10 * TIMEOUT)
    assert status == 200
    assert body["status"] == "ready"
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert {name: check["ready"] for name, check in checks.items()} == {"database": True, "cache": True, "stream": True}


@pytest.mark.parametrize("dependency", ["database", "cache"])
def test_not_ready_names_the_dependency_that_is_down(
    serve: Callable[[dict[str, int]], tuple[int, dict[str, object], float]], dependency: str
) -> None:
    status, body, _ = serve({dependency: free_port()})
    assert status == 503
    assert body["failed"] == [dependency]
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks[dependency]["reason"] == "refused"


def test_checks_run_in_parallel_and_never_show_a_secret(
    serve: Callable[[dict[str, int]], tuple[int, dict[str, object], float]],
    postgres_server: PostgresServer,
    valkey_server: ValkeyServer,
) -> None:
    with postgres_server.paused(), valkey_server.paused():
        status, body, elapsed = serve({})
    assert status == 503
    assert body["failed"] == ["database", "cache"]
    assert elapsed < 2 * TIMEOUT + 0.4  # both time out together, not one after the other
    text = json.dumps(body)
    for secret in (SERVICE_PASSWORD, valkey_server.password, postgres_server.admin_password, "AKIDEXAMPLE"):
        assert secret not in text


# --- configuration from the task definition ---------------------------------------------------


def test_a_task_without_settings_is_not_ready_and_says_which_are_missing() -> None:
    results = readiness.check_all(
        readiness.probes_from_env({"AWS_REGION": "us-west-2", "KINESIS_STREAM": "events", "DB_HOST": "db"}),
        timeout=TIMEOUT,
    )
    by_name = {r.name: r for r in results}
    assert by_name["database"].reason == "configuration"
    assert by_name["database"].detail == "DB_PORT, DB_NAME, DB_USER, DB_CA_BUNDLE not set"
    assert by_name["cache"].detail == "REDIS_HOST, REDIS_PORT, REDIS_USER, REDIS_REPLICATION_GROUP not set"


def test_a_missing_ca_bundle_fails_the_database_check_as_tls(tmp_path: Path) -> None:
    env = {
        "AWS_REGION": "us-gov-west-1",
        "DB_HOST": LOCALHOST,
        "DB_PORT": str(free_port()),
        "DB_NAME": "monitoring",
        "DB_USER": SERVICE_USER,
        "DB_CA_BUNDLE": str(tmp_path / "rds-ca-aws-us-gov.pem"),
    }
    probes = readiness.probes_from_env(env, credentials=Credentials("AKIDEXAMPLE", "secret"))
    database = next(p for p in probes if p.name == "database")
    assert _result(database) == (False, "tls", "the CA bundle to verify the server with is missing from the image")
