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
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from config import aws_facts

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

# An environment with approval keeps its logs at least this long (the account baseline's AWS Config
# cw-loggroup-retention-period-check asks for a year when given no other minimum).
PROTECTED_LOG_RETENTION_DAYS = 365

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


def _check_account(value: Any, info: ValidationInfo) -> Any:
    field = str(info.field_name)
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted id as a number and drops leading zeros: insist on quotes.
        raise _problem(field, f'must be quoted, e.g. {field}: "012345678901"')
    if isinstance(value, str) and not re.fullmatch(r"\d{12}", value):
        raise _problem(field, "is not a 12-digit AWS account id")
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


class StreamConfig(_Strict):
    """Kinesis data stream capacity and retention for one environment."""

    mode: Literal["on-demand", "provisioned"] = "on-demand"
    shard_count: int | None = Field(default=None, ge=1, le=500)
    retention_hours: int = Field(ge=24, le=8760)


class ServiceConfig(_Strict):
    """Fargate task size and count for one environment."""

    cpu: int
    memory_mib: int = Field(ge=512, le=122880)
    desired_count: int = Field(ge=1, le=100)

    @field_validator("cpu")
    @classmethod
    def _fargate_cpu(cls, value: int) -> int:
        if value not in FARGATE_MEMORY_MIB:
            raise _problem("cpu", f"is not a Fargate CPU size; use one of {', '.join(map(str, FARGATE_MEMORY_MIB))}")
        return value


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


def _check_emails(value: tuple[str, ...], field: str) -> tuple[str, ...]:
    for email in value:
        if not EMAIL.fullmatch(email):
            raise _problem(field, f"contains {email!r}, which is not an e-mail address")
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

    cloudtrail: bool | InheritedService = False
    config: bool | InheritedService = False
    security_hub: bool | InheritedService = False
    guardduty: bool | InheritedService = False

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

    name: str = Field(description="the key under `environments`, e.g. 'prod-east'")
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
    approval: bool = Field(
        description="promotion into this environment waits for a person (default: every environment but the first); "
        "an environment with approval is protected: it keeps its data, a Multi-AZ database and a cache replica"
    )
    wave: str | None = Field(
        default=None,
        description="environments with the same wave deploy in parallel after one approval (e.g. a production "
        "region and its disaster-recovery region); they must stand next to each other in the file",
    )
    alarm_emails: tuple[str, ...] = Field(default=(), strict=False)
    alarms: AlarmThresholds = AlarmThresholds()
    account_baseline: AccountBaseline = Field(default=AccountBaseline(), strict=False)
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
    domain_owner: AccountId | None = Field(
        default=None, description="12-digit account that owns the domain (default: the pipeline account)"
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

    account: AccountId
    region: str
    repository: str = Field(description="owner/name of the source repository")
    branch: str = "main"
    connection_arn: str
    approval_emails: tuple[str, ...] = Field(default=(), strict=False)
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
    r"arn:(aws[a-z-]*):(codestar-connections|codeconnections):([a-z0-9-]+):(\d{12}):connection/[0-9a-f-]{36}"
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
        from compliance import control_tower  # standard library only: reads the plugin's bundled rule files

        malformed = [c for c in value if not control_tower.CONTROL_ID.fullmatch(c)]
        if malformed:
            raise _problem("disabled_controls", f"has {malformed[0]!r}, which is not a control id like 'CT.S3.PR.4'")
        unknown = control_tower.unknown(value)
        if unknown:
            raise _problem(
                "disabled_controls", f"has {unknown[0]!r}, which is not a control the installed plugin bundles"
            )
        if len(set(value)) != len(value):
            raise _problem("disabled_controls", "lists a control twice")
        return value


class AppConfig(_Strict):
    """The whole app: the pipeline and its environments in promotion order (the order of the file)."""

    pipeline: PipelineConfig
    environments: tuple[EnvironmentConfig, ...] = Field(min_length=1, strict=False)
    control_tower: ControlTowerConfig = ControlTowerConfig()

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
    environment but the first.
    """
    if not isinstance(raw, dict):
        return raw
    listed = []
    for index, (name, body) in enumerate(raw.items()):
        if isinstance(body, dict):
            body = {"name": name, **body}
            body.setdefault("approval", index > 0)
        listed.append(body)
    return listed
