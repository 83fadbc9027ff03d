"""SelfContainedStage: a stage reads only the secrets and parameters it creates, or that config declares.

The failure report's task definition read `monitoring-db-credentials`, a secret that existed
only in the account the template was first tried in; a fresh account failed the deployment.
A stage that needs something from outside lists it under `external_prerequisites`.
"""

from __future__ import annotations

import re

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import intrinsics, render

_EXTERNAL_PATTERNS = (
    (re.compile(r"\{\{resolve:secretsmanager:([^:<}]+)"), "secret"),
    (re.compile(r":secretsmanager:[^:]*:[^:]*:secret:([^:<,\"}*?]+)"), "secret"),
    (re.compile(r"\{\{resolve:ssm(?:-secure)?:([^:<}]+)"), "SSM parameter"),
    (re.compile(r":ssm:[^:]*:[^:]*:parameter([^:<,\"}*?]+)"), "SSM parameter"),
)


def self_contained_stage(resource: ResourceView, ctx: Context) -> Verdict:
    """A stage refers only to what it creates, unless config declares the dependency as a prerequisite."""
    if not resource.stack.stage:
        return Verdict.not_applicable()
    return _named_dependency(resource, ctx) or _parameter_dependency(resource, ctx) or Verdict.ok()


def _named_dependency(resource: ResourceView, ctx: Context) -> Verdict | None:
    """A secret or parameter named in a dynamic reference or an ARN, which the app does not create."""
    text = render(resource.properties)
    for pattern, kind in _EXTERNAL_PATTERNS:
        for match in pattern.finditer(text):
            # IAM policies match a secret's random suffix with "-??????": the name is what precedes it.
            name = match.group(1).strip().rstrip("-")
            if name and name not in ctx.external_prerequisites:
                return Verdict.fail(
                    name,
                    f"refers to the {kind} {name!r}, which this app does not create, so a deployment into a fresh "
                    "account fails; create it in the stage (e.g. rds.Credentials.from_generated_secret) or list it "
                    "under external_prerequisites in the configuration",
                )
    return None


def _parameter_dependency(resource: ResourceView, ctx: Context) -> Verdict | None:
    """An SSM parameter read through a template parameter (`AWS::SSM::Parameter::Value<...>`)."""
    for reference in intrinsics(resource.properties):
        target = ctx.index.target(resource.stack, reference)
        if target is not None and str(target[2].get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
            name = str(target[2].get("Default"))
            if name not in ctx.external_prerequisites:
                return Verdict.fail(
                    name,
                    f"reads the SSM parameter {name!r}, which this app does not create; create it in the stage or "
                    "list it under external_prerequisites in the configuration",
                )
    return None


RULE = PreflightRule(
    "SelfContainedStage",
    frozenset({"*"}),
    self_contained_stage,
    "A stage that reads a secret or parameter it does not create cannot deploy into a fresh account.",
    ("CM-2", "CP-10"),
    shortdesc=(
        "a secret or SSM parameter the stage reads but does not create (unless listed under "
        "`external_prerequisites` in the configuration)"
    ),
)
