"""Tests for the ECS health/readiness service in service/app.py.

The routing tests call the pure functions; the server tests run the real server, over TLS with a
key it made as the task does (`service.tls`), on an ephemeral loopback port (127.0.0.1, port 0)
only, and one test runs the service's own entry point as a process. Clients do not verify the
server's certificate, as the load balancer does not.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from service import app, contract, tls
from service.readiness import CheckResult
from tests.requirements_files import locked
from tests.servers import LOCALHOST, free_port

SERVICE_DIR = Path(app.__file__).resolve().parent

# Distinctive values in the environment, so a leak into any body or log line is unmistakable.
SECRETS = ("session-SECRET-4f1c9e", "/v2/credentials/SECRET-8b2d7a")
FULL_ENV: dict[str, str] = {
    "ENVIRONMENT": "prod",
    "AWS_SESSION_TOKEN": SECRETS[0],
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": SECRETS[1],
}


def _ready() -> list[CheckResult]:
    return [CheckResult("database", True, 3.0), CheckResult("cache", True, 2.0), CheckResult("stream", True, 9.0)]


def _cache_down() -> list[CheckResult]:
    return [
        CheckResult("database", True, 3.0),
        CheckResult("cache", False, 500.0, "timeout", "no answer within 0.5 s"),
        CheckResult("stream", True, 9.0),
    ]


def _route(method: str, target: str, env: dict[str, str] | None = None) -> tuple[int, Mapping[str, object]]:
    return app.route(method, target, FULL_ENV if env is None else env, _ready)


def _body(status_and_body: tuple[int, object]) -> dict[str, object]:
    body = status_and_body[1]
    assert isinstance(body, dict)
    return body


def _unverified(maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED) -> ssl.SSLContext:
    """A client that, like the load balancer, checks neither the task's certificate nor its name."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = maximum
    return context


# Never let an HTTP(S)_PROXY in the environment route loopback test traffic.
_OPENER = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=_unverified())
)
_PLAIN_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- pure routing ----------------------------------------------------------


def test_health_is_liveness_only() -> None:
    calls: list[int] = []

    def counted() -> list[CheckResult]:
        calls.append(1)
        return _cache_down()

    assert app.route("GET", "/health", FULL_ENV, counted) == (200, {"status": "ok", "environment": "prod"})
    assert app.route("GET", "/health", {}, counted) == (200, {"status": "ok", "environment": None})
    assert calls == []  # a dependency outage never makes the load balancer replace tasks


def test_ready_is_200_when_every_check_passes() -> None:
    status, body = _route("GET", "/ready")
    assert status == 200
    assert body == {
        "status": "ready",
        "environment": "prod",
        "checks": {
            "database": {"ready": True, "duration_ms": 3.0},
            "cache": {"ready": True, "duration_ms": 2.0},
            "stream": {"ready": True, "duration_ms": 9.0},
        },
    }


def test_ready_is_503_naming_the_failed_dependency_and_why() -> None:
    status, body = app.route("GET", "/ready", FULL_ENV, _cache_down)
    assert status == 503
    assert body["status"] == "not ready"
    assert body["failed"] == ["cache"]
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["cache"] == {
        "ready": False,
        "duration_ms": 500.0,
        "reason": "timeout",
        "detail": "no answer within 0.5 s",
    }


def test_query_string_is_ignored_for_routing() -> None:
    assert _route("GET", "/health?verbose=1")[0] == 200


@pytest.mark.parametrize("path", ["/", "/healthz", "/health/", "/ready/x"])
def test_unknown_path_is_404(path: str) -> None:
    assert _route("GET", path) == (404, {"error": "not found"})


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD"])
def test_other_methods_are_405(method: str) -> None:
    assert _route(method, "/health") == (
        405,
        {"error": "method not allowed"},
    )


def test_access_log_line_drops_query_string() -> None:
    line = app.access_log_line("GET", "/health?token=abc#frag", 200, 1.23456)

    record = json.loads(line)
    assert record["path"] == "/health"
    assert "abc" not in line
    assert record["method"] == "GET"
    assert record["status"] == 200
    assert record["duration_ms"] == pytest.approx(1.235)


@pytest.mark.parametrize(("raw", "expected"), [("", contract.PORT), ("9000", 9000), (" 8081 ", 8081)])
def test_port_from_env(raw: str, expected: int) -> None:
    assert app.port_from_env({"PORT": raw}) == expected


@pytest.mark.parametrize("raw", ["http", "0", "70000", "-1"])
def test_port_from_env_rejects_invalid(raw: str) -> None:
    with pytest.raises(ValueError, match="PORT"):
        app.port_from_env({"PORT": raw})


# --- real server on an ephemeral loopback port ------------------------------


@dataclass
class RunningServer:
    port: int
    log: io.StringIO
    requests_sent: int = 0

    def request(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        self.requests_sent += 1
        url = f"https://127.0.0.1:{self.port}{path}"
        req = urllib.request.Request(url, method=method)
        try:
            with _OPENER.open(req, timeout=2) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, dict(err.headers), err.read()

    def log_records(self, until: Callable[[list[dict[str, object]]], bool] | None = None) -> list[dict[str, object]]:
        """Access-log records, once every request sent so far has logged (or `until` holds)."""
        # The server writes the access-log line after the response has been
        # sent, so the client can get its answer a moment before the line
        # exists: wait for one line per request sent (on a loaded machine a
        # request thread may run well after the client has its answer).
        done = until or (lambda records: len(records) >= self.requests_sent)
        deadline = time.monotonic() + 10.0
        while True:
            records = [json.loads(line) for line in self.log.getvalue().splitlines()]
            if done(records) or time.monotonic() > deadline:
                return records
            time.sleep(0.001)


@pytest.fixture(scope="module")
def tls_context() -> ssl.SSLContext:
    return tls.server_context()


@pytest.fixture(scope="module")
def server(tls_context: ssl.SSLContext) -> Iterator[RunningServer]:
    log = io.StringIO()
    httpd = app.make_server(
        0, env=FULL_ENV, host="127.0.0.1", log_stream=log, readiness=_ready, tls_context=tls_context
    )
    assert httpd.serves_tls
    host, port = httpd.server_address[:2]
    assert host == "127.0.0.1"
    assert port != 0
    # Short poll interval so shutdown() returns quickly.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield RunningServer(port=port, log=log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=2)
    assert not thread.is_alive()


def test_server_serves_health_over_https(server: RunningServer) -> None:
    status, headers, raw = server.request("/health")

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    # No Python version disclosure in the Server header.
    assert headers["Server"] == "service"
    assert json.loads(raw) == {"status": "ok", "environment": "prod"}


def test_server_ready_404_and_405(server: RunningServer) -> None:
    assert server.request("/ready")[0] == 200

    status, _, raw = server.request("/nope")
    assert status == 404
    assert json.loads(raw) == {"error": "not found"}

    status, headers, raw = server.request("/health", method="POST")
    assert status == 405
    assert headers["Allow"] == "GET"
    assert json.loads(raw) == {"error": "method not allowed"}

    # A method the base class does not know would be 501 there; here it is 405.
    assert server.request("/health", method="FOO")[0] == 405


def test_server_answers_protocol_errors_in_json(server: RunningServer) -> None:
    # The base class would answer with an HTML page echoing the bad input.
    server.requests_sent += 1  # sent by hand below, so count it for the log
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw_socket,
        _unverified().wrap_socket(raw_socket) as sock,
    ):
        sock.sendall(b"GET /health?k=v extra HTTP/1.1\r\n\r\n")
        response = b""
        with contextlib.suppress(ssl.SSLEOFError):  # the server ends the connection without a close_notify
            while chunk := sock.recv(4096):
                response += chunk

    head, _, raw = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 400 ")
    assert b"Content-Type: application/json" in head
    assert json.loads(raw) == {"error": "bad request"}
    # Other connections' lines (an idle one's 408) may come between: wait for this request's own.
    records = server.log_records(until=lambda records: any(r["status"] == 400 for r in records))
    assert [r["status"] for r in records].count(400) == 1


def test_server_never_leaks_secrets_or_query_strings(server: RunningServer) -> None:
    paths = ("/health", "/ready", "/health?q=zz9")
    responses = [server.request(p)[2] for p in paths]

    for raw in responses:
        for secret in SECRETS:
            assert secret.encode() not in raw
    # Every request has been logged, so absence below is meaningful.
    assert len(server.log_records()) == server.requests_sent
    log_text = server.log.getvalue()
    for secret in SECRETS:
        assert secret not in log_text
    assert "zz9" not in log_text


def test_server_writes_one_json_access_log_line_per_request(
    server: RunningServer,
) -> None:
    before = len(server.log_records())

    server.request("/health?x=1")
    server.request("/missing")

    records = server.log_records()[before:]
    # Two request threads each write their line after their answer: the lines may come in either order.
    assert sorted((r["method"], r["path"], r["status"]) for r in records) == [
        ("GET", "/health", 200),
        ("GET", "/missing", 404),
    ]
    for record in records:
        assert isinstance(record["duration_ms"], float)
        assert record["duration_ms"] >= 0


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_health_and_ready_answer_over_tls_1_2_and_1_3(server: RunningServer, version: ssl.TLSVersion) -> None:
    """The load balancer's HTTPS health checks fail on a target that speaks only TLS 1.3: both must work."""
    for path, body in (("/health", {"status": "ok", "environment": "prod"}), ("/ready", None)):
        server.requests_sent += 1
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw_socket,
            _unverified(maximum=version).wrap_socket(raw_socket) as sock,
        ):
            assert sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 10.0.0.1:443\r\n\r\n".encode())
            response = b""
            with contextlib.suppress(ssl.SSLEOFError):
                while chunk := sock.recv(4096):
                    response += chunk
        head, _, raw = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 "), (path, head)
        payload = json.loads(raw)
        assert payload == body if body is not None else payload["status"] == "ready"


def test_plain_http_to_the_tls_port_gets_no_answer_and_is_logged(server: RunningServer) -> None:
    before = len(server.log.getvalue().splitlines())
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _PLAIN_OPENER.open(f"http://127.0.0.1:{server.port}/health", timeout=2).close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in server.log.getvalue().splitlines()[before:]]
        if any(record["event"] == "tls_handshake_failed" for record in lines):
            break
        time.sleep(0.01)
    failed = [record for record in lines if record["event"] == "tls_handshake_failed"]
    assert [record["reason"] for record in failed] == ["HTTP_REQUEST"]
    assert all(record["event"] != "access" for record in lines)


def test_the_key_is_made_at_start_for_a_self_signed_server_certificate() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=tls.RSA_KEY_BITS)
    now = datetime.now(UTC)
    certificate = tls.self_signed_certificate(key, now=now)
    assert certificate.issuer == certificate.subject
    certificate.verify_directly_issued_by(certificate)  # signed by its own key: raises otherwise
    assert certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert certificate.public_key() == key.public_key()
    # Each process makes its own key: two contexts never share one.
    first, second = (_served_certificate(tls.server_context()) for _ in range(2))
    assert isinstance(first.public_key(), rsa.RSAPublicKey)
    assert first.public_key() != second.public_key()


def _served_certificate(context: ssl.SSLContext) -> x509.Certificate:
    httpd = app.make_server(
        0, env={}, host="127.0.0.1", log_stream=io.StringIO(), readiness=_ready, tls_context=context
    )
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection((LOCALHOST, int(httpd.server_address[1])), timeout=2) as raw_socket,
            _unverified().wrap_socket(raw_socket) as sock,
        ):
            der = sock.getpeercert(binary_form=True)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=2)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_the_service_process_serves_health_and_ready_over_https(tmp_path: Path) -> None:
    """`python -m service.app` as the image runs it: HTTPS on PORT, /ready naming what is not configured."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PORT": str(port), "ENVIRONMENT": "dev"}
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.app"], cwd=SERVICE_DIR.parent, env=env, stdout=out, stderr=out
        )
    try:
        health = _eventually_get(f"https://{LOCALHOST}:{port}/health")
        ready = _eventually_get(f"https://{LOCALHOST}:{port}/ready")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert health == (200, {"status": "ok", "environment": "dev"})
    status, body = ready
    assert status == 503
    assert body["failed"] == ["database", "cache", "stream"]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["event"] == "startup"
    assert records[0]["tls"] is True
    assert records[-1]["event"] == "shutdown"


def _eventually_get(url: str) -> tuple[int, dict[str, object]]:
    deadline = time.monotonic() + 20
    while True:
        try:
            with _OPENER.open(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_sigterm_stops_serve_forever() -> None:
    httpd = app.make_server(0, env={}, host="127.0.0.1", log_stream=io.StringIO(), readiness=_ready)
    previous = app.install_signal_handlers(httpd)
    # Safety net: if the handler failed to stop the loop, stop it anyway so
    # the test fails on the timing assertion instead of hanging.
    watchdog = threading.Timer(2.0, httpd.shutdown)
    try:
        assert signal.getsignal(signal.SIGTERM) is not previous[signal.SIGTERM]
        watchdog.start()
        os.kill(os.getpid(), signal.SIGTERM)
        started = time.monotonic()
        httpd.serve_forever(poll_interval=0.02)
        elapsed = time.monotonic() - started
    finally:
        watchdog.cancel()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        httpd.server_close()
    assert elapsed < 1.0


# --- container image definition ---------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """Parse the Dockerfile into (INSTRUCTION, arguments), joining continuations."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (SERVICE_DIR / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_dockerfile_takes_port_and_user_from_the_contract() -> None:
    final = _final_stage()
    declared = {args for keyword, args in final if keyword == "ARG"}

    # Declared without defaults: the values come only from service/contract.py.
    assert declared == set(contract.image_build_args())
    assert [args for keyword, args in final if keyword == "USER"] == ["${SERVICE_UID}:${SERVICE_GID}"]
    assert [args for keyword, args in final if keyword == "EXPOSE"] == ["${SERVICE_PORT}"]
    (check,) = [args for keyword, args in final if keyword == "RUN"]
    assert all(f'test -n "${name}"' in check for name in declared)


def test_contract_user_is_numeric_and_not_root() -> None:
    uid, _, gid = contract.container_user().partition(":")

    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0
    assert contract.image_build_args()["SERVICE_UID"] == uid
    assert contract.image_build_args()["SERVICE_GID"] == gid
    assert contract.image_build_args()["SERVICE_PORT"] == str(contract.PORT)


def test_dockerfile_base_image_is_pinned_and_not_latest() -> None:
    # FROM [--platform=...] image [AS name]: the image is the first non-flag.
    images = [
        next(token for token in args.split() if not token.startswith("--"))
        for keyword, args in _dockerfile_instructions()
        if keyword == "FROM"
    ]

    assert set(images) == {"public.ecr.aws/docker/library/python:3.12-slim"}
    for image in images:
        name, _, digest = image.partition("@")
        last = name.rsplit("/", 1)[-1]
        tag = last.partition(":")[2]
        # An untagged image without a digest silently means ":latest".
        assert tag or digest, image
        assert tag != "latest", image


def test_dockerfile_installs_only_hash_pinned_wheels() -> None:
    (install,) = [args for keyword, args in _dockerfile_instructions() if keyword == "RUN" and "pip install" in args]
    for flag in ("--require-hashes", "--only-binary=:all:", "--no-deps", "-r /tmp/requirements.txt"):
        assert flag in install
    requirements = [
        line for line in (SERVICE_DIR / "requirements.txt").read_text().splitlines() if line and line[0] != "#"
    ]
    assert requirements
    assert all(re.fullmatch(r"[a-z0-9.-]+==[^ ]+ --hash=sha256:[0-9a-f]{64}", line) for line in requirements)


def test_the_image_runs_the_clients_the_tests_run() -> None:
    """Each package of the image is pinned at the version requirements.lock gives the test suite."""
    lock = locked(SERVICE_DIR.parent / "requirements.lock")
    for name, (entry,) in locked(SERVICE_DIR / "requirements.txt").items():
        assert [e.version for e in lock.get(name, [])] == [entry.version], name


def test_dockerfile_is_ready_for_read_only_root_filesystem() -> None:
    instructions = _dockerfile_instructions()
    env = " ".join(args for keyword, args in instructions if keyword == "ENV")
    copies = [args for keyword, args in instructions if keyword in {"COPY", "ADD"}]

    assert re.search(r"\bPYTHONDONTWRITEBYTECODE=1\b", env)
    assert re.search(r"\bPYTHONUNBUFFERED=1\b", env)
    modules = sorted(p.name for p in SERVICE_DIR.glob("*.py"))
    assert f"{' '.join(modules)} /app/service/" in copies
    assert "certs/ /app/certs/" in copies
    assert ("CMD", '["python", "-m", "service.app"]') in instructions


def test_dockerignore_sends_only_the_service_its_requirements_and_ca_bundles() -> None:
    lines = [
        line.strip()
        for line in (SERVICE_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert lines == ["*", "!*.py", "!requirements.txt", "!certs/*.pem"]
