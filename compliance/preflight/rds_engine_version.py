"""RDSEngineVersion: an RDS instance asks for an engine version and class RDS offers in its region.

The failure report's first rollback: PostgreSQL 15.4, fine when the design was written, was
closed to new instances by the time it deployed (and so was the fix, 15.8). Versions and
classes come from cfn-lint's copy of AWS's lists (`config.aws_facts`), so they move with the
pinned cfn-lint.
"""

from __future__ import annotations

import re

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from config import aws_facts

_SUGGESTED_CLASSES = re.compile(r"db\.(t4g\.medium|m7g\.large|r7g\.large|m6i\.large)$")


def rds_engine_version(resource: ResourceView, ctx: Context) -> Verdict:
    """The engine version exists, is open to new instances, and runs on the instance class in this region."""
    props = resource.properties
    if resource.type != "AWS::RDS::DBInstance" or props.get("DBClusterIdentifier"):
        return Verdict.not_applicable()
    engine, version, instance_class = props.get("Engine"), props.get("EngineVersion"), props.get("DBInstanceClass")
    if not isinstance(engine, str) or not isinstance(version, str):
        return Verdict.fail("unresolved", "engine and engine version must be literals so they can be checked at synth")
    versions = aws_facts.rds_engine_versions(engine)
    if not versions.valid:
        return Verdict.not_applicable()
    region = resource.stack.region
    if version in versions.deprecated:
        return Verdict.fail(
            f"{engine}-{version}",
            f"{engine} {version} is deprecated for new instances in {region}; "
            f"use one of {versions.suggestions(version)}",
        )
    if version not in versions.valid and not any(v.startswith(f"{version}.") for v in versions.current):
        return Verdict.fail(
            f"{engine}-{version}",
            f"{engine} {version} is not a version RDS offers; use one of {versions.suggestions(version)}",
        )
    if isinstance(instance_class, str):
        return _instance_class(engine, version, instance_class, region)
    return Verdict.ok()


def _instance_class(engine: str, version: str, instance_class: str, region: str) -> Verdict:
    """The class runs this engine version, and the region offers it for the engine."""
    classes = aws_facts.rds_instance_classes(engine, version)
    if classes is not None and instance_class not in classes:
        current_families = sorted(c for c in classes if _SUGGESTED_CLASSES.match(c))
        return Verdict.fail(
            f"{instance_class}-{engine}-{version}",
            f"{instance_class} does not run {engine} {version}; use a class such as {', '.join(current_families)}",
        )
    offered = aws_facts.rds_instance_classes_in_region(engine, region)
    if offered is not None and instance_class not in offered:
        return Verdict.fail(f"{instance_class}-{region}", f"{instance_class} is not offered for {engine} in {region}")
    return Verdict.ok()


RULE = PreflightRule(
    "RDSEngineVersion",
    frozenset({"AWS::RDS::DBInstance"}),
    rds_engine_version,
    "RDS refuses to create an instance at a version it no longer offers; the stack fails minutes in.",
    ("CM-6", "SI-2"),
    shortdesc=(
        "an engine version RDS does not offer or has deprecated for new instances (judged on cfn-lint's current "
        "data), or an instance class that does not run it in the region"
    ),
)
