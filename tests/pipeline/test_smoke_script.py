"""The pipeline's smoke test signs its request to /ready and promotes only a stage whose dependencies all work."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from components.private_api import HEALTH_CHECK_ROUTE
from scripts import smoke_test
from tests.servers import LOCALHOST, free_port

READY = {
    "status": "ready",
    "environment": "dev",
    "checks": {
        "database": {"ready": True, "duration_ms": 12.0},
        "cache": {"ready": True, "duration_ms": 3.1},
        "stream": {"ready": True, "duration_ms": 40.2},
    },
}
CACHE_DOWN = {
    "status": "not ready",
    "environment": "dev",
    "failed": ["cache"],
    "checks": {
        "database": {"ready": True, "duration_ms": 12.0},
        "cache": {"ready": False, "duration_ms": 2000.0, "reason": "timeout", "detail": "no answer within 2 s"},
        "stream": {"ready": True, "duration_ms": 40.2},
    },
}


class _Api(BaseHTTPRequestHandler):
    answer: ClassVar[tuple[int, object]] = (200, READY)
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        _Api.seen.append((self.path, self.headers.get("Authorization", "")))
        status, body = _Api.answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    server = ThreadingHTTPServer((LOCALHOST, 0), _Api)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _Api.seen.clear()
    yield f"http://{LOCALHOST}:{server.server_address[1]}/dev/ready"
    server.shutdown()
    server.server_close()


def test_ready_passes_and_the_request_is_signed(api: str) -> None:
    _Api.answer = (200, READY)
    ready, detail = smoke_test.check(api, "us-west-2")
    assert ready, detail
    assert detail == "200 ready; cache: ready; database: ready; stream: ready"
    ((path, authorization),) = _Api.seen
    assert path == "/dev/ready"
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-west-2/execute-api/aws4_request" in authorization


def test_not_ready_fails_and_names_the_dependency_and_why(api: str) -> None:
    _Api.answer = (503, CACHE_DOWN)
    ready, detail = smoke_test.check(api, "us-west-2")
    assert not ready
    assert "cache: NOT READY (timeout: no answer within 2 s)" in detail
    assert "database: ready" in detail


def test_a_200_that_reports_a_failed_check_is_not_ready(api: str) -> None:
    _Api.answer = (200, {**READY, "checks": CACHE_DOWN["checks"]})
    assert smoke_test.check(api, "us-west-2")[0] is False


def test_an_api_gateway_error_is_not_ready(api: str) -> None:
    _Api.answer = (403, {"message": "User: anonymous is not authorized to perform: execute-api:Invoke"})
    ready, detail = smoke_test.check(api, "us-west-2")
    assert not ready
    assert detail.startswith("403: ")


def test_unreachable_api_is_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    ready, detail = smoke_test.check(f"http://{LOCALHOST}:{free_port()}/dev/ready", "us-west-2")
    assert not ready
    assert detail.startswith("unreachable: ")


def test_main_fails_the_stage_after_its_attempts_printing_what_is_not_ready(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _Api.answer = (503, CACHE_DOWN)
    monkeypatch.setattr(smoke_test, "ATTEMPTS", 2)
    monkeypatch.setattr(smoke_test, "WAIT_SECONDS", 0)
    monkeypatch.setattr(smoke_test, "api_region", lambda url: "us-west-2")
    monkeypatch.setenv("API_URL", "https://placeholder")
    monkeypatch.setattr(smoke_test, "signed_request", _redirect_to(api, smoke_test.signed_request))
    assert smoke_test.main() == 1
    err = capsys.readouterr().err
    assert "is not ready after 2 attempts" in err
    assert "cache: NOT READY (timeout" in err
    assert [path for path, _ in _Api.seen] == ["/dev/ready", "/dev/ready"]


def _redirect_to(api: str, sign: object) -> object:
    def signed(url: str, region: str) -> object:
        assert url == "https://placeholder/ready"
        return sign(api, region)  # type: ignore[operator]

    return signed


def test_the_step_calls_exactly_the_route_the_api_admits() -> None:
    assert (smoke_test.READY_METHOD, smoke_test.READY_PATH) == HEALTH_CHECK_ROUTE


def test_region_comes_from_the_api_url() -> None:
    assert smoke_test.api_region("https://abc123.execute-api.us-gov-west-1.amazonaws.com/prod/ready") == "us-gov-west-1"
    with pytest.raises(ValueError, match="not an API Gateway URL"):
        smoke_test.api_region("https://example.com/ready")
