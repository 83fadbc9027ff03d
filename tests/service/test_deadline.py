"""`service.deadline`: a check's sockets are shut down when its budget is spent, and only then."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from service.deadline import Deadline, guard, running_under


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, peer = socket.socketpair()
    client.settimeout(5)
    try:
        yield client, peer
    finally:
        client.close()
        peer.close()


def test_cutting_off_ends_a_read_blocked_on_a_guarded_socket(pair: tuple[socket.socket, socket.socket]) -> None:
    client, _ = pair
    deadline = Deadline(0.1)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(client.recv(1)))
    with running_under(deadline):
        guard(client)
    reader.start()
    time.sleep(0.1)
    started = time.monotonic()
    deadline.cut_off()
    reader.join(5)
    assert received == [b""]  # the read returned at once, as at the end of the stream
    assert time.monotonic() - started < 2
    assert deadline.cut
    deadline.close()


def test_a_socket_guarded_after_the_cut_off_is_shut_down_at_once(pair: tuple[socket.socket, socket.socket]) -> None:
    client, _ = pair
    deadline = Deadline(0)
    deadline.cut_off()
    deadline.guard(client)
    assert client.recv(1) == b""
    deadline.close()


def test_a_check_that_ends_in_time_keeps_its_sockets(pair: tuple[socket.socket, socket.socket]) -> None:
    client, peer = pair
    deadline = Deadline(5)
    deadline.guard(client)
    deadline.close()  # the check ended: the deadline lets go of its duplicate
    deadline.cut_off()
    peer.sendall(b"x")
    assert client.recv(1) == b"x"


def test_guard_outside_a_check_does_nothing(pair: tuple[socket.socket, socket.socket]) -> None:
    client, peer = pair
    guard(client)
    peer.sendall(b"x")
    assert client.recv(1) == b"x"
