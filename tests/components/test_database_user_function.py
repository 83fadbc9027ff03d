"""The database-user function signs in again when the secret's rotation is between its steps: a fake connection."""

from __future__ import annotations

from typing import Any

import pytest

from components.database_user_function import index


class FakeDatabaseError(Exception):
    """What pg8000 raises: the server's error fields as a dictionary, SQLSTATE under "C"."""

    def __init__(self, code: str) -> None:
        super().__init__({"S": "FATAL", "C": code, "M": "password authentication failed"})


class Clock:
    """A clock that moves only when the function sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Database:
    """Accepts one password; the secret reports the old one until the rotation finishes after `stale_reads`."""

    def __init__(self, *, stale_reads: int, refusal: str = "28P01") -> None:
        self.stale_reads, self.refusal = stale_reads, refusal
        self.reads: list[str] = []

    def read_secret(self) -> dict[str, Any]:
        password = "old" if len(self.reads) < self.stale_reads else "new"
        self.reads.append(password)
        return {"username": "dbadmin", "password": password}

    def connect(self, secret: dict[str, Any]) -> str:
        if secret["password"] != "new":
            raise FakeDatabaseError(self.refusal)
        return "connection"


def _connect(database: Database, clock: Clock, deadline: float) -> Any:
    return index.connect_with_retry(
        database.read_secret, database.connect, deadline=deadline, clock=clock, sleep=clock.sleep
    )


def test_a_refused_password_is_read_again_until_the_rotation_finishes() -> None:
    database, clock = Database(stale_reads=3), Clock()
    assert _connect(database, clock, deadline=60) == "connection"
    assert database.reads == ["old", "old", "old", "new"]
    assert clock.sleeps == [index.RETRY_INTERVAL_SECONDS] * 3


def test_the_first_password_that_works_is_used_without_waiting() -> None:
    database, clock = Database(stale_reads=0), Clock()
    assert _connect(database, clock, deadline=60) == "connection"
    assert clock.sleeps == []


def test_retrying_stops_at_the_deadline_with_the_authentication_error() -> None:
    database, clock = Database(stale_reads=1000), Clock()
    with pytest.raises(FakeDatabaseError) as raised:
        _connect(database, clock, deadline=30)
    assert index.sqlstate(raised.value) == "28P01"
    assert clock.now <= 30
    assert len(database.reads) == 30 // index.RETRY_INTERVAL_SECONDS + 1  # at 0, 5, ..., 30 seconds


def test_any_other_error_is_not_retried() -> None:
    database, clock = Database(stale_reads=1, refusal="53300"), Clock()  # too many connections
    with pytest.raises(FakeDatabaseError):
        _connect(database, clock, deadline=60)
    assert database.reads == ["old"]
    assert clock.sleeps == []
