"""The service under slow peers and load, on 127.0.0.1 only: every test is bounded in count and time.

* dependencies that trickle (`Trickler`: an answer started, then one byte a second, each byte its own
  TLS record where the dependency speaks TLS): a per-read timeout never fires, so only the check's total
  budget ends the check, and the threads the checks used must end with it;
* clients that trickle their request, or never start the TLS handshake: only the request's total
  deadline frees the request thread;
* more concurrent requests than request threads: the others wait in the listen backlog.

Thread ceilings are asserted with `threading.active_count()` and the names the service gives its
threads (`request_*`, `readiness-<dependency>`); time bounds are generous, the machine is shared.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import ssl
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import trustme
from botocore.session import Session

from service import app, readiness, tls
from service.readiness import CacheProbe, CheckResult, DatabaseProbe, ReadinessChecks, StreamProbe
from tests.servers import LOCALHOST, Trickler

# PostgreSQL's Authentication message announcing a 4 KiB body; Valkey's simple-string reply; an HTTP answer's head.
DATABASE_ANSWER = b"R\x00\x00\x10\x00"
CACHE_ANSWER = b"+"
STREAM_ANSWER = b"HTTP/1.1 200 OK\r\nx-trickle: "
# Generous bounds for a loaded 2-core machine: time over a budget, threads over a baseline.
MARGIN_SECONDS = 1.5
SPARE_THREADS = 3

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def certificate(test_ca: trustme.CA) -> trustme.LeafCert:
    return test_ca.issue_cert(LOCALHOST, "localhost")


@pytest.fixture(scope="module")
def ca_file(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("trickle-ca") / "ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return str(path)


def _probes(ports: tuple[int, int, int], ca_file: str, timeout: float) -> list[readiness.Probe]:
    session = Session()
    session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    database, cache, stream = ports
    return [
        DatabaseProbe(
            host=LOCALHOST,
            port=database,
            database="monitoring",
            user="monitoring_service",
            password=lambda: "token",
            ssl_context=readiness.verifying_context(ca_file),
            timeout=timeout,
        ),
        CacheProbe(
            host=LOCALHOST,
            port=cache,
            user="monitoring-service",
            password=lambda: "token",
            ca_file=ca_file,
            timeout=timeout,
        ),
        StreamProbe(
            stream_name="events",
            region="us-west-2",
            timeout=timeout,
            endpoint_url=f"http://{LOCALHOST}:{stream}",
            session=session,
        ),
    ]


@contextlib.contextmanager
def _trickling(certificate: trustme.LeafCert, interval: float) -> Iterator[tuple[Trickler, Trickler, Trickler]]:
    with (
        Trickler(DATABASE_ANSWER, certificate=certificate, postgres=True, interval=interval) as database,
        Trickler(CACHE_ANSWER, certificate=certificate, interval=interval) as cache,
        Trickler(STREAM_ANSWER, interval=interval) as stream,
    ):
        yield database, cache, stream


def _threads(prefix: str) -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith(prefix))


def _eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextlib.contextmanager
def _serving(httpd: app.ServiceServer) -> Iterator[int]:
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _get(port: int, path: str) -> tuple[int, dict[str, object]]:
    try:
        with _OPENER.open(f"http://{LOCALHOST}:{port}{path}", timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


# --- dependencies that trickle --------------------------------------------------------------------


def test_dependencies_that_trickle_a_byte_a_second_are_cut_off_at_the_budget(
    certificate: trustme.LeafCert, ca_file: str
) -> None:
    timeout = 2.0  # per socket read: longer than the second between two bytes, so it never fires
    budget = timeout + readiness.BUDGET_MARGIN_SECONDS
    assert _eventually(lambda: _threads("readiness-") == 0)  # no check of an earlier test still running
    baseline = threading.active_count()
    with _trickling(certificate, interval=1.0) as (database, cache, stream):
        probes = _probes((database.port, cache.port, stream.port), ca_file, timeout)
        started = time.monotonic()
        results = readiness.check_all(probes, timeout=timeout)
        elapsed = time.monotonic() - started

        assert [(r.name, r.reason, r.detail) for r in results] == [
            (name, "timeout", f"no answer within {budget:g} s") for name in ("database", "cache", "stream")
        ]
        assert elapsed < budget + MARGIN_SECONDS
        # The database and cache clients' sockets were shut down: their threads end and the peers see them close.
        assert _eventually(lambda: _threads("readiness-database") + _threads("readiness-cache") == 0)
        assert _eventually(lambda: database.open_connections + cache.open_connections == 0)
        # botocore's socket cannot be reached: its thread lingers until the endpoint stops.
        assert _threads("readiness-stream") <= 1
    assert _eventually(lambda: _threads("readiness-") == 0)
    assert threading.active_count() <= baseline


def test_ready_under_load_with_trickling_dependencies_keeps_threads_and_memory_bounded(
    certificate: trustme.LeafCert, ca_file: str
) -> None:
    clients, requests, timeout = 20, 40, 0.5
    assert _eventually(lambda: _threads("readiness-") == 0)  # no check of an earlier test still running
    with _trickling(certificate, interval=0.2) as (database, cache, stream):
        probes = _probes((database.port, cache.port, stream.port), ca_file, timeout)
        checks = ReadinessChecks(probes, timeout=timeout)
        httpd = app.make_server(0, env={}, host=LOCALHOST, log_stream=io.StringIO(), readiness=checks)
        baseline = threading.active_count()
        tracemalloc.start()
        try:
            with _serving(httpd) as port, ThreadPoolExecutor(clients) as pool:
                answers = list(pool.map(lambda _: (_get(port, "/ready"), threading.active_count()), range(requests)))
                peak_memory = tracemalloc.get_traced_memory()[1]
                after_load = _eventually(lambda: _threads("readiness-database") + _threads("readiness-cache") == 0)
                lingering, request_threads = _threads("readiness-stream"), _threads("request")
        finally:
            tracemalloc.stop()
        # One check (one connection) of a dependency at a time, shared by the requests that came while it ran.
        assert max(database.accepted, cache.accepted, stream.accepted) <= requests // 4
    for (status, body), _ in answers:
        assert status == 503
        checks_body = body["checks"]
        assert isinstance(checks_body, dict)
        assert {check["reason"] for check in checks_body.values()} == {"timeout"}
    # The serving thread, and per dependency a check that is running and one cut off a moment ago that is ending.
    ceiling = baseline + clients + app.REQUEST_WORKERS + 1 + 2 * len(probes) + SPARE_THREADS
    assert max(threads for _, threads in answers) <= ceiling
    assert after_load
    assert lingering <= 1
    assert request_threads <= app.REQUEST_WORKERS
    assert _eventually(lambda: threading.active_count() <= baseline)
    assert peak_memory < 32 * 2**20  # loose: about 4 MiB traced here


# --- one check of a dependency at a time ----------------------------------------------------------


class _Stuck:
    """A probe whose check blocks until `release` (at most 10 s), counting its checks."""

    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.checks = 0

    def check(self) -> None:
        self.checks += 1
        self.release.wait(10)


def test_a_check_past_its_budget_is_shared_not_repeated() -> None:
    probe = _Stuck()
    checks = ReadinessChecks([probe], timeout=0.2)
    try:
        with ThreadPoolExecutor(10) as pool:
            results: list[CheckResult] = [r for rs in pool.map(lambda _: checks(), range(20)) for r in rs]
        assert {(r.ready, r.reason) for r in results} == {(False, "timeout")}
        # Every call, during the check and after its budget, shared the one running check and its one thread.
        assert (probe.checks, _threads("readiness-stuck")) == (1, 1)
    finally:
        probe.release.set()
    assert _eventually(lambda: _threads("readiness-stuck") == 0)
    assert checks()[0].ready  # once it has ended, the next call checks again
    assert probe.checks == 2


# --- slow clients ---------------------------------------------------------------------------------


def _trickle_requests(sockets: list[socket.socket], stop: threading.Event) -> None:
    """Send every socket one more byte of a request every 0.25 s, for at most 8 s."""
    request = b"GET /health HTTP/1.0\r\nX-Trickle: " + b"a" * 64
    for index in range(32):
        if stop.wait(0.25):
            return
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.send(request[index : index + 1])


def _records(log: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.getvalue().splitlines()]


def test_slow_clients_are_cut_off_and_a_normal_request_still_gets_through() -> None:
    workers, head_seconds, slow_clients = 4, 1.0, 8
    log = io.StringIO()
    httpd = app.make_server(
        0,
        env={},
        host=LOCALHOST,
        log_stream=log,
        readiness=lambda: [],
        workers=workers,
        head_seconds=head_seconds,
    )
    assert httpd.request_queue_size == app.LISTEN_BACKLOG == 128
    baseline = threading.active_count()
    stop = threading.Event()
    with _serving(httpd) as port:
        slow = [socket.create_connection((LOCALHOST, port), timeout=5) for _ in range(slow_clients)]
        driver = threading.Thread(target=_trickle_requests, args=(slow, stop), daemon=True)
        driver.start()
        try:
            time.sleep(0.3)  # every request thread is busy with a slow client; the other clients wait in the backlog
            started = time.monotonic()
            status, _ = _get(port, "/health")
            waited = time.monotonic() - started
            during = threading.active_count()
            timed_out = _eventually(lambda: sum(r["status"] == 408 for r in _records(log)) == slow_clients, 8)
        finally:
            stop.set()
            driver.join(5)
            for sock in slow:
                sock.close()
    assert status == 200
    # Behind two rounds of slow clients, each cut off at the request deadline.
    assert waited < 2 * head_seconds + 4 * MARGIN_SECONDS
    assert during <= baseline + workers + 1 + SPARE_THREADS
    assert timed_out
    # Cut off at the deadline for the whole request, although a byte came every quarter of a second.
    for record in _records(log):
        if record["status"] == 408:
            assert isinstance(record["duration_ms"], float)
            assert head_seconds * 1000 * 0.9 <= record["duration_ms"] < (head_seconds + MARGIN_SECONDS) * 1000


def test_the_server_gives_the_cache_a_connection_per_request_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    env = {
        "AWS_REGION": "us-west-2",
        "REDIS_HOST": LOCALHOST,
        "REDIS_PORT": "6379",
        "REDIS_USER": "monitoring-service",
        "REDIS_REPLICATION_GROUP": "cache",
    }
    httpd = app.make_server(0, env=env, host=LOCALHOST, log_stream=io.StringIO(), workers=7)
    try:
        assert isinstance(httpd.readiness, ReadinessChecks)
        (cache,) = [probe for probe in httpd.readiness.probes if isinstance(probe, CacheProbe)]
        assert cache.max_connections >= httpd.workers == 7
    finally:
        httpd.server_close()


def test_clients_that_stall_the_tls_handshake_are_cut_off_and_a_normal_request_still_gets_through() -> None:
    """The handshake runs on a request thread under the request's deadline, never in the accept loop."""
    workers, head_seconds, stalled = 2, 1.0, 6
    log = io.StringIO()
    httpd = app.make_server(
        0,
        env={},
        host=LOCALHOST,
        log_stream=log,
        readiness=lambda: [],
        workers=workers,
        head_seconds=head_seconds,
        tls_context=tls.server_context(),
    )
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=client))
    with _serving(httpd) as port:
        # Connections that never send a ClientHello: each holds a request thread until the deadline.
        silent = [socket.create_connection((LOCALHOST, port), timeout=5) for _ in range(stalled)]
        try:
            time.sleep(0.3)
            started = time.monotonic()
            with opener.open(f"https://{LOCALHOST}:{port}/health", timeout=15) as response:
                status = response.status
            waited = time.monotonic() - started
            cut_off = _eventually(
                lambda: sum(r["event"] == "tls_handshake_failed" for r in _records(log)) == stalled, 8
            )
        finally:
            for sock in silent:
                sock.close()
    assert status == 200
    # Behind three rounds of stalled clients (six of them, two threads), each cut off at the deadline.
    assert waited < 3 * head_seconds + 4 * MARGIN_SECONDS
    assert cut_off
    for record in _records(log):
        if record["event"] == "tls_handshake_failed":
            assert record["reason"] == "timeout"
            assert isinstance(record["duration_ms"], float)
            assert head_seconds * 1000 * 0.9 <= record["duration_ms"] < (head_seconds + MARGIN_SECONDS) * 1000
