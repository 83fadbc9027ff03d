"""Plain-template fixtures for Preflight rule tests: one stack of a stage, no assembly on disk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight import Context, Verdict
from compliance.preflight.base import RuleFunction
from compliance.references import TemplateIndex

STACK = "Pipeline/Dev/Data"  # stage "Dev", stack name "Dev-Data"
REGION = "us-west-2"


def index_of(
    resources: Mapping[str, dict[str, Any]],
    *,
    stack: str = STACK,
    region: str = REGION,
    others: Mapping[str, dict[str, Any]] | None = None,
) -> TemplateIndex:
    """An index of one stack holding `resources` (logical id -> template entry), plus whole `others` templates."""
    return TemplateIndex.from_templates({stack: {"Resources": dict(resources)}, **(others or {})}, region=region)


def check(
    rule: RuleFunction,
    resources: Mapping[str, dict[str, Any]],
    logical_id: str,
    *,
    stack: str = STACK,
    region: str = REGION,
    others: Mapping[str, dict[str, Any]] | None = None,
    prerequisites: frozenset[str] = frozenset(),
) -> Verdict:
    """`rule`'s verdict on resource `logical_id` of a stack holding `resources`."""
    index = index_of(resources, stack=stack, region=region, others=others)
    return rule(resource_at(index, f"{stack}/{logical_id}"), Context(index=index, external_prerequisites=prerequisites))


def resource_at(index: TemplateIndex, path: str) -> ResourceView:
    found = index.resource(path)
    assert found is not None, f"no resource at {path}"
    return found


def resource(resource_type: str, properties: dict[str, Any] | None = None, **attributes: Any) -> dict[str, Any]:
    """A template entry: `resource("AWS::Kinesis::Stream", {"Name": "x"}, DeletionPolicy="Retain")`."""
    return {"Type": resource_type, "Properties": properties or {}, **attributes}


def assert_fails(verdict: Verdict, finding: str, *fragments: str) -> None:
    """The verdict is a finding `finding` whose message contains every fragment (what to write instead)."""
    assert verdict.applies, verdict
    assert not verdict.compliant, verdict
    assert verdict.finding == finding, verdict
    for fragment in fragments:
        assert fragment in verdict.message, f"{fragment!r} not in {verdict.message!r}"


def assert_passes(verdict: Verdict) -> None:
    assert verdict.applies, verdict
    assert verdict.compliant, verdict


def assert_not_applicable(verdict: Verdict) -> None:
    assert not verdict.applies, verdict
