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
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from config import aws_facts, control_tower_controls
from config.display import shown

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

# An environment with approval keeps its logs at least this long (the account baseline's AWS Config
# cw-loggroup-retention-period-check asks for a year when given no other minimum).
PROTECTED_LOG_RETENTION_DAYS = 365
# An environment that protects its data keeps its logs as OMB M-21-31 asks (FedRAMP's AU-11 parameter): 12 months in
# active storage and 18 in cold storage, 30 months in all. CloudWatch Logs keeps them the whole time: its first
# retention period of at least 30 months (913 days) is 1096 days.
M_21_31_LOG_RETENTION_DAYS = 913

# Fargate's valid CPU units and, for each, the memory sizes (MiB) it accepts.
FARGATE_MEMORY_MIB: dict[int, range | tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}

# Environment names become stage ids and parts of physical names (`prod-east` -> stage `ProdEast`).
ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
ENVIRONMENT_NAME_MAX_LENGTH = 20
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# ASCII digits only: `\d` and str.isdigit() also take other scripts' digits, such as Arabic-Indic ones.
ACCOUNT_ID = re.compile(r"[0-9]{12}", re.ASCII)

# Each environment adds a stage to the pipeline (CodePipeline allows 50 per pipeline, six of them ours)
# and 20 to 40 KB to the pipeline stack's template (each its security diff; a protected one the most:
# its approval and termination-protection step), on about 190 KB without any: CloudFormation takes at most
# 1 MB. 15 make 21 stages and at most about 0.8 MB (tests/pipeline/test_pipeline.py bounds it from the
# fixture app's template).
MAX_ENVIRONMENTS = 15
# Counts summed over an alarm's 5 minutes: no real period reaches this; a larger number is a typo.
MAX_COUNT_PER_5_MINUTES = 1_000_000_000


def too_many_environments(count: int) -> str | None:
    """Why `count` environments are too many for one pipeline, or None when they are not."""
    if count <= MAX_ENVIRONMENTS:
        return None
    return (
        f"names {count} environments, more than {MAX_ENVIRONMENTS}: each adds a stage to the pipeline "
        "(CodePipeline allows 50 stages per pipeline) and up to about 40 KB to the pipeline stack's template "
        "(CloudFormation allows 1 MB); split them over pipelines, one configuration file each"
    )


def _problem(field: str, message: str) -> PydanticCustomError:
    """An error about `field` (a name relative to the model that raises it).

    The loader prints "<field path>: <value> <message>", so messages start lower-case.
    Errors raised by a model validator carry the field name in their type, so the
    loader can point at the field rather than at the whole model.
    """
    return PydanticCustomError(f"field:{field}", message)


class _Strict(BaseModel):
    # Numbers are finite: `.inf` or `.nan` would reach a CloudFormation template as null or crash jsii.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    # Keys this section once had, and the key each became: the loader names the new one.
    renamed_fields: ClassVar[Mapping[str, str]] = {}


def _one_of(values: Iterable[int]) -> dict[str, JsonValue]:
    """The values a field's validator accepts, for the reference (which reads no validator)."""
    return {"allowed": f"one of {', '.join(map(str, sorted(values)))}"}


def _from_key(description: str) -> Any:
    """A field the loader fills in from the key a section is written under (an environment's name)."""
    return Field(description=description, json_schema_extra={"from_key": True})


def user_fields(model: type[BaseModel]) -> list[str]:
    """The keys a user writes in the section `model` reads, in the schema's order."""
    return [
        name
        for name, field in model.model_fields.items()
        if not (isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("from_key"))
    ]


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The section model a field's type holds (`DatabaseConfig`, or `EnvironmentConfig` in a tuple), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = nested_model(argument)
        if found is not None:
            return found
    return None


def model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model of the section at `loc` (a pydantic location: ('environments', 0, 'database')), if any."""
    model: type[BaseModel] = AppConfig
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a tuple of sections: the environments
        field = model.model_fields.get(part)
        inner = nested_model(field.annotation) if field is not None else None
        if inner is None:
            return None
        model = inner
    return model


def _check_account(value: Any, info: ValidationInfo) -> Any:
    field = str(info.field_name)
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted id as a number and drops leading zeros: insist on quotes.
        raise _problem(field, f'must be quoted, e.g. {field}: "012345678901"')
    if isinstance(value, str) and not ACCOUNT_ID.fullmatch(value):
        raise _problem(field, "is not a 12-digit AWS account id")
    return value


# An ACM certificate's ARN (ACM API Reference, Certificate: "arn:aws:acm:region:123456789012:certificate/12345678-1234-
# 1234-1234-123456789012"); the partition, region and account are compared with the environment's by config.rules.
ACM_CERTIFICATE_ARN = re.compile(
    r"arn:(aws[a-z-]*):acm:([a-z0-9-]+):([0-9]{12}):certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
    r"[0-9a-f]{12}",
    re.ASCII,
)
# A host name as DNS writes it: lower-case labels of letters, digits and inner hyphens, at least two of them.
DOMAIN_NAME = re.compile(
    r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?", re.ASCII
)


def _check_region(value: str) -> str:
    if value not in aws_facts.availability_zones():
        raise _problem("region", "is not an AWS region (see cfn-lint's region list)")
    return value


class DatabaseEngine(StrEnum):
    POSTGRES = "postgres"


class DatabaseConfig(_Strict):
    """RDS PostgreSQL sizing and resilience for one environment."""

    engine_version: str = Field(
        description="PostgreSQL version RDS offers for new instances, e.g. '17.9' (checked against cfn-lint's list)"
    )
    instance_type: str = Field(
        description="RDS instance class, e.g. 'db.t4g.medium'; it must run the engine version in the region"
    )
    multi_az: bool = Field(description="a standby instance in a second zone; must be true with approval")
    allocated_storage_gib: int = Field(
        ge=20, le=65536, description="storage at creation; RDS for PostgreSQL allocates 20 to 65,536 GiB"
    )
    max_allocated_storage_gib: int | None = Field(
        default=None,
        ge=21,
        le=65536,
        description="storage autoscaling grows the storage up to this (omit it to turn autoscaling off); larger "
        "than allocated_storage_gib and at most RDS's 65,536 GiB",
    )
    backup_retention_days: int = Field(
        ge=1, le=35, description="how long RDS keeps automated backups; RDS keeps them at most 35 days"
    )
    port: int = Field(
        default=5433, ge=1150, le=65535, description="port the database listens on; RDS accepts 1150 to 65535"
    )

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


class CacheEngine(StrEnum):
    VALKEY = "valkey"
    REDIS = "redis"


class CacheConfig(_Strict):
    """ElastiCache replication group sizing for one environment."""

    engine: CacheEngine = Field(default=CacheEngine.VALKEY, strict=False, description="ElastiCache engine")
    engine_version: str = Field(
        default="8.1", description="ElastiCache version of the engine (checked against cfn-lint's list)"
    )
    node_type: str = Field(description="ElastiCache node type offered in the region, e.g. 'cache.t4g.small'")
    replicas: int = Field(
        ge=0,
        le=5,
        description="replicas of the primary node; ElastiCache allows at most 5; at least 1 with approval "
        "(Multi-AZ failover needs one)",
    )
    snapshot_retention_days: int = Field(
        default=15,
        ge=15,
        le=35,
        description="how long daily snapshots are kept; at least 15 (cdk-nag's NIST 800-53 rule "
        "ElastiCacheRedisClusterAutomaticBackup), at most ElastiCache's 35",
    )
    port: int = Field(default=6380, ge=1024, le=65535, description="port the cache listens on, not a privileged one")


class StreamConfig(_Strict):
    """Kinesis data stream capacity and retention for one environment."""

    mode: Literal["on-demand", "provisioned"] = Field(default="on-demand", description="Kinesis capacity mode")
    shard_count: int | None = Field(
        default=None,
        ge=1,
        le=500,
        description="shards of a provisioned stream (required then, omitted on demand); at most 500, Kinesis's "
        "default shard quota per account in its largest regions (200 in the others)",
    )
    retention_hours: int = Field(
        ge=24, le=8760, description="how long the stream keeps records; Kinesis keeps them 24 to 8,760 hours (365 days)"
    )


class ServiceConfig(_Strict):
    """Fargate task size and count for one environment."""

    cpu: int = Field(
        description="Fargate CPU units of a task (1024 units are one vCPU), one of the sizes Fargate offers",
        json_schema_extra={**_one_of(FARGATE_MEMORY_MIB), "unit": "CPU units"},
    )
    memory_mib: int = Field(
        ge=512,
        le=122880,
        description="memory of a task, one of the sizes Fargate pairs with its cpu; Fargate's sizes run from 512 MiB "
        "to 122,880 MiB (120 GiB)",
    )
    desired_count: int = Field(
        ge=1,
        le=100,
        description="tasks the service runs; at most 100, far more than a monitoring API needs, so an extra digit "
        "is caught before it is deployed",
    )

    @field_validator("cpu")
    @classmethod
    def _fargate_cpu(cls, value: int) -> int:
        if value not in FARGATE_MEMORY_MIB:
            raise _problem("cpu", f"is not a Fargate CPU size; use one of {', '.join(map(str, FARGATE_MEMORY_MIB))}")
        return value


class LoadBalancerTlsConfig(_Strict):
    """The certificate the service's load balancer presents to API Gateway, and the name API Gateway checks it for.

    API Gateway reaches the load balancer through its VPC link over HTTPS and verifies its certificate as an HTTPS
    client does: issued by a certificate authority it trusts (a public ACM certificate is; one from a private CA is
    not), valid now, and for the host name of the integration's URL, which is `domain_name`. The VPC link, not DNS,
    carries the connection: the name needs no DNS record, only a certificate that covers it.
    """

    certificate_arn: str = Field(
        description="ARN of an issued public ACM certificate in the environment's own account and region that "
        "covers domain_name (arn:<partition>:acm:<region>:<account>:certificate/<id>)"
    )
    domain_name: str = Field(
        description="the host name API Gateway calls the load balancer by and checks the certificate for, e.g. "
        "'monitoring-backend.prod.example.com'; it needs no DNS record"
    )

    @field_validator("certificate_arn")
    @classmethod
    def _certificate_shape(cls, value: str) -> str:
        if not ACM_CERTIFICATE_ARN.fullmatch(value):
            raise _problem(
                "certificate_arn",
                "is not an ACM certificate ARN (arn:<partition>:acm:<region>:<account>:certificate/<uuid>)",
            )
        return value

    @field_validator("domain_name")
    @classmethod
    def _host_name(cls, value: str) -> str:
        if not DOMAIN_NAME.fullmatch(value):
            raise _problem(
                "domain_name",
                "is not a host name: lower-case labels of letters, digits and hyphens joined by dots, e.g. "
                "'monitoring-backend.prod.example.com' (no wildcard: API Gateway calls one name)",
            )
        return value


def _percent(default: float, what: str) -> Any:
    # Below 100: a rate alarm fires when the value is above the threshold, and no rate exceeds 100 %.
    # Strict, as every field: a whole number is a number, but text ("50") or true is not.
    return Field(default=default, gt=0, lt=100, description=f"percent (0-100) {what}")


def _count(default: int, minimum: int, what: str) -> Any:
    return Field(
        default=default,
        ge=minimum,
        le=MAX_COUNT_PER_5_MINUTES,
        description=f"{what}; at most {MAX_COUNT_PER_5_MINUTES:,}, which no 5-minute period reaches",
    )


class AlarmThresholds(_Strict):
    """When the on-call engineer is paged. Defaults suit a small service; tune them per environment.

    Each name ends in its unit: `_percent` is 0 to 100 (the API's 4xx/5xx rates are API Gateway's
    fraction of requests times 100), `_ms`, `_seconds`, `_gib` and `_mib` are what they say, `_count`
    is a number at one moment, and `_per_5_minutes` a number summed over the alarm's 5-minute period.
    """

    # Fields renamed so that each name carries its unit: an old name is told its new one.
    renamed_fields: ClassVar[Mapping[str, str]] = {
        "database_connections": "database_connections_count",
        "cache_evictions": "cache_evictions_per_5_minutes",
        "stream_throttled_records": "stream_throttled_records_per_5_minutes",
    }

    api_5xx_percent: float = _percent(1.0, "of the API's requests answered 5xx, over 5 minutes")
    api_4xx_percent: float = _percent(10.0, "of the API's requests answered 4xx, over 5 minutes")
    api_latency_p99_ms: int = Field(
        default=2000,
        ge=50,
        lt=29000,
        description="the API's p99 latency over 5 minutes; below 29,000, API Gateway's integration timeout",
    )
    service_cpu_percent: float = _percent(80.0, "CPU of the service's tasks, average over 5 minutes")
    service_memory_percent: float = _percent(80.0, "memory of the service's tasks, average over 5 minutes")
    database_cpu_percent: float = _percent(80.0, "CPU of the database instance, average over 5 minutes")
    database_free_storage_gib: int = Field(
        default=5,
        ge=1,
        le=65536,
        description="alarm when the database's free storage falls below this; at most RDS's largest storage",
    )
    database_connections_count: int = Field(
        default=200,
        ge=1,
        le=262143,
        description="alarm when more connections are open at once (maximum over 5 minutes); at most 262,143, "
        "PostgreSQL's largest max_connections",
    )
    cache_cpu_percent: float = _percent(80.0, "engine CPU of the busiest cache node, maximum over 5 minutes")
    cache_min_freeable_memory_mib: int = Field(
        default=256,
        ge=1,
        le=1048576,
        description="alarm when the fullest cache node has less freeable memory; at most 1 TiB, more than any "
        "ElastiCache node has",
    )
    cache_evictions_per_5_minutes: int = _count(1000, 0, "keys evicted by the cache in 5 minutes, all nodes together")
    cache_replication_lag_seconds: float = Field(
        default=5.0,
        gt=0,
        le=86400,
        description="how far the worst cache replica trails the primary; at most a day, beyond which a replica is "
        "broken rather than behind",
    )
    stream_iterator_age_seconds: int = Field(
        default=300,
        ge=1,
        le=31536000,
        description="age of the oldest record a stream consumer has not read; at most 365 days, the longest a "
        "stream keeps a record",
    )
    stream_throttled_records_per_5_minutes: int = _count(10, 0, "records the stream refused (throttled) in 5 minutes")
    service_errors_per_5_minutes: int = _count(10, 1, "5xx answers the service logged in 5 minutes")


def _check_emails(value: tuple[str, ...], field: str) -> tuple[str, ...]:
    for email in value:
        if not EMAIL.fullmatch(email):
            raise _problem(field, f"contains {shown(email)}, which is not an e-mail address")
    if len(set(value)) != len(value):
        raise _problem(field, "lists an address twice")
    return value


# The account baseline's services, by field name (stacks.baseline deploys each; compliance lists their controls).
BASELINE_SERVICES = ("cloudtrail", "config", "security_hub", "guardduty")
# Who provides an inherited service: one line, short enough for a report's table and an OSCAL property.
PROVIDER_MAX_LENGTH = 200
_PROVIDER_EXAMPLE = "e.g. {inherited_from: 'AWS Control Tower organization trail'}"


def _check_provider(value: Any) -> str:
    """The provider of an inherited service, stripped; a problem about `inherited_from` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise _problem("inherited_from", f"must name who runs the service, {_PROVIDER_EXAMPLE}")
    text = value.strip()
    if not text.isprintable():  # a line break or a control character: the text is written into one-line fields
        raise _problem("inherited_from", "must be one line of printable text")
    if len(text) > PROVIDER_MAX_LENGTH:
        raise _problem("inherited_from", f"is longer than {PROVIDER_MAX_LENGTH} characters")
    return text


class InheritedService(_Strict):
    """A baseline service this app does not deploy because a landing zone or a delegated administrator runs it.

    The controls its resources would evidence are recorded as inherited from `inherited_from` (leveraged),
    the provider's responsibility, rather than as not checked at synth.
    """

    inherited_from: str = Field(
        description="who runs the service for this account and region, e.g. "
        "'AWS Control Tower organization trail (log archive account 999999999999)'",
    )

    @field_validator("inherited_from", mode="before")
    @classmethod
    def _provider(cls, value: Any) -> str:
        return _check_provider(value)


class AccountBaseline(_Strict):
    """Account- and region-wide services the stage deploys into its account (all off by default).

    Each is a singleton of its account (CloudTrail's multi-region trail) or of its account and
    region (the Config recorder, the Security Hub hub, the GuardDuty detector): turn off what a
    landing zone or a delegated administrator already runs there, or the deployment fails; say
    who runs it (`{inherited_from: ...}`) and its controls are recorded as inherited from them.
    `account_baseline: true` (or `false`) sets all four at once.
    """

    cloudtrail: bool | InheritedService = Field(
        default=False, description="a multi-region CloudTrail trail into an audit bucket (one per account)"
    )
    config: bool | InheritedService = Field(
        default=False,
        description="an AWS Config recorder with the FedRAMP Moderate conformance pack (one per account and region)",
    )
    security_hub: bool | InheritedService = Field(
        default=False, description="Security Hub with the NIST SP 800-53 Rev 5 standard (one per account and region)"
    )
    guardduty: bool | InheritedService = Field(
        default=False, description="a GuardDuty detector (one per account and region)"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return dict.fromkeys(BASELINE_SERVICES, value)
        return value

    @field_validator(*BASELINE_SERVICES, mode="before")
    @classmethod
    def _setting(cls, value: Any, info: ValidationInfo) -> Any:
        """`true`, `false` or `{inherited_from: ...}`, each problem named by its own field."""
        if isinstance(value, bool | InheritedService):
            return value
        if not isinstance(value, dict):
            raise _problem(str(info.field_name), f"must be true, false or who runs it, {_PROVIDER_EXAMPLE}")
        for key in value:
            if key != "inherited_from":
                raise _problem(str(key), "is not a setting of an inherited service (only inherited_from)")
        # A problem with the provider names `inherited_from` under this field (the loader appends it).
        return InheritedService(inherited_from=_check_provider(value.get("inherited_from")))

    @property
    def services(self) -> frozenset[str]:
        """The services this app deploys, by field name (an inherited service is not one of them)."""
        return frozenset(name for name in BASELINE_SERVICES if getattr(self, name) is True)

    @property
    def inherited(self) -> dict[str, str]:
        """Service -> who runs it, for the services this app leaves to a landing zone (in field order)."""
        return {
            name: setting.inherited_from
            for name in BASELINE_SERVICES
            if isinstance(setting := getattr(self, name), InheritedService)
        }


class EnvironmentConfig(_Strict):
    """One deployment target: where it runs, how big and how protected it is, and how it is promoted."""

    name: str = _from_key(
        "the environment's name: lower-case letters, digits and single hyphens, starting with a letter, at most "
        f"{ENVIRONMENT_NAME_MAX_LENGTH} characters; it names the stage ('prod-east' -> ProdEast) and is part of "
        "stack and resource names"
    )
    account: str = Field(description="12-digit AWS account id the environment deploys to, quoted in YAML")
    region: str = Field(description="AWS region the environment deploys to, in the pipeline's partition")
    availability_zones: tuple[str, ...] = Field(
        min_length=2,
        max_length=6,
        strict=False,
        description="zones of the region the VPC's subnets use, e.g. [us-west-2a, us-west-2b]",
    )
    vpc_cidr: str = Field(
        description="the VPC's private (RFC 1918) IPv4 network, a /16 to /20: each zone takes a /22 and a /24"
    )
    database: DatabaseConfig = Field(description="the RDS PostgreSQL database")
    cache: CacheConfig = Field(description="the ElastiCache replication group")
    stream: StreamConfig = Field(description="the Kinesis data stream")
    service: ServiceConfig = Field(description="the Fargate service behind the API")
    load_balancer_tls: LoadBalancerTlsConfig = Field(
        description="the certificate of the service's load balancer, to which API Gateway connects over HTTPS only"
    )
    log_retention_days: int = Field(
        description="how long CloudWatch Logs keeps the environment's logs, one of the periods it offers; at "
        f"least {M_21_31_LOG_RETENTION_DAYS} (30 months, OMB M-21-31) with protect_data, which approval requires",
        json_schema_extra=_one_of(LOG_RETENTION_DAYS),
    )
    protect_data: bool = Field(
        description="the data stores survive their stack's deletion and the stacks are termination-protected; "
        "the logs are kept as OMB M-21-31 asks (log_retention_days); must be true with approval"
    )
    approval: bool = Field(
        description="promotion into this environment waits for a person; an environment with approval is "
        "protected: it keeps its data, a Multi-AZ database and a cache replica",
        json_schema_extra={"default": "false for the first environment, true for the others"},
    )
    wave: str | None = Field(
        default=None,
        description="environments with the same wave deploy in parallel after one approval (e.g. a production "
        "region and its disaster-recovery region); they must stand next to each other in the file",
    )
    alarm_emails: tuple[str, ...] = Field(
        default=(), strict=False, description="addresses the environment's alarms notify"
    )
    alarms: AlarmThresholds = Field(
        default=AlarmThresholds(), description="when the on-call engineer is paged; every threshold has a default"
    )
    account_baseline: AccountBaseline = Field(
        default=AccountBaseline(),
        strict=False,
        description="account- and region-wide services the stage deploys: the four keys below, or true or false "
        "for all four",
        json_schema_extra={"type": "mapping or boolean"},
    )
    external_prerequisites: tuple[str, ...] = Field(
        default=(),
        strict=False,
        description="secrets or SSM parameters the stage reads but does not create; listed in the report",
    )

    _account = field_validator("account", mode="before")(_check_account)
    _region = field_validator("region")(_check_region)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not ENVIRONMENT_NAME.fullmatch(value) or len(value) > ENVIRONMENT_NAME_MAX_LENGTH:
            raise _problem(
                "name",
                f"is not an environment name: lower-case letters, digits and single hyphens, starting with a "
                f"letter, at most {ENVIRONMENT_NAME_MAX_LENGTH} characters (it becomes part of stack and "
                "resource names)",
            )
        return value

    @field_validator("wave")
    @classmethod
    def _wave(cls, value: str | None) -> str | None:
        if value is not None and not ENVIRONMENT_NAME.fullmatch(value):
            raise _problem("wave", "is not a wave name: lower-case letters, digits and single hyphens")
        return value

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
                    f"contains {shown(zone)}, which is not a zone of {region} (its zones: {', '.join(known)})",
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
        return _check_emails(value, "alarm_emails")

    @property
    def partition(self) -> str:
        return aws_facts.partition_of(self.region)

    @property
    def protected(self) -> bool:
        """Promotion into it waits for a person: it keeps its data and survives a zone outage."""
        return self.approval

    @property
    def stage_id(self) -> str:
        """The construct id of this environment's stage: 'dev' -> 'Dev', 'prod-east' -> 'ProdEast'."""
        return stage_id_of(self.name)


def stage_id_of(name: str) -> str:
    """The stage construct id an environment name gives: 'dev' -> 'Dev', 'prod-east' -> 'ProdEast'."""
    return "".join(part.capitalize() for part in name.split("-"))


def environment_name_of(stage_id: str) -> str:
    """The environment name a stage id most likely came from: 'ProdDr' -> 'prod-dr' (for matching names in text).

    Not an exact inverse where a name part starts with a digit ('prod-2' gives 'Prod2', read back as 'prod2').
    """
    return re.sub(r"(?<!^)(?=[A-Z])", "-", stage_id).lower()


# CodeArtifact's own patterns (CreateDomain and CreateRepository in the CodeArtifact API Reference,
# https://docs.aws.amazon.com/codeartifact/latest/APIReference/API_CreateDomain.html).
CODEARTIFACT_DOMAIN = re.compile(r"[a-z][a-z0-9\-]{0,48}[a-z0-9]")
CODEARTIFACT_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{1,99}")


class PackageMirrorConfig(_Strict):
    """A CodeArtifact domain in the pipeline's region that the pipeline's builds install packages from.

    With it, no CodeBuild step of the pipeline reaches PyPI or the npm registry itself: each one that
    installs packages first runs `aws codeartifact login` for pip and npm against these repositories
    (which may proxy the public registries through their upstreams or external connections).
    """

    domain: str = Field(description="the CodeArtifact domain's name")
    domain_owner: str | None = Field(
        default=None, description="12-digit account that owns the domain, quoted (default: the pipeline account)"
    )
    pypi_repository: str = Field(description="the repository pip installs from")
    npm_repository: str = Field(description="the repository npm installs from (may be pypi_repository)")

    _owner = field_validator("domain_owner", mode="before")(_check_account)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not CODEARTIFACT_DOMAIN.fullmatch(value):
            raise _problem(
                "domain",
                "is not a CodeArtifact domain name: 2 to 50 lower-case letters, digits and hyphens, starting "
                "with a letter and ending with a letter or digit",
            )
        return value

    @field_validator("pypi_repository", "npm_repository")
    @classmethod
    def _repository(cls, value: str, info: ValidationInfo) -> str:
        if not CODEARTIFACT_REPOSITORY.fullmatch(value):
            raise _problem(
                str(info.field_name),
                "is not a CodeArtifact repository name: 2 to 100 letters, digits, '.', '_' and '-', starting "
                "with a letter or digit",
            )
        return value


# An Amazon ECR image by digest: <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>@sha256:<64 hex>
# (repository names as ECR's CreateRepository accepts them).
ECR_IMAGE = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?P<suffix>amazonaws\.com(?:\.cn)?)/"
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"@sha256:(?P<digest>[0-9a-f]{64})"
)
_ECR_IMAGE_FORM = "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex digits>"


class EcrImage(NamedTuple):
    """The parts of an Amazon ECR image URI pinned by digest."""

    account: str
    region: str
    suffix: str  # amazonaws.com, or amazonaws.com.cn in the China regions
    repository: str
    digest: str  # the 64 hex digits after sha256:

    @classmethod
    def parse(cls, uri: str) -> EcrImage:
        match = ECR_IMAGE.fullmatch(uri)
        if match is None:
            raise ValueError(f"{uri!r} is not an Amazon ECR image URI pinned by digest ({_ECR_IMAGE_FORM})")
        return cls(**match.groupdict())

    @property
    def uri(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.{self.suffix}/{self.repository}@sha256:{self.digest}"

    def repository_arn(self, partition: str) -> str:
        return f"arn:{partition}:ecr:{self.region}:{self.account}:repository/{self.repository}"


def _check_build_image(value: str | None) -> str | None:
    if value is None or ECR_IMAGE.fullmatch(value):
        return value
    if "@sha256:" not in value:
        raise _problem(
            "build_image",
            f"is not pinned by digest: a tag can be moved to other content; write it as {_ECR_IMAGE_FORM}",
        )
    digest = value.rsplit("@sha256:", 1)[1]
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise _problem("build_image", "has a digest that is not sha256: followed by 64 lower-case hex digits")
    raise _problem("build_image", f"is not an Amazon ECR image URI ({_ECR_IMAGE_FORM})")


class PipelineConfig(_Strict):
    """Where the pipeline itself lives, which repository branch drives it, and what its builds reach."""

    account: str = Field(description="12-digit id of the AWS account that hosts the pipeline, quoted in YAML")
    region: str = Field(description="AWS region of the pipeline; every environment is in its partition")
    repository: str = Field(description="owner/name of the source repository")
    branch: str = Field(default="main", description="the branch whose pushes run the pipeline")
    connection_arn: str = Field(
        description="ARN of the CodeConnections connection to the repository, in the pipeline's account and region"
    )
    approval_emails: tuple[str, ...] = Field(
        default=(), strict=False, description="addresses told when a promotion waits for approval"
    )
    package_mirror: PackageMirrorConfig | None = Field(
        default=None,
        description="a CodeArtifact domain the builds install Python and npm packages from, instead of the "
        "public registries",
    )
    build_image: str | None = Field(
        default=None,
        description="an Amazon ECR image in the pipeline's region, by digest, that every CodeBuild project runs on "
        "(default: CodeBuild's curated aws/codebuild/standard:7.0, by tag)",
    )

    _account = field_validator("account", mode="before")(_check_account)
    _region = field_validator("region")(_check_region)
    _image = field_validator("build_image")(_check_build_image)

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

    @field_validator("connection_arn")
    @classmethod
    def _connection_shape(cls, value: str) -> str:
        if not CONNECTION_ARN.fullmatch(value):
            raise _problem(
                "connection_arn",
                "is not a CodeConnections connection ARN "
                "(arn:<partition>:codeconnections:<region>:<account>:connection/<uuid>)",
            )
        return value

    @field_validator("approval_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_emails(value, "approval_emails")

    @property
    def partition(self) -> str:
        return aws_facts.partition_of(self.region)

    @property
    def ecr_build_image(self) -> EcrImage | None:
        """`build_image` in its parts, or None for CodeBuild's curated image."""
        return EcrImage.parse(self.build_image) if self.build_image is not None else None


CONNECTION_ARN = re.compile(
    r"arn:(aws[a-z-]*):(codestar-connections|codeconnections):([a-z0-9-]+):([0-9]{12}):connection/[0-9a-f-]{36}",
    re.ASCII,
)


class ControlTowerConfig(_Strict):
    """Which AWS Control Tower proactive controls synth checks: all the installed plugin bundles, but these."""

    disabled_controls: tuple[str, ...] = Field(
        default=(),
        strict=False,
        description="Control Tower ids (e.g. 'CT.S3.PR.4') that no organisational unit this app deploys to enables",
    )

    @field_validator("disabled_controls")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        malformed = [c for c in value if not control_tower_controls.CONTROL_ID.fullmatch(c)]
        if malformed:
            raise _problem(
                "disabled_controls", f"has {shown(malformed[0])}, which is not a control id like 'CT.S3.PR.4'"
            )
        unknown = control_tower_controls.unknown(value)
        if unknown:
            raise _problem(
                "disabled_controls", f"has {shown(unknown[0])}, which is not a control the installed plugin bundles"
            )
        if len(set(value)) != len(value):
            raise _problem("disabled_controls", "lists a control twice")
        return value


# A package id as FedRAMP's Marketplace lists it ("F1603047866"): an F, then letters and digits.
FEDRAMP_PACKAGE_ID = re.compile(r"F[A-Z0-9]{5,19}", re.ASCII)
# A name the system security plan prints as OSCAL's `string`: one line, no space at either end.
SINGLE_LINE = re.compile(r"\S(.*\S)?")
# The impact levels an information type of a FedRAMP Moderate system may have (FIPS 199): a "high" type makes the
# system a High one, which this baseline does not cover.
Impact = Literal["low", "moderate"]


class PersonConfig(_Strict):
    """One person the system security plan names for a role."""

    name: str = Field(min_length=1, max_length=200, description="the person's name, as the plan names them")
    email: str = Field(description="their e-mail address", json_schema_extra={"allowed": "an e-mail address"})

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_single_line(value, "name")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.fullmatch(value):
            raise _problem("email", "is not an e-mail address")
        return value


class InformationTypeConfig(_Strict):
    """An information type the system processes, categorized with NIST SP 800-60 (FIPS 199 impact levels)."""

    title: str = Field(
        min_length=1, max_length=200, description="the type's name, e.g. 'System and Network Monitoring'"
    )
    description: str = Field(min_length=1, description="what information of this type the system holds")
    nist_800_60_id: str = Field(
        description="its identifier in NIST SP 800-60 Volume II, e.g. 'C.3.5.8' (FedRAMP asks every type for one)",
        json_schema_extra={"allowed": "C or D, then one to four dot-separated numbers"},
    )
    confidentiality: Impact = Field(default="moderate", description="FIPS 199 confidentiality impact: low or moderate")
    integrity: Impact = Field(default="moderate", description="FIPS 199 integrity impact: low or moderate")
    availability: Impact = Field(default="moderate", description="FIPS 199 availability impact: low or moderate")

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return _check_single_line(value, "title")

    @field_validator("nist_800_60_id")
    @classmethod
    def _sp800_60(cls, value: str) -> str:
        if not re.fullmatch(r"[CD](\.[0-9]+){1,4}", value, re.ASCII):
            raise _problem("nist_800_60_id", "is not a NIST SP 800-60 information type id such as 'C.3.5.8'")
        return value


class LeveragedAuthorizationConfig(_Strict):
    """AWS's FedRAMP authorization of the pipeline's partition, as FedRAMP's Marketplace lists it."""

    package_id: str = Field(
        description="the authorization's FedRAMP package id, e.g. 'F1234567890'",
        json_schema_extra={"allowed": "F, then 5 to 19 capital letters or digits"},
    )
    date_authorized: str = Field(
        description="the date FedRAMP authorized it", json_schema_extra={"allowed": "a date, YYYY-MM-DD"}
    )

    @field_validator("package_id")
    @classmethod
    def _package(cls, value: str) -> str:
        return _check_package_id(value, "package_id")

    @field_validator("date_authorized")
    @classmethod
    def _date(cls, value: str) -> str:
        return _check_iso_date(value, "date_authorized")


def _check_single_line(value: str, field: str) -> str:
    if not SINGLE_LINE.fullmatch(value):
        raise _problem(field, "must be one line, with no space at either end")
    return value


def _check_package_id(value: str, field: str) -> str:
    if not FEDRAMP_PACKAGE_ID.fullmatch(value):
        raise _problem(field, "is not a FedRAMP package id such as 'F1234567890'")
    return value


def _check_iso_date(value: str, field: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise _problem(field, "is not a date written YYYY-MM-DD") from None
    if len(value) != len("2027-01-31"):
        raise _problem(field, "is not a date written YYYY-MM-DD")
    return value


class SystemConfig(_Strict):
    """What the system security plan says of the system as a whole; anything left out stays marked REPLACE there."""

    name: str = Field(
        default="FedRAMP Moderate monitoring platform", min_length=1, max_length=200, description="the system's name"
    )
    short_name: str = Field(
        default="fedramp-monitoring", min_length=1, max_length=60, description="its short name or acronym"
    )
    fedramp_id: str | None = Field(
        default=None,
        description="the package id FedRAMP assigned the system, e.g. 'F1234567890' (until then the plan identifies "
        "it by a uuid of the pipeline's account and region)",
        json_schema_extra={"allowed": "F, then 5 to 19 capital letters or digits"},
    )
    description: str | None = Field(
        default=None, min_length=1, description="the service and deployment model, its customers and purpose"
    )
    status: Literal["operational", "under-development", "under-major-modification", "disposition", "other"] = Field(
        default="under-development", description="the system's operational state, as OSCAL names it"
    )
    information_types: tuple[InformationTypeConfig, ...] = Field(
        default=(), strict=False, description="the information types it processes (NIST SP 800-60)"
    )
    system_owner: PersonConfig | None = Field(default=None, description="the system owner")
    authorizing_official: PersonConfig | None = Field(default=None, description="the authorizing official")
    isso: PersonConfig | None = Field(default=None, description="the information system security officer")
    aws_authorization: LeveragedAuthorizationConfig | None = Field(
        default=None, description="AWS's FedRAMP authorization the system leverages, in the pipeline's partition"
    )

    @field_validator("name", "short_name")
    @classmethod
    def _one_line(cls, value: str, info: ValidationInfo) -> str:
        return _check_single_line(value, str(info.field_name))

    @field_validator("fedramp_id")
    @classmethod
    def _fedramp_id(cls, value: str | None) -> str | None:
        return value if value is None else _check_package_id(value, "fedramp_id")

    @field_validator("information_types")
    @classmethod
    def _distinct_types(cls, value: tuple[InformationTypeConfig, ...]) -> tuple[InformationTypeConfig, ...]:
        titles = [t.title for t in value]
        if len(set(titles)) != len(titles):
            raise _problem("information_types", "lists a title twice")
        return value


class AppConfig(_Strict):
    """The whole app: the pipeline and its environments in promotion order (the order of the file)."""

    pipeline: PipelineConfig = Field(description="where the pipeline runs and which repository drives it")
    environments: tuple[EnvironmentConfig, ...] = Field(
        min_length=1,
        strict=False,
        description="the environments in promotion order (the order of the file), each under its name; at most "
        f"{MAX_ENVIRONMENTS}: each adds a stage to the pipeline (CodePipeline allows 50) and up to about 40 KB "
        "to the pipeline stack's template (CloudFormation allows 1 MB)",
        json_schema_extra={"allowed": f"1 to {MAX_ENVIRONMENTS} environments", "type": "mapping of names to mappings"},
    )
    control_tower: ControlTowerConfig = Field(
        default=ControlTowerConfig(), description="which AWS Control Tower proactive controls synth checks"
    )
    system: SystemConfig = Field(
        default=SystemConfig(), description="the system as its security plan describes it (OSCAL SSP)"
    )

    @field_validator("environments")
    @classmethod
    def _within_cap(cls, value: tuple[EnvironmentConfig, ...]) -> tuple[EnvironmentConfig, ...]:
        # The loader counts them first, so that its line comes whether or not each environment is valid.
        message = too_many_environments(len(value))
        if message is not None:
            raise _problem("environments", message)
        return value

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)

    @property
    def waves(self) -> tuple[tuple[EnvironmentConfig, ...], ...]:
        """Environments grouped as the pipeline deploys them: in file order, a wave's members together."""
        groups: list[list[EnvironmentConfig]] = []
        for env in self.environments:
            if groups and env.wave is not None and groups[-1][0].wave == env.wave:
                groups[-1].append(env)
            else:
                groups.append([env])
        return tuple(tuple(group) for group in groups)


def environments_from_mapping(raw: Any) -> Any:
    """Turn the YAML mapping `{dev: {...}, ...}` into the ordered list the model holds.

    Promotion order is the order of the file. `approval` defaults to true for every
    environment but the first. The name is the key, whatever the body says (the loader
    refuses a `name` in it).
    """
    if not isinstance(raw, dict):
        return raw
    listed = []
    for index, (name, body) in enumerate(raw.items()):
        if isinstance(body, dict):
            body = {**body, "name": name}
            body.setdefault("approval", index > 0)
        listed.append(body)
    return listed
