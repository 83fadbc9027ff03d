"""Smoke test of one deployed stage: GET /ready through its API answers 200, every dependency ready.

Runs as the pipeline's post-deployment step with API_URL taken from the stage's
outputs. `/ready` makes the service sign in to its database and cache and
describe its stream, so a 200 proves the whole path: API Gateway, the VPC link
and load balancer, the running tasks, their security-group rules, KMS grants,
IAM database and cache authentication, TLS to both, and the stream permission.
The API uses IAM authorisation, so the request is signed (SigV4) with the step's
own role; the API's resource policy admits the pipeline account for this one
method. Retries for a few minutes, since a new deployment takes time to register
its tasks; then fails, printing each dependency that is not ready and why, and
the stage is not promoted.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

ATTEMPTS = 10
WAIT_SECONDS = 15
# The one route the step calls; the API's resource policy and the step's role admit exactly this.
READY_METHOD, READY_PATH = "GET", "/ready"


def api_region(url: str) -> str:
    """The region of an execute-api URL: https://<api-id>.execute-api.<region>.<suffix>/<stage>/."""
    host = urlparse(url).hostname or ""
    parts = host.split(".")
    if len(parts) < 4 or parts[1] != "execute-api":
        raise ValueError(f"{url!r} is not an API Gateway URL")
    return parts[2]


def signed_request(url: str, region: str) -> urllib.request.Request:
    """A GET request to `url` signed for execute-api with the credentials the environment provides."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import Session

    credentials = Session().get_credentials()
    if credentials is None:
        raise SystemExit("no AWS credentials: the smoke test runs with the pipeline step's role")
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return urllib.request.Request(url, headers=dict(request.headers.items()), method="GET")


def check(url: str, region: str) -> tuple[bool, str]:
    """(ready, what the API answered) for one signed GET of `url`."""
    try:
        with urllib.request.urlopen(signed_request(url, region), timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            status, raw = error.code, error.read()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        return False, f"unreachable: {reason}"
    return _verdict(status, raw)


def _verdict(status: int, raw: bytes) -> tuple[bool, str]:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False, f"{status}: not a readiness answer ({raw[:120]!r})"
    checks = body.get("checks") if isinstance(body, dict) else None
    if not isinstance(checks, dict):
        # API Gateway's own errors (403 for a refused signature, 5xx for an unreachable backend) land here.
        return False, f"{status}: {json.dumps(body)[:200]}"
    lines = [
        f"{name}: ready"
        if result.get("ready")
        else f"{name}: NOT READY ({result.get('reason')}: {result.get('detail')})"
        for name, result in sorted(checks.items())
    ]
    ready = status == 200 and body.get("status") == "ready" and all(r.get("ready") for r in checks.values())
    return ready, f"{status} {body.get('status')}; " + "; ".join(lines)


def main() -> int:
    base = os.environ.get("API_URL", "")
    if not base.startswith("https://"):
        print(f"API_URL must be the stage's https API URL, got {base!r}", file=sys.stderr)
        return 2
    url = base.rstrip("/") + READY_PATH
    region = api_region(url)
    detail = ""
    for attempt in range(1, ATTEMPTS + 1):
        ready, detail = check(url, region)
        print(f"attempt {attempt}: {READY_METHOD} {url} -> {detail}")
        if ready:
            return 0
        if attempt < ATTEMPTS:
            time.sleep(WAIT_SECONDS)
    print(f"{url} is not ready after {ATTEMPTS} attempts: {detail}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
