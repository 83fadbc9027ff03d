"""The permissions boundary every IAM role of the app carries: one customer managed policy per account
(AC-6, AC-6(10), CM-5: no role the templates create can act beyond it or lift it).

The app names it once, through the CDK's own context key (`@aws-cdk/core:permissionsBoundary`):
every stack then sets it on every `AWS::IAM::Role` and `AWS::IAM::User` it synthesizes, library
roles and custom-resource providers included, with the ARN of the stack's own account. `make
bootstrap-policy` writes its document next to the execution policies, and an administrator creates
it in each account before the first deploy, the same way (scripts/bootstrap_policy.py).
"""

from __future__ import annotations

from typing import Any

NAME = "monitoring-permissions-boundary"
# The CDK's context key: a `{"name": ...}` becomes `arn:<partition>:iam::<stack account>:policy/<name>` per stack.
CONTEXT_KEY = "@aws-cdk/core:permissionsBoundary"


def cdk_context() -> dict[str, Any]:
    """The app's context entry that applies the boundary to every role of every stack."""
    return {CONTEXT_KEY: {"name": NAME}}


def arn(partition: str, account: str) -> str:
    """The boundary policy's ARN in `account`, as the synthesized roles name it."""
    return f"arn:{partition}:iam::{account}:policy/{NAME}"
