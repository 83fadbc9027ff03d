"""Readiness: each dependency checked for real, in parallel, each within a total budget.

* database: a `SELECT 1` as the service's own PostgreSQL user, signed in with an RDS IAM token
  over TLS that verifies the server certificate against the RDS CA bundle of the partition;
* cache: a `PING` as the service's ElastiCache user, signed in with an IAM token over TLS;
* stream: a `DescribeStreamSummary` through the task role (readiness never writes records).

A failed check is reported with one reason word (`timeout`, `refused`, `unreachable`, `tls`,
`authentication`, `not ready`, `configuration`, `error`) and a sentence built only from fixed text,
error class names, SQLSTATE/AWS error codes and TLS verification messages: never a password, a
token, a host's credentials or a server's free-text answer.

Each client times out every socket operation after `timeout` seconds, and each check has a total
budget of `timeout` plus `BUDGET_MARGIN_SECONDS`: a check still running then is reported as a
timeout and the sockets of the database and cache clients are shut down (`service.deadline`), so a
peer that trickles bytes cannot keep the check's thread. `ReadinessChecks`, which the service uses,
runs at most one check of each dependency at a time and shares it among the requests that ask.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from service import iam_auth
from service.deadline import Deadline, guard, running_under

DEFAULT_TIMEOUT_SECONDS = 2.0
# A check's total budget is its per-operation timeout plus this margin; then its sockets are cut off.
BUDGET_MARGIN_SECONDS = 0.5
# Connections the cache probe may hold at once: at least as many as checks that can run at once.
CACHE_MAX_CONNECTIONS = 16
# ElastiCache closes IAM-authenticated connections after 12 hours; reconnect (with a fresh token) before.
CACHE_CONNECTION_MAX_AGE_SECONDS = 11 * 3600
# Kinesis answers these for a stream the caller may not read, or with credentials it does not accept.
_AWS_AUTH_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "KMSAccessDeniedException",
    }
)


class MissingCaBundleError(Exception):
    """The CA bundle the server's certificate must be verified with is not in the image."""


class NotReadyError(Exception):
    """The dependency answered, and its answer says it cannot serve yet."""


class NoConnectionFreeError(TimeoutError):
    """Every connection of a pool stayed in use for the whole timeout."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one dependency's check."""

    name: str
    ready: bool
    duration_ms: float
    reason: str | None = None
    detail: str | None = None

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"ready": self.ready, "duration_ms": round(self.duration_ms, 1)}
        if not self.ready:
            body.update(reason=self.reason, detail=self.detail)
        return body


class Probe(Protocol):
    """One dependency: `check()` returns when it works and raises when it does not."""

    name: str

    def check(self) -> None: ...


# --- the probes -------------------------------------------------------------------------------


def verifying_context(cafile: str | None = None) -> ssl.SSLContext:
    """TLS 1.2+, the server's certificate verified against `cafile` (or the system store) and its name checked."""
    if cafile is not None and not os.path.isfile(cafile):
        raise MissingCaBundleError(cafile)
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class DatabaseProbe:
    """`SELECT 1` as the service's PostgreSQL user, over TLS that verifies the server."""

    name = "database"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        database: str,
        user: str,
        password: Callable[[], str],
        ssl_context: ssl.SSLContext,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        on_rejected: Callable[[], None] | None = None,
    ) -> None:
        self.host, self.port, self.database, self.user = host, port, database, user
        self._password, self._ssl_context, self.timeout = password, ssl_context, timeout
        self._on_rejected = on_rejected

    def check(self) -> None:
        import pg8000.exceptions
        import pg8000.native

        # The socket is opened here, not by pg8000, so the check's deadline can cut it off (service.deadline).
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        guard(sock)
        try:
            connection = pg8000.native.Connection(
                user=self.user,
                password=self._password(),
                host=self.host,
                port=self.port,
                database=self.database,
                ssl_context=self._ssl_context,
                timeout=self.timeout,
                application_name="readiness",
                sock=sock,
            )
        except BaseException as error:
            sock.close()  # still open if pg8000 failed before wrapping it in TLS
            rejected = isinstance(error, pg8000.exceptions.DatabaseError) and _sqlstate(error).startswith("28")
            if rejected and self._on_rejected:
                self._on_rejected()  # sign a new token next time
            raise
        try:
            if connection.run("SELECT 1") != [[1]]:
                raise NotReadyError("the database answered SELECT 1 with something else")
        finally:
            connection.close()


class CacheProbe:
    """`PING` as the service's cache user, over TLS that verifies the server.

    The client keeps up to `max_connections` connections, one per check running at once; a check
    that finds none free within `timeout` fails as a timeout. Each connection is dropped and
    re-opened (signing in with a fresh token) before it reaches the age at which ElastiCache closes
    IAM-authenticated connections (`service.cache_connection`).
    """

    name = "cache"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password: Callable[[], str],
        ca_file: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_connections: int = CACHE_MAX_CONNECTIONS,
        max_connection_age: float = CACHE_CONNECTION_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import valkey
        from valkey.backoff import NoBackoff
        from valkey.credentials import CredentialProvider
        from valkey.retry import Retry

        from service.cache_connection import CacheConnection

        class _Credentials(CredentialProvider):
            def get_credentials(self) -> tuple[str, str]:
                return user, password()

        pool = valkey.ConnectionPool(
            connection_class=CacheConnection,
            max_connections=max_connections,
            host=host,
            port=port,
            credential_provider=_Credentials(),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            tls=lambda: verifying_context(ca_file),
            max_age=max_connection_age,
            clock=clock,
            on_renewed=self._renewed,
        )
        self.client = valkey.Valkey(connection_pool=pool)
        self.timeout, self.max_connections = timeout, max_connections
        # One slot per connection: a check waits for a free one instead of asking the pool for a connection too many.
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        self.recycled = 0

    def _renewed(self) -> None:
        with self._lock:
            self.recycled += 1

    def check(self) -> None:
        if not self._slots.acquire(timeout=self.timeout):
            raise NoConnectionFreeError(f"all {self.max_connections} connections to the cache stayed in use")
        try:
            if self.client.ping() is not True:
                raise NotReadyError("the cache did not answer PONG")
        finally:
            self._slots.release()


class StreamProbe:
    """`DescribeStreamSummary` of the stream through the task role; ready when the stream is ACTIVE or UPDATING."""

    name = "stream"

    def __init__(
        self,
        *,
        stream_name: str,
        region: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        endpoint_url: str | None = None,
        session: Any = None,
    ) -> None:
        from botocore.config import Config
        from botocore.session import Session

        self.stream_name = stream_name
        self.client = (session or Session()).create_client(
            "kinesis",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"total_max_attempts": 1},
                user_agent_extra="readiness",
            ),
        )

    def check(self) -> None:
        summary = self.client.describe_stream_summary(StreamName=self.stream_name)["StreamDescriptionSummary"]
        status = summary.get("StreamStatus")
        if status not in ("ACTIVE", "UPDATING"):
            raise NotReadyError(f"the stream is {status}")


class MisconfiguredProbe:
    """A dependency the task was not given settings for."""

    def __init__(self, name: str, missing: Sequence[str]) -> None:
        self.name, self.missing = name, tuple(missing)

    def check(self) -> None:
        raise ConfigurationError(f"{', '.join(self.missing)} not set")


class ConfigurationError(Exception):
    """The service was started without a setting a check needs."""


# --- running them ---------------------------------------------------------------------------


class ReadinessChecks:
    """`/ready`'s checks: every probe in parallel, each within its budget, one check of a dependency at a time.

    A call that comes while a dependency's check is running waits for that check instead of starting
    another, so any number of concurrent requests costs each dependency one connection at a time and
    the service one thread per dependency. A check that has not ended when its budget (`timeout` plus
    `BUDGET_MARGIN_SECONDS`) is spent is reported as a timeout, and its sockets are cut off.
    """

    def __init__(self, probes: Sequence[Probe], *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.probes = tuple(probes)
        self.timeout, self.budget = timeout, timeout + BUDGET_MARGIN_SECONDS
        self._flights = [_Flight(probe) for probe in self.probes]

    def __call__(self) -> list[CheckResult]:
        running = [flight.join(self.timeout, self.budget) for flight in self._flights]
        return [run.outcome() for run in running]


def check_all(probes: Sequence[Probe], *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[CheckResult]:
    """Check every probe once, in parallel, each within its budget (see `ReadinessChecks`)."""
    return ReadinessChecks(probes, timeout=timeout)()


class _Flight:
    """The running check of one probe, shared by every caller that asks while it runs."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self._lock = threading.Lock()
        self._running: _Run | None = None

    def join(self, timeout: float, budget: float) -> _Run:
        with self._lock:
            if self._running is None or self._running.finished.is_set():
                self._running = _Run(self.probe, timeout, budget)
            return self._running


class _Run:
    """One check of one probe, in a thread of its own, under a `Deadline` of `budget` seconds."""

    def __init__(self, probe: Probe, timeout: float, budget: float) -> None:
        self.name, self.deadline, self.started = probe.name, Deadline(budget), time.perf_counter()
        self.finished = threading.Event()
        self.result: CheckResult | None = None
        # A daemon thread: a check past its budget never holds up the process's exit on SIGTERM.
        thread = threading.Thread(target=self._work, args=(probe, timeout), name=f"readiness-{probe.name}", daemon=True)
        thread.start()

    def _work(self, probe: Probe, timeout: float) -> None:
        try:
            self.result = _run(probe, timeout, self.deadline)
        finally:
            self.deadline.close()
            self.finished.set()

    def outcome(self) -> CheckResult:
        """The check's result; once its budget is spent, a timeout (and its sockets are cut off)."""
        if self.finished.wait(self.deadline.remaining()) and self.result is not None:
            return self.result
        self.deadline.cut_off()
        elapsed_ms = (time.perf_counter() - self.started) * 1000
        return CheckResult(self.name, False, elapsed_ms, "timeout", f"no answer within {self.deadline.seconds:g} s")


# The probes whose dependency has passed a check: it speaks TLS, whatever a later handshake that times out suggests.
_ANSWERED: weakref.WeakSet[Any] = weakref.WeakSet()


def _run(probe: Probe, timeout: float, deadline: Deadline) -> CheckResult:
    started = time.perf_counter()
    try:
        with running_under(deadline):
            probe.check()
    except Exception as error:
        # An error after the cut-off is the cut-off's doing: the dependency did not answer in time.
        cut = ("timeout", f"no answer within {deadline.seconds:g} s") if deadline.cut else None
        reason, detail = cut or _slow_handshake(probe, error, timeout) or explain(error, timeout)
        return CheckResult(probe.name, False, (time.perf_counter() - started) * 1000, reason, detail)
    _ANSWERED.add(probe)
    return CheckResult(probe.name, True, (time.perf_counter() - started) * 1000)


def _slow_handshake(probe: Probe, error: BaseException, timeout: float) -> tuple[str, str] | None:
    """A TLS handshake that timed out with a dependency that has passed a check before: slowness (a busy server,
    every connection of the pool opening at once), not the server without TLS that `explain` would otherwise name."""
    if probe in _ANSWERED and any(_handshake_timeout(link, timeout) for link in _chain(error)):
        return "timeout", f"no TLS handshake within {timeout:g} s, from a server that completed one before"
    return None


def explain(error: BaseException, timeout: float) -> tuple[str, str]:
    """(reason word, sentence) for a failed check, from the error and the errors that caused it."""
    chain = _chain(error)
    for rule in _RULES:
        for link in chain:
            found = rule(link, timeout)
            if found:
                return found
    return "error", f"the check failed ({type(error).__name__})"


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _sqlstate(error: BaseException) -> str:
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return str(fields.get("C", ""))


def _module(error: BaseException) -> str:
    return type(error).__module__.split(".")[0]


def _authentication(error: BaseException, timeout: float) -> tuple[str, str] | None:
    name = type(error).__name__
    if _module(error) == "pg8000" and _sqlstate(error):
        state = _sqlstate(error)
        if state.startswith("28"):
            return "authentication", f"the database refused the sign-in (SQLSTATE {state})"
        return "error", f"the database answered with an error (SQLSTATE {state})"
    refused = name == "ResponseError" and str(error).startswith(("WRONGPASS", "NOAUTH"))
    if _module(error) == "valkey" and (name.startswith("Authentication") or refused):
        return "authentication", "the cache refused the sign-in"
    if _module(error) == "botocore":
        from botocore.exceptions import ClientError  # modelled errors are subclasses named after the code

        if isinstance(error, ClientError):
            code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
            if code in _AWS_AUTH_CODES:
                return "authentication", f"AWS refused the task role ({code})"
            if code == "ResourceNotFoundException":
                return "not ready", "the stream does not exist"
            return "error", f"AWS answered with an error ({code or 'no code'})"
        if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
            return "authentication", "no AWS credentials for the task role"
    return None


def _tls(error: BaseException, timeout: float) -> tuple[str, str] | None:
    if isinstance(error, ssl.SSLCertVerificationError):
        return "tls", f"the server's certificate could not be verified ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return "tls", f"the TLS handshake failed ({error.reason or type(error).__name__})"
    if _module(error) == "pg8000" and str(error) == "Server refuses SSL":
        return "tls", "the server refused TLS"
    if _module(error) == "botocore" and type(error).__name__ == "SSLError":
        return "tls", "the TLS handshake with the AWS endpoint failed"
    if isinstance(error, MissingCaBundleError):
        return "tls", "the CA bundle to verify the server with is missing from the image"
    return None


def _handshake_timeout(error: BaseException, timeout: float) -> tuple[str, str] | None:
    if isinstance(error, TimeoutError | socket.timeout) and _in_tls_handshake(error):
        # A server without TLS reads the ClientHello as the start of a command and waits for the rest.
        return "tls", f"no TLS handshake within {timeout:g} s: the server does not speak TLS"
    return None


def _timeout(error: BaseException, timeout: float) -> tuple[str, str] | None:
    name = type(error).__name__
    if isinstance(error, NoConnectionFreeError):
        return "timeout", f"no connection free within {timeout:g} s: {error}"
    if (
        isinstance(error, TimeoutError | socket.timeout)
        or (_module(error) == "valkey" and name == "TimeoutError")
        or (_module(error) == "botocore" and name in ("ConnectTimeoutError", "ReadTimeoutError"))
    ):
        return "timeout", f"no answer within {timeout:g} s"
    return None


def _in_tls_handshake(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_name == "do_handshake":
            return True
        traceback = traceback.tb_next
    return False


def _network(error: BaseException, timeout: float) -> tuple[str, str] | None:
    if isinstance(error, ConnectionRefusedError):
        return "refused", "the connection was refused: nothing listens at the address"
    if isinstance(error, socket.gaierror):
        return "unreachable", "the host name does not resolve"
    if _module(error) == "botocore" and type(error).__name__ == "EndpointConnectionError":
        return "unreachable", "the AWS endpoint could not be reached"
    return None


def _other(error: BaseException, timeout: float) -> tuple[str, str] | None:
    if isinstance(error, NotReadyError):
        return "not ready", str(error)
    if isinstance(error, ConfigurationError):
        return "configuration", str(error)
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "unreachable", "the server closed the connection"
    if isinstance(error, OSError) and error.errno is not None:
        return "unreachable", f"network error ({error.strerror or error.errno})"
    return None


_RULES: tuple[Callable[[BaseException, float], tuple[str, str] | None], ...] = (
    _authentication,
    _tls,
    _handshake_timeout,
    _timeout,
    _network,
    _other,
)


# --- from the task's environment ------------------------------------------------------------


def probes_from_env(
    env: Mapping[str, str],
    *,
    credentials: iam_auth.Credentials | None = None,
    cache_connections: int = CACHE_MAX_CONNECTIONS,
) -> list[Probe]:
    """The three probes, configured from the task definition's environment variables.

    `cache_connections` is the most checks that may run at once: the cache probe holds that many connections.
    """
    timeout = float(env.get("READY_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
    region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip()
    probes: list[Probe] = []

    def missing(*names: str) -> list[str]:
        return [n for n in names if not env.get(n, "").strip()] + ([] if region else ["AWS_REGION"])

    lacking = missing("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_CA_BUNDLE")
    if lacking:
        probes.append(MisconfiguredProbe("database", lacking))
    else:
        creds = credentials or iam_auth.task_credentials()
        host, port, user = env["DB_HOST"], int(env["DB_PORT"]), env["DB_USER"]
        db_tokens = iam_auth.TokenCache(
            lambda: iam_auth.rds_token(credentials=creds, region=region, host=host, port=port, user=user)
        )
        probes.append(
            _LazyProbe(
                "database",
                lambda: DatabaseProbe(
                    host=host,
                    port=port,
                    database=env["DB_NAME"],
                    user=user,
                    password=db_tokens.token,
                    ssl_context=verifying_context(env["DB_CA_BUNDLE"]),
                    timeout=timeout,
                    on_rejected=db_tokens.invalidate,
                ),
            )
        )

    lacking = missing("REDIS_HOST", "REDIS_PORT", "REDIS_USER", "REDIS_REPLICATION_GROUP")
    if lacking:
        probes.append(MisconfiguredProbe("cache", lacking))
    else:
        creds = credentials or iam_auth.task_credentials()
        group, cache_user = env["REDIS_REPLICATION_GROUP"], env["REDIS_USER"]
        cache_tokens = iam_auth.TokenCache(
            lambda: iam_auth.elasticache_token(
                credentials=creds, region=region, replication_group=group, user=cache_user
            )
        )
        probes.append(
            CacheProbe(
                host=env["REDIS_HOST"],
                port=int(env["REDIS_PORT"]),
                user=cache_user,
                password=cache_tokens.token,
                timeout=timeout,
                max_connections=cache_connections,
            )
        )

    lacking = missing("KINESIS_STREAM")
    if lacking:
        probes.append(MisconfiguredProbe("stream", lacking))
    else:
        probes.append(StreamProbe(stream_name=env["KINESIS_STREAM"], region=region, timeout=timeout))
    return probes


class _LazyProbe:
    """Builds its probe on first use, so a missing CA bundle is a failed check, not a crashed task."""

    def __init__(self, name: str, build: Callable[[], Probe]) -> None:
        self.name, self._build = name, build
        self._probe: Probe | None = None

    def check(self) -> None:
        if self._probe is None:
            self._probe = self._build()
        self._probe.check()
