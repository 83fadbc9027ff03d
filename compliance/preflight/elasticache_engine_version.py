"""ElastiCacheEngineVersion: a cache asks for an engine version and node type ElastiCache offers in its region."""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from config import aws_facts

_TYPES = frozenset({"AWS::ElastiCache::ReplicationGroup", "AWS::ElastiCache::CacheCluster"})


def elasticache_engine_version(resource: ResourceView, ctx: Context) -> Verdict:
    """Replication groups and cache clusters use a version and node type ElastiCache offers here."""
    if resource.type not in _TYPES:
        return Verdict.not_applicable()
    props = resource.properties
    engine = props.get("Engine") or "redis"
    version = props.get("EngineVersion")
    node_type = props.get("CacheNodeType")
    region = resource.stack.region
    versions = aws_facts.elasticache_engine_versions(str(engine))
    if version is not None:
        if not isinstance(version, str):
            return Verdict.fail("unresolved", "the engine version must be a literal so it can be checked at synth")
        if versions and version not in versions:
            return Verdict.fail(
                f"{engine}-{version}",
                f"ElastiCache {engine} {version} is not offered; use one of {', '.join(versions[-4:])}",
            )
    offered = aws_facts.elasticache_node_types(region)
    if isinstance(node_type, str) and offered is not None and node_type not in offered:
        return Verdict.fail(f"{node_type}-{region}", f"{node_type} is not an ElastiCache node type in {region}")
    return Verdict.ok()


RULE = PreflightRule(
    "ElastiCacheEngineVersion",
    _TYPES,
    elasticache_engine_version,
    "ElastiCache refuses versions and node types it does not offer in the region.",
    ("CM-6", "SI-2"),
    shortdesc="a cache version or node type ElastiCache does not offer",
)
