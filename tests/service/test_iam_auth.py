"""The service's IAM tokens: signed like AWS's own SDK signs them, valid 15 minutes, renewed before then."""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.credentials import Credentials
from botocore.session import Session

from service import iam_auth

NOW = datetime.datetime(2026, 11, 28, 12, 0, 0)
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW)


def _query(token: str) -> dict[str, list[str]]:
    return parse_qs(urlparse("https://" + token).query)


def test_rds_token_is_the_one_botocore_generates() -> None:
    client = Session().create_client(
        "rds",
        region_name="us-gov-west-1",
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        aws_session_token=CREDENTIALS.token,
    )
    reference = client.generate_db_auth_token(
        DBHostname="db.example.internal", Port=5433, DBUsername="monitoring_service", Region="us-gov-west-1"
    )
    ours = iam_auth.rds_token(
        credentials=CREDENTIALS,
        region="us-gov-west-1",
        host="db.example.internal",
        port=5433,
        user="monitoring_service",
    )
    assert _query(ours) == _query(reference)
    assert ours.split("?")[0] == reference.split("?")[0] == "db.example.internal:5433/"


def test_elasticache_token_is_a_presigned_connect_for_the_user_valid_15_minutes() -> None:
    token = iam_auth.elasticache_token(
        credentials=CREDENTIALS, region="us-west-2", replication_group="Prod-Cache-ABC", user="prod-monitoring-service"
    )
    assert token.startswith("prod-cache-abc/?")  # the group id in lower case, no scheme
    query = _query(token)
    assert query["Action"] == ["connect"]
    assert query["User"] == ["prod-monitoring-service"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"] == ["AKIDEXAMPLE/20261128/us-west-2/elasticache/aws4_request"]
    assert query["X-Amz-Date"] == ["20261128T120000Z"]
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Security-Token"] == ["session-token"]
    assert len(query["X-Amz-Signature"][0]) == 64


def test_tokens_are_signed_with_the_current_credentials() -> None:
    a = iam_auth.elasticache_token(credentials=CREDENTIALS, region="us-west-2", replication_group="g", user="u")
    rotated = Credentials("AKIDOTHER", "another-secret", "another-token")
    b = iam_auth.elasticache_token(credentials=rotated, region="us-west-2", replication_group="g", user="u")
    assert _query(a)["X-Amz-Signature"] != _query(b)["X-Amz-Signature"]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_cache_reuses_a_token_for_10_minutes_then_signs_a_new_one() -> None:
    clock, signed = _Clock(), []

    def sign() -> str:
        signed.append(clock.now)
        return f"token-{len(signed)}"

    cache = iam_auth.TokenCache(sign, clock=clock)
    assert cache.token() == "token-1"
    clock.now += 599
    assert cache.token() == "token-1"  # 5 minutes of validity left at least
    clock.now += 1
    assert cache.token() == "token-2"
    cache.invalidate()  # the server refused it
    assert cache.token() == "token-3"
    assert len(signed) == 3


def test_token_cache_refuses_a_refresh_after_the_token_expired() -> None:
    with pytest.raises(ValueError, match="before it expires"):
        iam_auth.TokenCache(lambda: "t", refresh_after=iam_auth.TOKEN_LIFETIME_SECONDS)
