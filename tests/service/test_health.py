"""Tests for the ECS health/readiness service in service/app.py.

The routing tests call the pure functions; the server tests run the real
HTTP server on an ephemeral loopback port (127.0.0.1, port 0) only.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from service import app, contract
from service.readiness import CheckResult
from tests.requirements_files import locked

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


# Never let an HTTP(S)_PROXY in the environment route loopback test traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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
        url = f"http://127.0.0.1:{self.port}{path}"
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
def server() -> Iterator[RunningServer]:
    log = io.StringIO()
    httpd = app.make_server(0, env=FULL_ENV, host="127.0.0.1", log_stream=log, readiness=_ready)
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


def test_server_serves_health_over_http(server: RunningServer) -> None:
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
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(b"GET /health?k=v extra HTTP/1.1\r\n\r\n")
        response = b""
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
