"""Health/readiness HTTP service that the platform runs on ECS Fargate.

This module owns the container's HTTP behaviour:

* `/health` is liveness: 200 while the process serves, whatever its dependencies do, so the load
  balancer never replaces tasks in a loop because a dependency is down;
* `/ready` checks the database, the cache and the stream for real (`service.readiness`) and answers
  200, or 503 naming each dependency that failed and why, in words;
* the HTTPS server itself, its JSON access log on stdout and its clean shutdown on SIGTERM
  (`make_server`, `install_signal_handlers`, `main`).

`main` serves TLS only, with a key the process makes when it starts (`service.tls`): the load
balancer's target group speaks TLS to the tasks and checks their health over HTTPS. Tests may run
the same server without TLS (`make_server(..., tls=None)`) where TLS is not what they test.

The server has a fixed number of request threads (`REQUEST_WORKERS`). A connection is accepted only
when one of them is free; until then it waits in the kernel's listen backlog (`LISTEN_BACKLOG`). A
client has `REQUEST_HEAD_SECONDS` in all to complete the TLS handshake and send its request line and
headers, however slowly the bytes come, and `/ready` answers within the readiness budget, so no client
holds a thread for long. The handshake runs on the request thread, never in the accept loop.

The routing and payload logic are pure functions of the request and a readiness callable, so tests
exercise them without sockets; `make_server` lets tests run the real server on an ephemeral
loopback port against real local dependencies.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from service import contract, tls
from service.readiness import DEFAULT_TIMEOUT_SECONDS, CheckResult, ReadinessChecks, probes_from_env

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

DEFAULT_PORT = contract.PORT
# 0.0.0.0 because in awsvpc networking the load balancer reaches the task on
# its ENI address, not on loopback.
DEFAULT_HOST = "0.0.0.0"

ALLOWED_METHODS: tuple[str, ...] = ("GET",)

# Request threads. Each holds a connection for at most REQUEST_HEAD_SECONDS reading the request, the
# readiness budget answering it and WRITE_TIMEOUT_SECONDS per write of a response of a few hundred bytes.
REQUEST_WORKERS = 16
# Connections that wait in the kernel for a free request thread; beyond them the kernel drops new SYNs and TCP retries.
LISTEN_BACKLOG = 128
# The request line and headers must arrive within this time in total, not per read.
REQUEST_HEAD_SECONDS = 5.0
WRITE_TIMEOUT_SECONDS = 5.0
# While every request thread is busy, the accept loop looks up this often to notice a shutdown.
_WORKER_WAIT_SECONDS = 0.1

Readiness = Callable[[], Sequence[CheckResult]]


def health_payload(env: Mapping[str, str]) -> dict[str, object]:
    """The `/health` body: the process serves. `environment` is a stage name, not a secret."""
    return {"status": "ok", "environment": env.get("ENVIRONMENT") or None}


def ready_payload(env: Mapping[str, str], results: Sequence[CheckResult]) -> tuple[int, dict[str, object]]:
    """The `/ready` status and body: every dependency with its result, and the names of those that failed."""
    failed = [r.name for r in results if not r.ready]
    body: dict[str, object] = {
        "status": "not ready" if failed else "ready",
        "environment": env.get("ENVIRONMENT") or None,
        "checks": {r.name: r.as_json() for r in results},
    }
    if failed:
        body["failed"] = failed
    return (HTTPStatus.SERVICE_UNAVAILABLE if failed else HTTPStatus.OK), body


def request_path(target: str) -> str:
    """Return the path of a request target, without query string or fragment.

    Routing and logging both use this, so a query string (which could carry
    tokens a client mistakenly put in a URL) never reaches the access log.
    """
    return target.split("?", 1)[0].split("#", 1)[0]


def route(method: str, target: str, env: Mapping[str, str], readiness: Readiness) -> tuple[int, Mapping[str, object]]:
    """Decide the status code and JSON body for one request.

    The HTTP handler is a thin adapter around it; `readiness` runs the dependency checks.
    """
    if method not in ALLOWED_METHODS:
        return HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"}
    path = request_path(target)
    if path == "/health":
        return HTTPStatus.OK, health_payload(env)
    if path == "/ready":
        return ready_payload(env, readiness())
    return HTTPStatus.NOT_FOUND, {"error": "not found"}


def access_log_line(method: str, target: str, status: int, duration_ms: float) -> str:
    """Format one access-log record as a single JSON line.

    Only the method, the path without its query string, the status and the
    duration are recorded: no headers, no bodies, no query strings. JSON
    encoding also escapes control characters, so a crafted path cannot forge
    extra log lines.
    """
    record = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": "access",
        "method": method,
        "path": request_path(target),
        "status": status,
        "duration_ms": round(duration_ms, 3),
    }
    return json.dumps(record, separators=(",", ":"))


class ServiceServer(HTTPServer):
    """HTTP server with a fixed pool of request threads, carrying the environment, the log stream and the checks.

    A connection is accepted only when a request thread is free to serve it; until then it waits in
    the listen backlog, so neither a flood of connections nor slow clients make the process start
    more threads. `server_close()` waits for the requests in flight, so a SIGTERM from ECS never
    cuts a response in half.
    """

    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        env: Mapping[str, str],
        log_stream: TextIO,
        readiness: Readiness,
        *,
        workers: int = REQUEST_WORKERS,
        head_seconds: float = REQUEST_HEAD_SECONDS,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.env = env
        self.log_stream = log_stream
        self.readiness = readiness
        self.workers, self.head_seconds = workers, head_seconds
        # Request threads share one stream; the lock keeps lines whole.
        self.log_lock = threading.Lock()
        self._free_workers = threading.BoundedSemaphore(workers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="request")
        super().__init__(address, ServiceHandler)
        if tls_context is not None:
            # Accepted connections are TLS sockets whose handshake the request thread runs (ServiceHandler.setup).
            self.socket = tls_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    @property
    def serves_tls(self) -> bool:
        return isinstance(self.socket, ssl.SSLSocket)

    def write_log(self, line: str) -> None:
        """Write one log line to the server's log stream."""
        with self.log_lock:
            self.log_stream.write(line + "\n")
            self.log_stream.flush()

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection once a request thread is free to serve it."""
        if not self._free_workers.acquire(timeout=_WORKER_WAIT_SECONDS):
            # socketserver reads an OSError here as "nothing to accept now": its loop checks for a
            # shutdown and comes back, while the connection waits in the backlog.
            raise _NoFreeWorkerError
        try:
            return super().get_request()
        except BaseException:
            self._free_workers.release()
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            self._pool.submit(self._serve, request, client_address)
        except BaseException:
            self._free_workers.release()
            raise

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except _HandshakeFailedError:
            pass  # logged where it failed; there is no HTTP to answer on a connection without TLS
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._free_workers.release()

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=True)


class _NoFreeWorkerError(OSError):
    """Every request thread is busy."""


class _HandshakeFailedError(Exception):
    """The client did not complete a TLS handshake in time, or spoke something other than TLS."""


class _HeadTimeoutError(Exception):
    """The request line and headers did not all arrive in time (not a TimeoutError: the base class swallows those)."""


class _HeadReader(io.RawIOBase):
    """Reads a connection's request by one deadline (a `time.monotonic()` instant), however slowly its bytes come."""

    def __init__(self, sock: socket.socket, expires: float) -> None:
        super().__init__()
        self._sock, self._expires = sock, expires

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        left = self._expires - time.monotonic()
        if left <= 0:
            raise _HeadTimeoutError
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            raise _HeadTimeoutError from None


class ServiceHandler(BaseHTTPRequestHandler):
    """Adapts HTTP requests to ``route`` and writes one access-log line each."""

    # HTTP/1.0 closes the connection after every response, so no idle
    # keep-alive connection can hold a thread open and delay shutdown.
    protocol_version = "HTTP/1.0"
    # Per-operation socket timeout for writing the response; reading the request has a total deadline (setup).
    timeout = WRITE_TIMEOUT_SECONDS
    # Don't advertise the Python version in the Server header (scanners flag
    # version disclosure); see version_string.
    server_version = "service"

    _started: float | None = None

    @property
    def service(self) -> ServiceServer:
        """The owning server, typed (the base class types it as BaseServer)."""
        server = self.server
        if not isinstance(server, ServiceServer):  # pragma: no cover - wiring bug
            raise TypeError("ServiceHandler must be served by ServiceServer")
        return server

    def setup(self) -> None:
        super().setup()
        self._started = time.perf_counter()
        # The handshake, the request line and all headers share one deadline: a per-read timeout alone
        # lets a client that sends a byte a second hold a request thread forever.
        expires = time.monotonic() + self.service.head_seconds
        if isinstance(self.connection, ssl.SSLSocket):
            self._handshake(self.connection, expires)
        self.rfile.close()
        self.rfile = io.BufferedReader(_HeadReader(self.connection, expires))
        # What a response needs when the request line never arrives (see handle_one_request).
        self.command, self.requestline, self.request_version = "", "", ""

    def _handshake(self, connection: ssl.SSLSocket, expires: float) -> None:
        """Complete the TLS handshake by `expires`, or log why not and give up the connection."""
        try:
            # CPython's do_handshake keeps one deadline over all its reads and writes, unlike recv.
            connection.settimeout(max(expires - time.monotonic(), 0.001))
            connection.do_handshake()
        except (ssl.SSLError, OSError) as error:
            started = self._started if self._started is not None else time.perf_counter()
            self.service.write_log(
                _event(
                    "tls_handshake_failed",
                    reason=_handshake_failure(error),
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                )
            )
            self.rfile.close()  # so closing the connection frees its descriptor at once
            raise _HandshakeFailedError from error

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except _HeadTimeoutError:
            # Answered and logged, so clients that never finish a request show in the access log.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.send_error(HTTPStatus.REQUEST_TIMEOUT)

    def parse_request(self) -> bool:
        # Start timing once the request line has been read, so the time a
        # client takes to open the connection is not counted.
        self._started = time.perf_counter()
        if not super().parse_request():
            return False
        if self.command not in ALLOWED_METHODS:
            # Answer every other method here with 405 (the base class would
            # answer unknown methods with 501). The body was not read, so the
            # connection must not be reused.
            self.close_connection = True
            self._respond()
            return False
        return True

    def do_GET(self) -> None:
        """Serve a GET request."""
        self._respond()

    def _respond(self) -> None:
        status, body = route(self.command, self.path, self.service.env, self.service.readiness)
        self._send_json(status, body)

    def _send_json(self, status: int, body: Mapping[str, object]) -> None:
        self.connection.settimeout(self.timeout)  # reading may have left less than that
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # Health answers must never be served stale by a cache in between.
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", ", ".join(ALLOWED_METHODS))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._log_access(status)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol errors (bad request line, oversized headers) in JSON.

        The base class answers with an HTML page that embeds parts of the
        request; a fixed JSON body keeps all responses one format.
        """
        self.close_connection = True
        self._send_json(code, {"error": HTTPStatus(code).phrase.lower()})

    def _log_access(self, status: int) -> None:
        started = self._started if self._started is not None else time.perf_counter()
        line = access_log_line(
            method=self.command or "",
            # path is unset when the request line could not be parsed.
            target=getattr(self, "path", ""),
            status=status,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        self.service.write_log(line)

    def version_string(self) -> str:
        """Server header value: a fixed name, no Python or library version."""
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        # Silence the base class's unstructured stderr lines; _log_access
        # writes the structured record instead.
        return


def _handshake_failure(error: Exception) -> str:
    """Why a handshake failed, in OpenSSL's or the socket's own words (never bytes the client sent)."""
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)  # e.g. HTTP_REQUEST: plain HTTP sent to the TLS port
    return type(error).__name__


def make_server(
    port: int,
    env: Mapping[str, str] | None = None,
    *,
    host: str = DEFAULT_HOST,
    log_stream: TextIO | None = None,
    readiness: Readiness | None = None,
    workers: int = REQUEST_WORKERS,
    head_seconds: float = REQUEST_HEAD_SECONDS,
    tls_context: ssl.SSLContext | None = None,
) -> ServiceServer:
    """Create (bind) the server without starting it; it speaks TLS with `tls_context`, plain HTTP without.

    ``env`` defaults to the live ``os.environ``; tests pass a plain dict.
    ``readiness`` defaults to the checks ``env`` configures (``service.readiness``), with a cache
    connection for each of the ``workers`` request threads.
    Tests pass ``host="127.0.0.1"`` and ``port=0`` for an ephemeral loopback
    port, a ``log_stream`` to capture the access log, and probes of local servers.
    """
    env = os.environ if env is None else env
    if readiness is None:
        timeout = float(env.get("READY_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
        readiness = ReadinessChecks(probes_from_env(env, cache_connections=workers), timeout=timeout)
    return ServiceServer(
        (host, port),
        env=env,
        log_stream=sys.stdout if log_stream is None else log_stream,
        readiness=readiness,
        workers=workers,
        head_seconds=head_seconds,
        tls_context=tls_context,
    )


SignalHandler = Callable[[int, FrameType | None], object] | int | None


def install_signal_handlers(server: ServiceServer) -> dict[int, SignalHandler]:
    """Make SIGTERM and SIGINT stop ``server.serve_forever`` cleanly.

    Returns the previous handlers so a caller (or a test) can restore them.
    Must be called from the main thread, as ``signal.signal`` requires.
    """

    def _request_shutdown(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever() returns, and serve_forever()
        # runs in this same (main) thread, so calling it here would deadlock.
        threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    previous: dict[int, SignalHandler] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, _request_shutdown)
    return previous


def port_from_env(env: Mapping[str, str]) -> int:
    """Read the listening port from ``PORT``, defaulting to the contract's port (`service.contract`)."""
    raw = env.get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"PORT must be an integer, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"PORT must be between 1 and 65535, got {port}")
    return port


def _event(name: str, **fields: object) -> str:
    record: dict[str, object] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": name,
    }
    record.update(fields)
    return json.dumps(record, separators=(",", ":"))


def main() -> int:
    """Serve HTTPS until SIGTERM or SIGINT; return the exit status."""
    server = make_server(port_from_env(os.environ), tls_context=tls.server_context())
    install_signal_handlers(server)
    server.write_log(
        _event(
            "startup",
            port=server.server_address[1],
            tls=server.serves_tls,
            environment=os.environ.get("ENVIRONMENT") or None,
        )
    )
    try:
        server.serve_forever()
    finally:
        # Waits for the requests in flight (see ServiceServer).
        server.server_close()
    server.write_log(_event("shutdown"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
