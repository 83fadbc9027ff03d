"""TrustOutsideServices: a role trusts no AWS service the app does not use.

A role's trust policy decides who may act as it. The services this app runs its roles in are few
(Lambda, ECS tasks, CodeBuild, CodePipeline, API Gateway, AWS Backup, RDS Enhanced Monitoring, VPC
Flow Logs, CloudTrail, AWS Config); `data/trusted-service-principals.tsv` lists them, each with the
reason the app needs it, read from a synth of the fixture app. A commit that lets any other service
assume a role (`sagemaker.amazonaws.com`, `ec2.amazonaws.com`, ...) adds a way to use the role's
permissions that nothing in the app calls for, and reaches a stage, Dev included, without anyone
reviewing it as a trust change. Principals are matched in every partition's form:
`<service>.amazonaws.com` (commercial and GovCloud), `<service>.amazonaws.com.cn` (China), the CDK's
`<service>.<AWS::URLSuffix>`, and a regional `<service>.<region>.amazonaws.com`.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources
from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render

# The partition's domain as written or as the CDK joins it, after an optional region.
_SUFFIX = re.compile(
    r"(\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]|\.<AWS::Region>)?\.(amazonaws\.com(\.cn)?|<AWS::URLSuffix>)$"
)


@cache
def trusted_services() -> dict[str, str]:
    """Service -> why the app's roles trust it, from data/trusted-service-principals.tsv."""
    text = resources.files("compliance.data").joinpath("trusted-service-principals.tsv").read_text("utf-8")
    return {row["service"]: row["reason"] for row in csv.DictReader(text.splitlines(), delimiter="\t")}


def service_of(principal: str) -> str:
    """The service a service principal names (`monitoring.rds.amazonaws.com` -> `monitoring.rds`), or the
    principal itself where it has no partition's domain."""
    return _SUFFIX.sub("", principal) if _SUFFIX.search(principal) else principal


def trust_outside_services(resource: ResourceView, ctx: Context) -> Verdict:
    """Every service the role's trust policy names is one of the services the app uses."""
    del ctx  # the allow-list is data, not the app's other templates
    principals = [
        p for statement in _allows(resource.properties.get("AssumeRolePolicyDocument")) for p in _services(statement)
    ]
    if not principals:
        return Verdict.not_applicable()
    for principal in principals:
        if service_of(principal) not in trusted_services():
            return Verdict.fail(
                principal,
                f"role {resource.logical_id} trusts the service principal {principal}, which none of the app's "
                "roles needs: that service could act with the role's permissions. Trust one of the services the "
                "app uses (compliance/data/trusted-service-principals.tsv), or, if the app now runs a role in "
                "that service, add it there with its reason",
            )
    return Verdict.ok()


def _allows(document: Any) -> list[dict[str, Any]]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    statements = statements if isinstance(statements, list) else [statements]
    return [s for s in statements if isinstance(s, dict) and s.get("Effect") == "Allow"]


def _services(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    services = principal.get("Service", []) if isinstance(principal, dict) else []
    return [render(s) for s in (services if isinstance(services, list) else [services])]


RULE = PreflightRule(
    "TrustOutsideServices",
    frozenset({"AWS::IAM::Role"}),
    trust_outside_services,
    "A role whose trust policy names an AWS service principal that none of the app's roles needs, so that "
    "service could act with the role's permissions.",
    ("AC-3", "AC-6"),
    shortdesc=(
        "a role whose trust policy names an AWS service principal (in any partition's form) that is none of the "
        "services the app runs its roles in, listed with their reasons in `compliance/data/trusted-service-"
        "principals.tsv`"
    ),
)
