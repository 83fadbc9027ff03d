"""Facts about AWS that configuration is checked against, read from cfn-lint's data.

cfn-lint ships AWS's own lists (regions and their availability zones, RDS and
ElastiCache engine versions, which versions are deprecated for new instances,
which instance classes each version runs on) and refreshes them with every
release. Reading them here, rather than typing a list by hand, is what keeps a
version such as PostgreSQL 15.4 (fine when a document was written, refused by
RDS today) from ever reaching CloudFormation: pin cfn-lint, and the facts move
with it.

Nothing here imports the CDK, nor cfn-lint itself (its package imports every
rule it has: most of a second), only its data files, so a configuration file is
validated in well under a second, before the jsii runtime starts.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@cache
def cfn_lint_folder() -> Path:
    """Where the installed cfn-lint package lives, found without importing it."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("cfn-lint is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations)))


def _schemas() -> Path:
    return cfn_lint_folder() / "data" / "schemas"


def _extension(resource_folder: str, name: str) -> dict[str, Any]:
    text = (_schemas() / "extensions" / resource_folder / name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _engine_matches(condition: dict[str, Any], engine: str) -> bool:
    spec = condition.get("Engine", {})
    if "const" in spec:
        return bool(spec["const"] == engine)
    if "enum" in spec:
        return engine in spec["enum"]
    return False


def _version_key(version: str) -> tuple[Any, ...]:
    """Sort '17.10' after '17.9' and '18' after both; suffixes such as '-rds.2025' sort last."""
    parts = re.split(r"[.\-]", version)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


@cache
def availability_zones() -> dict[str, tuple[str, ...]]:
    """Every region cfn-lint knows, with its availability zones (cfn-lint's table, refreshed from AWS)."""
    table = table_in_source()
    if table is None:  # the table moved or is computed now: take it from cfn-lint itself (tests/config says so)
        from cfnlint.helpers import AVAILABILITY_ZONES

        table = AVAILABILITY_ZONES
    return {region: tuple(zones) for region, zones in table.items()}


def table_in_source() -> dict[str, list[str]] | None:
    """cfn-lint's `AVAILABILITY_ZONES`, read as the literal it is written as in `cfnlint/helpers.py`, or None.

    Importing the module would import the whole package; reading the literal takes a few milliseconds.
    """
    try:
        tree = ast.parse((cfn_lint_folder() / "helpers.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["AVAILABILITY_ZONES"]
            and isinstance(node.value, ast.Dict)
        ):
            try:
                table = ast.literal_eval(node.value)
            except ValueError:
                return None
            return table if isinstance(table, dict) else None
    return None


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (GovCloud, China and the isolated regions differ)."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("us-isof-"):
        return "aws-iso-f"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("eu-isoe-"):
        return "aws-iso-e"
    if region.startswith("eusc-"):
        return "aws-eusc"
    return "aws"


@dataclass(frozen=True)
class EngineVersions:
    """The versions AWS lists for one engine, and which of those are closed to new instances."""

    engine: str
    valid: tuple[str, ...]
    deprecated: frozenset[str]

    @property
    def current(self) -> tuple[str, ...]:
        """Versions a new instance can be created with today, oldest first."""
        return tuple(v for v in self.valid if v not in self.deprecated)

    def suggestions(self, version: str, count: int = 4) -> str:
        """A short, human list of current versions: same major first, then the newest majors."""
        major = version.split(".")[0]
        plain = [v for v in self.current if re.fullmatch(r"\d+(\.\d+)*", v)]
        same_major = [v for v in plain if v.split(".")[0] == major]
        newest: dict[str, str] = {}
        for v in plain:
            newest[v.split(".")[0]] = v
        picks = same_major[-count:] + [v for m, v in newest.items() if m != major][-2:]
        return ", ".join(dict.fromkeys(picks))


@cache
def rds_engine_versions(engine: str) -> EngineVersions:
    """RDS versions for `engine` ('postgres', 'mysql', ...), as AWS lists them for DB instances."""
    folder = "aws_rds_dbinstance"
    valid: list[str] = []
    for rule in _extension(folder, "engine_version.json")["allOf"]:
        if _engine_matches(rule["if"]["properties"], engine) and "EngineVersion" in rule["if"]["properties"]:
            valid = list(rule["then"]["properties"]["EngineVersion"]["enum"])
    deprecated: set[str] = set()
    for rule in _extension(folder, "engine_version_deprecated.json")["allOf"]:
        props = rule["if"]["properties"]
        if _engine_matches(props, engine):
            deprecated.update(props["EngineVersion"]["enum"])
    return EngineVersions(engine, tuple(sorted(valid, key=_version_key)), frozenset(deprecated))


@cache
def rds_instance_classes(engine: str, version: str) -> frozenset[str] | None:
    """Instance classes AWS offers for an engine version, or None where the data says nothing."""
    allowed: set[str] = set()
    found = False
    for rule in _extension("aws_rds_dbinstance", "db_instance_class.json")["allOf"]:
        props = rule["if"]["properties"]
        pattern = props.get("EngineVersion", {}).get("pattern")
        if _engine_matches(props, engine) and pattern and re.match(pattern, version):
            found = True
            allowed.update(rule["then"]["properties"]["DBInstanceClass"]["enum"])
    return frozenset(allowed) if found else None


@cache
def rds_instance_classes_in_region(engine: str, region: str) -> frozenset[str] | None:
    """Instance classes a region offers for an engine, or None where the data has no entry."""
    regional = _extension("aws_rds_dbinstance", "dbinstanceclass_enum.json").get(region)
    if regional is None:
        return None
    allowed: set[str] = set()
    for rule in regional["allOf"]:
        if _engine_matches(rule["if"]["properties"], engine):
            allowed.update(rule["then"]["properties"]["DBInstanceClass"]["enum"])
    return frozenset(allowed) or None


@cache
def elasticache_engine_versions(engine: str) -> tuple[str, ...]:
    """ElastiCache versions for `engine` ('valkey', 'redis', 'memcached')."""
    for rule in _extension("aws_elasticache_cachecluster", "engine_version.json")["allOf"]:
        props = rule["if"]["properties"]
        if _engine_matches(props, engine) and "EngineVersion" in props:
            return tuple(sorted(rule["then"]["properties"]["EngineVersion"]["enum"], key=_version_key))
    return ()


@cache
def elasticache_node_types(region: str) -> frozenset[str] | None:
    """The cache node types a region offers, or None where the data has no entry."""
    regional = _extension("aws_elasticache_cachecluster", "cachenodetype_enum.json").get(region)
    return frozenset(regional["enum"]) if regional else None


@cache
def _provider_types(region: str) -> frozenset[str]:
    text = (_schemas() / "providers" / f"{region}.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text))


def resource_type_offered(region: str, resource_type: str) -> bool:
    """Whether CloudFormation offers `resource_type` in `region` (cfn-lint's per-region schema list)."""
    try:
        return resource_type in _provider_types(region)
    except FileNotFoundError:
        return False
