"""A dependency check's total time budget, and the sockets it cuts off when the budget is spent.

Client libraries time out each socket operation, not a whole exchange: a peer that sends one byte a
second never lets a 2-second read timeout fire. A check therefore runs under a `Deadline`. The
sockets its client opens are registered with it (`guard`), and when the budget is spent the thread
waiting for the check shuts them down (`Deadline.cut_off`): the client's blocked read returns at
once, and the check's thread ends instead of outliving its budget.

Standard library only: the image carries this module with the service.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar


class Deadline:
    """A budget of `seconds` from now, and the sockets to shut down when it runs out."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._duplicates: list[socket.socket] = []
        self._cut = False
        self._closed = False

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.expires - time.monotonic())

    @property
    def cut(self) -> bool:
        """Whether the budget ran out and the check's sockets were shut down."""
        return self._cut

    def guard(self, sock: socket.socket) -> None:
        """Shut `sock` (connected, plain or TLS) down if the budget runs out before the check ends.

        The deadline keeps a duplicate of the socket's descriptor and closes it itself, so shutting
        it down can never reach a descriptor the client has closed and the system has reused.
        """
        with self._lock:
            if self._closed or sock.fileno() < 0:
                return
            duplicate = socket.socket(fileno=os.dup(sock.fileno()))
            self._duplicates.append(duplicate)
            if self._cut:
                _shut_down(duplicate)

    def cut_off(self) -> None:
        """The budget is spent: shut down every guarded socket, so a read blocked on one returns."""
        with self._lock:
            self._cut = True
            for duplicate in self._duplicates:
                _shut_down(duplicate)

    def close(self) -> None:
        """The check has ended: release the duplicates (the client closes its own sockets)."""
        with self._lock:
            self._closed = True
            for duplicate in self._duplicates:
                duplicate.close()
            self._duplicates.clear()


def _shut_down(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the peer may have closed it already
        sock.shutdown(socket.SHUT_RDWR)


_CURRENT: ContextVar[Deadline | None] = ContextVar("deadline", default=None)


@contextlib.contextmanager
def running_under(deadline: Deadline) -> Iterator[None]:
    """Make `deadline` the one `guard` registers sockets with, in this thread, for the block."""
    token = _CURRENT.set(deadline)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def guard(sock: socket.socket) -> None:
    """Register `sock` with the deadline of the check running in this thread (none outside a check)."""
    deadline = _CURRENT.get()
    if deadline is not None:
        deadline.guard(sock)
