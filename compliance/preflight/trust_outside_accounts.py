"""TrustOutsideAccounts: a role trusts no AWS account outside the app's own.

The accounts this app deploys to (the pipeline's and each environment's) are the only ones a role of
its templates may name as a principal that can assume it. A role trusted by any other account, a
literal account id or an `arn:...:iam::<account>:...` principal, can be assumed from outside the
configuration; a commit that adds one to a stage, Dev included, would reach production data paths
before anyone reviewed it as a trust change. The app's accounts are read from the synthesized stacks
themselves (their `env`), so the rule needs nothing but the assembly. A trust that is really needed (a
security tooling account, say) is acknowledged with its reason.
"""

from __future__ import annotations

import re
from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render

_ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


def trust_outside_accounts(resource: ResourceView, ctx: Context) -> Verdict:
    """Every AWS principal of the role's trust policy is an account of the app (or its own, by reference)."""
    document = resource.properties.get("AssumeRolePolicyDocument")
    known = {stack.account for stack in ctx.index.stacks if stack.account}
    if not isinstance(document, dict) or not known:
        return Verdict.not_applicable()
    for statement in _allows(document):
        for account in _ACCOUNT_ID.findall(render(_aws_principals(statement))):
            if account not in known:
                return Verdict.fail(
                    account,
                    f"trusts account {account}, which is none of the app's accounts (the pipeline's and its "
                    "environments'): anyone there allowed sts:AssumeRole could act as this role; trust only the "
                    "app's accounts, or acknowledge the trust with its reason",
                )
    return Verdict.ok()


def _allows(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return [s for s in statements if isinstance(s, dict) and s.get("Effect") == "Allow"]


def _aws_principals(statement: dict[str, Any]) -> Any:
    """The statement's `AWS` principals (a literal `*` principal is the wildcard rules' business)."""
    principal = statement.get("Principal")
    return principal.get("AWS", []) if isinstance(principal, dict) else []


RULE = PreflightRule(
    "TrustOutsideAccounts",
    frozenset({"AWS::IAM::Role"}),
    trust_outside_accounts,
    "A role whose trust policy names an AWS account that is none of the app's (the pipeline's and its "
    "environments'), so it can be assumed from outside the configuration.",
    ("AC-3", "AC-6"),
    shortdesc=(
        "a role whose trust policy names an AWS account that is none of the app's (the pipeline's and its "
        "environments', read from the synthesized stacks), so it can be assumed from outside the configuration"
    ),
)
