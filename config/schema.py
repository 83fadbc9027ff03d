"""The typed configuration of the pipeline and of each environment it deploys to.

Every value a stack uses comes from here, validated once at the top of the app:
constructs and stacks take these objects as keyword arguments and never read a
file, an environment variable or CDK context themselves. Facts about AWS
(regions, zones, engine versions, instance classes) are checked against
`config.aws_facts`, which reads cfn-lint's current data.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from config import aws_facts

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

# Fargate's valid CPU units and, for each, the memory sizes (MiB) it accepts.
_FARGATE_MEMORY: dict[int, range | tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}

STAGE_ORDER = ("dev", "staging", "prod")
PROTECTED_STAGES = ("staging", "prod")


def _problem(field: str, message: str) -> PydanticCustomError:
    """An error about `field` (a name relative to the model that raises it).

    The loader prints "<field path>: <value> <message>", so messages start lower-case.
    Errors raised by a model validator carry the field name in their type, so the
    loader can point at the field rather than at the whole model.
    """
    return PydanticCustomError(f"field:{field}", message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


AccountId = Annotated[str, Field(description="12-digit AWS account id, quoted in YAML")]


def _check_account(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted id as a number and drops leading zeros: insist on quotes.
        raise _problem("account", 'must be quoted, e.g. account: "012345678901"')
    if isinstance(value, str) and not re.fullmatch(r"\d{12}", value):
        raise _problem("account", "is not a 12-digit AWS account id")
    return value


def _check_region(value: str) -> str:
    if value not in aws_facts.availability_zones():
        raise _problem("region", "is not an AWS region (see cfn-lint's region list)")
    return value


class DatabaseEngine(StrEnum):
    POSTGRES = "postgres"


class DatabaseConfig(_Strict):
    """RDS PostgreSQL sizing and resilience for one environment."""

    engine_version: str = Field(description="PostgreSQL version AWS offers for new instances, e.g. '17.9'")
    instance_type: str = Field(description="RDS instance class, e.g. 'db.t4g.medium'")
    multi_az: bool
    allocated_storage_gib: int = Field(ge=20, le=65536)
    max_allocated_storage_gib: int | None = Field(default=None, ge=21, le=65536)
    backup_retention_days: int = Field(ge=1, le=35)
    port: int = Field(default=5433, ge=1150, le=65535)

    @field_validator("engine_version")
    @classmethod
    def _current_version(cls, value: str) -> str:
        versions = aws_facts.rds_engine_versions(DatabaseEngine.POSTGRES)
        if value in versions.deprecated:
            raise _problem(
                "engine_version",
                f"is deprecated for new RDS PostgreSQL instances; use one of {versions.suggestions(value)}",
            )
        if value not in versions.valid:
            raise _problem(
                "engine_version", f"is not an RDS PostgreSQL version; use one of {versions.suggestions(value)}"
            )
        return value

    @field_validator("instance_type")
    @classmethod
    def _instance_class_shape(cls, value: str) -> str:
        if not re.fullmatch(r"db\.[a-z0-9-]+\.[a-z0-9]+", value):
            raise _problem("instance_type", "is not an RDS instance class (write it as 'db.<family>.<size>')")
        return value

    @model_validator(mode="after")
    def _class_runs_version(self) -> DatabaseConfig:
        classes = aws_facts.rds_instance_classes(DatabaseEngine.POSTGRES, self.engine_version)
        if classes is not None and self.instance_type not in classes:
            raise _problem(
                "instance_type",
                f"does not run PostgreSQL {self.engine_version} on RDS",
            )
        if self.max_allocated_storage_gib is not None and self.max_allocated_storage_gib <= self.allocated_storage_gib:
            raise _problem("max_allocated_storage_gib", "must be larger than allocated_storage_gib")
        return self


class CacheEngine(StrEnum):
    VALKEY = "valkey"
    REDIS = "redis"


class CacheConfig(_Strict):
    """ElastiCache replication group sizing for one environment."""

    engine: CacheEngine = Field(default=CacheEngine.VALKEY, strict=False)
    engine_version: str = "8.1"
    node_type: str = Field(description="ElastiCache node type, e.g. 'cache.t4g.small'")
    replicas: int = Field(ge=0, le=5)
    snapshot_retention_days: int = Field(default=15, ge=15, le=35)
    port: int = Field(default=6380, ge=1024, le=65535)

    @model_validator(mode="after")
    def _known_version(self) -> CacheConfig:
        versions = aws_facts.elasticache_engine_versions(self.engine.value)
        if self.engine_version not in versions:
            raise _problem(
                "engine_version",
                f"is not an ElastiCache {self.engine.value} version; use one of {', '.join(versions[-4:])}",
            )
        return self


class StreamConfig(_Strict):
    """Kinesis data stream capacity and retention for one environment."""

    mode: Literal["on-demand", "provisioned"] = "on-demand"
    shard_count: int | None = Field(default=None, ge=1, le=500)
    retention_hours: int = Field(ge=24, le=8760)

    @model_validator(mode="after")
    def _shards_match_mode(self) -> StreamConfig:
        if self.mode == "provisioned" and self.shard_count is None:
            raise _problem("shard_count", "is required when mode is 'provisioned'")
        if self.mode == "on-demand" and self.shard_count is not None:
            raise _problem("shard_count", "must be omitted when mode is 'on-demand'")
        return self


class ServiceConfig(_Strict):
    """Fargate task size and count for one environment."""

    cpu: int
    memory_mib: int
    desired_count: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _fargate_size(self) -> ServiceConfig:
        if self.cpu not in _FARGATE_MEMORY:
            raise _problem("cpu", f"is not a Fargate CPU size; use one of {', '.join(map(str, _FARGATE_MEMORY))}")
        if self.memory_mib not in _FARGATE_MEMORY[self.cpu]:
            allowed = _FARGATE_MEMORY[self.cpu]
            raise _problem("memory_mib", f"is not valid with cpu {self.cpu}; use {min(allowed)} to {max(allowed)} MiB")
        return self


# Fields renamed so that each name carries its unit; an old name gets a message instead of "extra field".
_RENAMED_THRESHOLDS = {
    "database_connections": "database_connections_count",
    "cache_evictions": "cache_evictions_per_5_minutes",
    "stream_throttled_records": "stream_throttled_records_per_5_minutes",
}


def _percent(default: float, what: str) -> Any:
    # Below 100: a rate alarm fires when the value is above the threshold, and no rate exceeds 100 %.
    return Field(default=default, gt=0, lt=100, strict=False, description=f"percent (0-100) {what}")


class AlarmThresholds(_Strict):
    """When the on-call engineer is paged. Defaults suit a small service; tune them per environment.

    Each name ends in its unit: `_percent` is 0 to 100 (the API's 4xx/5xx rates are API Gateway's
    fraction of requests times 100), `_ms`, `_seconds`, `_gib` and `_mib` are what they say, `_count`
    is a number at one moment, and `_per_5_minutes` a number summed over the alarm's 5-minute period.
    """

    api_5xx_percent: float = _percent(1.0, "of the API's requests answered 5xx, over 5 minutes")
    api_4xx_percent: float = _percent(10.0, "of the API's requests answered 4xx, over 5 minutes")
    api_latency_p99_ms: int = Field(
        default=2000, ge=50, lt=29000, description="milliseconds: the API's p99 latency over 5 minutes"
    )
    service_cpu_percent: float = _percent(80.0, "CPU of the service's tasks, average over 5 minutes")
    service_memory_percent: float = _percent(80.0, "memory of the service's tasks, average over 5 minutes")
    database_cpu_percent: float = _percent(80.0, "CPU of the database instance, average over 5 minutes")
    database_free_storage_gib: int = Field(default=5, ge=1, description="GiB: alarm when free storage falls below")
    database_connections_count: int = Field(
        default=200, ge=1, description="connections: alarm when more are open at once (maximum over 5 minutes)"
    )
    cache_cpu_percent: float = _percent(80.0, "engine CPU of the busiest cache node, maximum over 5 minutes")
    cache_min_freeable_memory_mib: int = Field(
        default=256, ge=1, description="MiB: alarm when the fullest cache node has less freeable memory"
    )
    cache_evictions_per_5_minutes: int = Field(
        default=1000, ge=0, description="keys evicted by the cache in 5 minutes, all nodes together"
    )
    cache_replication_lag_seconds: float = Field(
        default=5.0, gt=0, strict=False, description="seconds a cache replica trails the primary (worst replica)"
    )
    stream_iterator_age_seconds: int = Field(
        default=300, ge=1, description="seconds: age of the oldest record a stream consumer has not read"
    )
    stream_throttled_records_per_5_minutes: int = Field(
        default=10, ge=0, description="records the stream refused (throttled) in 5 minutes"
    )
    service_errors_per_5_minutes: int = Field(
        default=10, ge=1, description="5xx answers the service logged in 5 minutes"
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for old, new in _RENAMED_THRESHOLDS.items():
                if old in data:
                    raise _problem(old, f"was renamed to {new}: the unit is now part of the name")
        return data


class EnvironmentConfig(_Strict):
    """One deployment target: where it runs and how big and how protected it is."""

    name: str = Field(description="set by the loader from the key under `environments`")
    account: AccountId
    region: str
    availability_zones: tuple[str, ...] = Field(min_length=2, max_length=6, strict=False)
    vpc_cidr: str
    database: DatabaseConfig
    cache: CacheConfig
    stream: StreamConfig
    service: ServiceConfig
    log_retention_days: int
    protect_data: bool
    alarm_emails: tuple[str, ...] = Field(default=(), strict=False)
    alarms: AlarmThresholds = AlarmThresholds()
    account_baseline: bool = Field(
        default=False,
        description="deploy AWS Config with the FedRAMP Moderate conformance pack, Security Hub (NIST 800-53 R5), "
        "GuardDuty and a multi-region CloudTrail into the account; off where a landing zone already does it",
    )
    external_prerequisites: tuple[str, ...] = Field(
        default=(),
        strict=False,
        description="secrets or SSM parameters the stage reads but does not create; listed in the report",
    )

    _account = field_validator("account", mode="before")(_check_account)
    _region = field_validator("region")(_check_region)

    @field_validator("availability_zones")
    @classmethod
    def _zones_in_region(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        region = info.data.get("region")
        if region is None:
            return value  # the region's own error is reported
        known = aws_facts.availability_zones()[region]
        for zone in value:
            if zone not in known:
                raise _problem(
                    "availability_zones",
                    f"contains {zone!r}, which is not a zone of {region} (its zones: {', '.join(known)})",
                )
        if len(set(value)) != len(value):
            raise _problem("availability_zones", "lists a zone twice")
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise _problem("vpc_cidr", "is not an IPv4 network in CIDR form (e.g. 10.10.0.0/16)") from None
        if not 16 <= network.prefixlen <= 20:
            # Three zones of /22 application and /24 data subnets need at least a /20.
            raise _problem("vpc_cidr", "must be a /16 to /20 network")
        if not network.is_private:
            raise _problem("vpc_cidr", "must be a private (RFC 1918) range")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise _problem("log_retention_days", "is not a CloudWatch Logs retention period (e.g. 365, 731, 1096)")
        return value

    @field_validator("alarm_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for email in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise _problem("alarm_emails", f"contains {email!r}, which is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _production_is_protected(self) -> EnvironmentConfig:
        # What is approved in staging ships to prod: both keep their data and survive a zone outage.
        if self.name in PROTECTED_STAGES:
            if not self.protect_data:
                raise _problem("protect_data", f"must be true for {self.name}")
            if not self.database.multi_az:
                raise _problem("database.multi_az", f"must be true for {self.name}")
            if self.cache.replicas < 1:
                raise _problem("cache.replicas", f"must be at least 1 for {self.name} (Multi-AZ failover)")
        return self

    @model_validator(mode="after")
    def _subnets_fit(self) -> EnvironmentConfig:
        # One /22 application and one /24 data subnet per zone (see stacks/network.py).
        needed = len(self.availability_zones) * (2**10 + 2**8)
        available = ipaddress.IPv4Network(self.vpc_cidr).num_addresses
        if needed > available:
            raise _problem(
                "vpc_cidr",
                f"has {available} addresses but {len(self.availability_zones)} zones need {needed} "
                "(a /22 and a /24 per zone); use a larger network or fewer zones",
            )
        return self

    @model_validator(mode="after")
    def _offered_in_region(self) -> EnvironmentConfig:
        offered = aws_facts.rds_instance_classes_in_region(DatabaseEngine.POSTGRES, self.region)
        if offered is not None and self.database.instance_type not in offered:
            raise _problem("database.instance_type", f"is not offered for PostgreSQL in {self.region}")
        node_types = aws_facts.elasticache_node_types(self.region)
        if node_types is not None and self.cache.node_type not in node_types:
            raise _problem("cache.node_type", f"is not an ElastiCache node type offered in {self.region}")
        return self

    @property
    def partition(self) -> str:
        return aws_facts.partition_of(self.region)

    @property
    def stage_id(self) -> str:
        """The construct id of this environment's stage: 'Dev', 'Staging', 'Prod'."""
        return self.name.capitalize()


class PipelineConfig(_Strict):
    """Where the pipeline itself lives and which repository branch drives it."""

    account: AccountId
    region: str
    repository: str = Field(description="owner/name of the source repository")
    branch: str = "main"
    connection_arn: str
    approval_emails: tuple[str, ...] = Field(default=(), strict=False)

    _account = field_validator("account", mode="before")(_check_account)
    _region = field_validator("region")(_check_region)

    @field_validator("repository")
    @classmethod
    def _owner_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", value):
            raise _problem("repository", "is not of the form owner/name")
        return value

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", value) or value.startswith("/") or ".." in value:
            raise _problem("branch", "is not a git branch name")
        return value

    @model_validator(mode="after")
    def _connection(self) -> PipelineConfig:
        match = re.fullmatch(
            r"arn:(aws[a-z-]*):(codestar-connections|codeconnections):([a-z0-9-]+):(\d{12}):connection/[0-9a-f-]{36}",
            self.connection_arn,
        )
        if not match:
            raise _problem(
                "connection_arn",
                "is not a CodeConnections connection ARN "
                "(arn:<partition>:codeconnections:<region>:<account>:connection/<uuid>)",
            )
        partition, _, region, account = match.groups()
        if partition != aws_facts.partition_of(self.region) or region != self.region or account != self.account:
            raise _problem("connection_arn", "must be in the pipeline's own partition, region and account")
        return self

    @property
    def partition(self) -> str:
        return aws_facts.partition_of(self.region)


class AppConfig(_Strict):
    """The whole app: the pipeline and its environments in promotion order."""

    pipeline: PipelineConfig
    environments: tuple[EnvironmentConfig, ...] = Field(strict=False)

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)


def environments_from_mapping(raw: Any) -> Any:
    """Turn the YAML mapping `{dev: {...}, ...}` into the ordered list the model holds."""
    if not isinstance(raw, dict):
        return raw
    return [{"name": name, **body} if isinstance(body, dict) else body for name, body in raw.items()]
