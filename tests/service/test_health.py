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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service import app

SERVICE_DIR = Path(app.__file__).resolve().parent

# Distinctive values so a leak is unmistakable in any body or log line.
DB_PASSWORD = "db-pass-SECRET-4f1c9e"
DB_USERNAME = "svc-SECRET-user-8b2d7a"
SECRETS = (DB_PASSWORD, DB_USERNAME)

FULL_ENV: dict[str, str] = {
    "ENVIRONMENT": "prod",
    "DB_HOST": "db.internal.example",
    "DB_NAME": "monitoring",
    "DB_USERNAME": DB_USERNAME,
    "DB_PASSWORD": DB_PASSWORD,
    "REDIS_HOST": "cache.internal.example",
    "REDIS_USER": "prod-monitoring-service",
    "KINESIS_STREAM": "monitoring-events",
}

# Never let an HTTP(S)_PROXY in the environment route loopback test traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _body(status_and_body: tuple[int, object]) -> dict[str, object]:
    body = status_and_body[1]
    assert isinstance(body, dict)
    return body


# --- pure routing ----------------------------------------------------------


def test_health_with_all_settings_is_ready() -> None:
    status, body = app.route("GET", "/health", FULL_ENV)

    assert status == 200
    assert body == {
        "status": "ok",
        "environment": "prod",
        "ready": True,
        "settings": {"database": True, "cache": True, "stream": True},
    }


def test_health_with_no_settings_is_still_200_but_not_ready() -> None:
    status, body = app.route("GET", "/health", {})

    assert status == 200
    assert body == {
        "status": "ok",
        "environment": None,
        "ready": False,
        "settings": {"database": False, "cache": False, "stream": False},
    }


def test_health_with_only_stream_configured() -> None:
    status, body = app.route("GET", "/health", {"KINESIS_STREAM": "events"})

    assert status == 200
    assert body["ready"] is False
    assert body["settings"] == {"database": False, "cache": False, "stream": True}


@pytest.mark.parametrize("missing", ["DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD"])
def test_database_needs_every_variable(missing: str) -> None:
    env = {**FULL_ENV, missing: ""}

    settings = app.settings_from_env(env)

    assert settings == {"database": False, "cache": True, "stream": True}


def test_whitespace_only_values_count_as_missing() -> None:
    env = {**FULL_ENV, "REDIS_USER": "   ", "ENVIRONMENT": ""}

    payload = app.health_payload(env)

    assert payload["settings"]["cache"] is False
    assert payload["ready"] is False
    assert payload["environment"] is None


def test_ready_is_200_only_when_everything_is_configured() -> None:
    assert app.route("GET", "/ready", FULL_ENV)[0] == 200
    assert app.route("GET", "/ready", {})[0] == 503
    partial = {k: v for k, v in FULL_ENV.items() if k != "KINESIS_STREAM"}
    status, body = app.route("GET", "/ready", partial)
    assert status == 503
    assert body == app.health_payload(partial)


def test_query_string_is_ignored_for_routing() -> None:
    assert app.route("GET", "/health?verbose=1", FULL_ENV)[0] == 200


@pytest.mark.parametrize("path", ["/", "/healthz", "/health/", "/ready/x"])
def test_unknown_path_is_404(path: str) -> None:
    assert app.route("GET", path, FULL_ENV) == (404, {"error": "not found"})


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD"])
def test_other_methods_are_405(method: str) -> None:
    assert app.route(method, "/health", FULL_ENV) == (
        405,
        {"error": "method not allowed"},
    )


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_secret_values_never_appear_in_body(path: str) -> None:
    text = json.dumps(_body(app.route("GET", path, FULL_ENV)))

    for secret in SECRETS:
        assert secret not in text


def test_access_log_line_drops_query_string() -> None:
    line = app.access_log_line("GET", "/health?token=abc#frag", 200, 1.23456)

    record = json.loads(line)
    assert record["path"] == "/health"
    assert "abc" not in line
    assert record["method"] == "GET"
    assert record["status"] == 200
    assert record["duration_ms"] == pytest.approx(1.235)


@pytest.mark.parametrize(("raw", "expected"), [("", 8080), ("9000", 9000), (" 8081 ", 8081)])
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

    def log_records(self) -> list[dict[str, object]]:
        """Access-log records, once every request sent so far has logged."""
        # The server writes the access-log line after the response has been
        # sent, so the client can get its answer a moment before the line
        # exists: wait (briefly) for one line per request sent.
        deadline = time.monotonic() + 1.0
        while True:
            records = [json.loads(line) for line in self.log.getvalue().splitlines()]
            if len(records) >= self.requests_sent or time.monotonic() > deadline:
                return records
            time.sleep(0.001)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    log = io.StringIO()
    httpd = app.make_server(0, env=FULL_ENV, host="127.0.0.1", log_stream=log)
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
    body = json.loads(raw)
    assert body["ready"] is True
    assert body["settings"] == {"database": True, "cache": True, "stream": True}


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
    assert server.log_records()[-1]["status"] == 400


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
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("GET", "/health", 200),
        ("GET", "/missing", 404),
    ]
    for record in records:
        assert isinstance(record["duration_ms"], float)
        assert record["duration_ms"] >= 0


def test_sigterm_stops_serve_forever() -> None:
    httpd = app.make_server(0, env={}, host="127.0.0.1", log_stream=io.StringIO())
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


def test_dockerfile_runs_as_numeric_non_root_user() -> None:
    users = [args for keyword, args in _dockerfile_instructions() if keyword == "USER"]

    assert users, "Dockerfile must set USER"
    final = users[-1]
    uid, _, gid = final.partition(":")
    assert uid.isdigit(), final
    assert int(uid) != 0, final
    assert not gid or (gid.isdigit() and int(gid) != 0), final


def test_dockerfile_base_image_is_pinned_and_not_latest() -> None:
    # FROM [--platform=...] image [AS name]: the image is the first non-flag.
    images = [
        next(token for token in args.split() if not token.startswith("--"))
        for keyword, args in _dockerfile_instructions()
        if keyword == "FROM"
    ]

    assert images == ["public.ecr.aws/docker/library/python:3.12-slim"]
    for image in images:
        name, _, digest = image.partition("@")
        last = name.rsplit("/", 1)[-1]
        tag = last.partition(":")[2]
        # An untagged image without a digest silently means ":latest".
        assert tag or digest, image
        assert tag != "latest", image


def test_dockerfile_is_ready_for_read_only_root_filesystem() -> None:
    instructions = _dockerfile_instructions()
    env = " ".join(args for keyword, args in instructions if keyword == "ENV")
    copies = [args for keyword, args in instructions if keyword in {"COPY", "ADD"}]

    assert re.search(r"\bPYTHONDONTWRITEBYTECODE=1\b", env)
    assert re.search(r"\bPYTHONUNBUFFERED=1\b", env)
    assert copies == ["app.py /app/app.py"]
    assert ("CMD", '["python", "/app/app.py"]') in instructions


def test_dockerignore_sends_only_app_py() -> None:
    lines = [
        line.strip()
        for line in (SERVICE_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert lines == ["*", "!app.py"]
