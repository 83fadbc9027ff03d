"""Short-lived IAM authentication tokens for RDS and ElastiCache, signed with the task role.

Both services accept, instead of a password, a SigV4-presigned `connect` request that is valid
for 15 minutes. The token authenticates a new connection only; ElastiCache also closes IAM
connections after 12 hours. `TokenCache` hands out a token until it is 10 minutes old and signs a
new one after that, so every connection (including a reconnection after the 12-hour close) signs in
with a token that has at least 5 minutes left. No password exists for the service to store or leak.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

TOKEN_LIFETIME_SECONDS = 900  # what RDS and ElastiCache accept
REFRESH_AFTER_SECONDS = 600  # sign anew while the old token still has 5 minutes left


class Credentials(Protocol):
    """What botocore's (refreshable) credentials offer: a consistent key, secret and token."""

    def get_frozen_credentials(self) -> Any: ...


def _presign(url: str, service: str, region: str, credentials: Credentials) -> str:
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(credentials.get_frozen_credentials(), service, region, expires=TOKEN_LIFETIME_SECONDS).add_auth(
        request
    )
    signed: str = request.url
    # The token is the signed request without its scheme.
    return signed.split("://", 1)[1]


def rds_token(*, credentials: Credentials, region: str, host: str, port: int, user: str) -> str:
    """An RDS IAM authentication token for `user` at `host:port` (botocore's generate_db_auth_token)."""
    url = f"https://{host}:{port}/?Action=connect&DBUser={quote(user, safe='')}"
    return _presign(url, "rds-db", region, credentials)


def elasticache_token(*, credentials: Credentials, region: str, replication_group: str, user: str) -> str:
    """An ElastiCache IAM authentication token for `user` of `replication_group` (its id, lower case)."""
    return _presign(
        f"http://{replication_group.lower()}/?Action=connect&User={quote(user, safe='')}",
        "elasticache",
        region,
        credentials,
    )


class TokenCache:
    """Returns a token signed less than `refresh_after` seconds ago, signing a new one when needed.

    Thread-safe: concurrent readiness checks share one token. `clock` is injectable for tests.
    """

    def __init__(
        self,
        sign: Callable[[], str],
        *,
        refresh_after: float = REFRESH_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < refresh_after < TOKEN_LIFETIME_SECONDS:
            raise ValueError("a token must be refreshed before it expires")
        self._sign, self._refresh_after, self._clock = sign, refresh_after, clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._signed_at = 0.0

    def token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is None or now - self._signed_at >= self._refresh_after:
                self._token, self._signed_at = self._sign(), now
            return self._token

    def invalidate(self) -> None:
        """Forget the token (after the server refused it), so the next sign-in signs a new one."""
        with self._lock:
            self._token = None


def task_credentials() -> Credentials:
    """The task role's credentials, refreshed by botocore from the ECS container endpoint."""
    from botocore.session import Session

    credentials = Session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials: the service signs in with its ECS task role")
    return credentials  # type: ignore[no-any-return]
