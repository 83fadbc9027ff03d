"""The pipeline's smoke test signs its request and judges the answer (against a loopback server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from scripts import smoke_test


class _Api(BaseHTTPRequestHandler):
    status = 200
    seen_authorization: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Api.seen_authorization.append(self.headers.get("Authorization", ""))
        body = json.dumps({"status": "ok" if self.status == 200 else "down"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.seen_authorization.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/dev/health"
    server.shutdown()
    server.server_close()


def test_healthy_answer_passes_and_the_request_is_signed(api: str) -> None:
    _Api.status = 200
    healthy, detail = smoke_test.check(api, "us-west-2")
    assert healthy, detail
    (authorization,) = _Api.seen_authorization
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-west-2/execute-api/aws4_request" in authorization


def test_unhealthy_answer_fails(api: str) -> None:
    _Api.status = 503
    healthy, detail = smoke_test.check(api, "us-west-2")
    assert not healthy
    assert detail.startswith("503")


def test_region_comes_from_the_api_url() -> None:
    assert (
        smoke_test.api_region("https://abc123.execute-api.us-gov-west-1.amazonaws.com/prod/health") == "us-gov-west-1"
    )
    with pytest.raises(ValueError, match="not an API Gateway URL"):
        smoke_test.api_region("https://example.com/health")
