"""Smoke test of one deployed stage: its API answers GET /health with 200 and status "ok".

Runs as the pipeline's post-deployment step with API_URL taken from the stage's
outputs. The API uses IAM authorisation, so the request is signed (SigV4) with
the step's own role; the API's resource policy admits the pipeline account for
this one method. Retries briefly, since a new deployment can take a minute to
register its tasks behind the load balancer.
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
    """(healthy, what the API answered) for one signed GET of `url`."""
    try:
        with urllib.request.urlopen(signed_request(url, region), timeout=10) as response:
            body = json.loads(response.read().decode("utf-8"))
            return response.status == 200 and body.get("status") == "ok", f"{response.status} {body}"
    except urllib.error.HTTPError as error:
        return False, f"{error.code} {error.read()[:200]!r}"
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        return False, str(error)


def main() -> int:
    base = os.environ.get("API_URL", "")
    if not base.startswith("https://"):
        print(f"API_URL must be the stage's https API URL, got {base!r}", file=sys.stderr)
        return 2
    url = base.rstrip("/") + "/health"
    region = api_region(url)
    for attempt in range(1, ATTEMPTS + 1):
        healthy, detail = check(url, region)
        print(f"attempt {attempt}: GET {url} -> {detail}")
        if healthy:
            return 0
        time.sleep(WAIT_SECONDS)
    print(f"{url} did not answer healthy after {ATTEMPTS} attempts", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
