"""The service under slow peers and load, on 127.0.0.1 only: every test is bounded in count and time.

Dependencies that trickle (`Trickler`: an answer started, then one byte a second, each byte its own
TLS record where the dependency speaks TLS): a per-read timeout never fires, so only the check's total
budget ends the check, and the threads the checks used must end with it.

Thread ceilings are asserted with `threading.active_count()` and the names the service gives its
threads (`readiness-<dependency>`); time bounds are generous, the machine is shared.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import trustme
from botocore.session import Session

from service import readiness
from service.readiness import CacheProbe, CheckResult, DatabaseProbe, ReadinessChecks, StreamProbe
from tests.servers import LOCALHOST, Trickler

# PostgreSQL's Authentication message announcing a 4 KiB body; Valkey's simple-string reply; an HTTP answer's head.
DATABASE_ANSWER = b"R\x00\x00\x10\x00"
CACHE_ANSWER = b"+"
STREAM_ANSWER = b"HTTP/1.1 200 OK\r\nx-trickle: "
# Generous bounds for a loaded 2-core machine: time over a budget, threads over a baseline.
MARGIN_SECONDS = 1.5
SPARE_THREADS = 3


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


# --- dependencies that trickle --------------------------------------------------------------------


def test_dependencies_that_trickle_a_byte_a_second_are_cut_off_at_the_budget(
    certificate: trustme.LeafCert, ca_file: str
) -> None:
    timeout = 2.0  # per socket read: longer than the second between two bytes, so it never fires
    budget = timeout + readiness.BUDGET_MARGIN_SECONDS
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
