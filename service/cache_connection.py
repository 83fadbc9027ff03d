"""The cache connection the readiness check holds: verified TLS, cut off by its deadline, renewed before 12 h."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

from valkey.connection import Connection

from service.deadline import guard


class CacheConnection(Connection):
    """One pooled connection to Valkey for the readiness check (`service.readiness.CacheProbe`).

    * TLS comes from `tls()`, the service's verifying context (TLS 1.2+, the certificate and the
      server's name checked), and is started after the TCP connect, so the handshake is guarded too;
    * every socket it connects or reads is registered with the deadline of the check running in this
      thread (`service.deadline.guard`), which shuts it down when the check's budget is spent;
    * a connection `max_age` old is closed before its next command and opened again, signing in with
      a fresh token, since ElastiCache closes IAM-authenticated connections after 12 hours.
    """

    def __init__(
        self,
        *,
        tls: Callable[[], ssl.SSLContext],
        max_age: float,
        clock: Callable[[], float],
        on_renewed: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._tls, self._max_age, self._clock, self._on_renewed = tls, max_age, clock, on_renewed
        self._connected_at = clock()

    def _connect(self) -> socket.socket:
        sock: socket.socket = super()._connect()
        guard(sock)
        try:
            secure = self._tls().wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self._connected_at = self._clock()
        return secure

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if self._sock is not None and self._clock() - self._connected_at >= self._max_age:
            self.disconnect()  # the next line connects again, with a fresh token
            self._on_renewed()
        super().send_packed_command(command, check_health)

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        if self._sock is not None:
            guard(self._sock)
        return super().read_response(*args, **kwargs)
