"""ElastiCacheEngineVersion on plain templates: an offered version and node type pass; others name what to use."""

from __future__ import annotations

from typing import Any

from compliance.preflight.elasticache_engine_version import elasticache_engine_version
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _cache(version: Any, node_type: str = "cache.t4g.small") -> dict[str, Any]:
    return resource(
        "AWS::ElastiCache::ReplicationGroup",
        {"Engine": "valkey", "EngineVersion": version, "CacheNodeType": node_type},
    )


def test_an_offered_version_and_node_type_pass() -> None:
    assert_passes(check(elasticache_engine_version, {"Cache": _cache("8.1")}, "Cache"))


def test_a_version_elasticache_does_not_offer_names_versions_it_does() -> None:
    verdict = check(elasticache_engine_version, {"Cache": _cache("6.2")}, "Cache")
    assert_fails(verdict, "valkey-6.2", "ElastiCache valkey 6.2 is not offered; use one of ", "8.1")


def test_a_node_type_the_region_does_not_offer_fails() -> None:
    verdict = check(elasticache_engine_version, {"Cache": _cache("8.1", "cache.x9.huge")}, "Cache")
    assert_fails(verdict, "cache.x9.huge-us-west-2", "cache.x9.huge is not an ElastiCache node type in us-west-2")


def test_an_unresolved_version_must_be_written_as_a_literal() -> None:
    verdict = check(elasticache_engine_version, {"Cache": _cache({"Ref": "Version"})}, "Cache")
    assert_fails(verdict, "unresolved", "must be a literal")


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(elasticache_engine_version, {"Db": resource("AWS::RDS::DBInstance")}, "Db"))
