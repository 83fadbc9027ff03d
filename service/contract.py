"""What the service and the platform that runs it agree on: the port it serves (HTTPS only) and its user.

The service reads its default port from here (`service.app`), the image build receives these as build
arguments of `service/Dockerfile`, and the Fargate service maps the port and runs the container as this
user. Standard library only: the image carries this module with the service.
"""

from __future__ import annotations

# The port the service serves HTTPS on inside its task (awsvpc: the task's own address); the load balancer's
# target group speaks TLS to it (service/tls.py).
PORT = 8080
# A numeric non-root UID and GID, so the orchestrator can verify "not root" without resolving a name.
USER_ID = 10001
GROUP_ID = 10001


def container_user() -> str:
    """The container's user as ECS and Docker write it: `UID:GID`."""
    return f"{USER_ID}:{GROUP_ID}"


def image_build_args() -> dict[str, str]:
    """The build arguments of `service/Dockerfile`, each named after the fact it carries."""
    return {"SERVICE_PORT": str(PORT), "SERVICE_UID": str(USER_ID), "SERVICE_GID": str(GROUP_ID)}
