"""Rules that relate two or more fields of a configuration file.

pydantic checks each field on its own; a rule here needs several fields at once (a memory
size valid for the CPU size, a protected environment that keeps its data, two environments
that would both create an account's one GuardDuty detector). The rules read the document
as the models validate it, and each rule runs whenever the fields it reads are themselves
valid, so a file's field errors and cross-field errors are reported together, in one run.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from config import aws_facts
from config.schema import (
    ACM_CERTIFICATE_ARN,
    CONNECTION_ARN,
    FARGATE_MEMORY_MIB,
    M_21_31_LOG_RETENTION_DAYS,
    AccountBaseline,
    CacheConfig,
    DatabaseEngine,
    EcrImage,
    StreamConfig,
    stage_id_of,
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One cross-field problem: where (as a pydantic location) and what, starting lower-case."""

    loc: Loc
    message: str


class _UnusableError(Exception):
    """A field a rule reads is missing or invalid: the rule has nothing to say."""


_REQUIRED = object()


class _Reader:
    """Reads fields of the document, refusing those that have an error of their own."""

    def __init__(self, document: dict[str, Any], invalid: list[Loc]) -> None:
        self._document = document
        self._invalid = invalid

    def __call__(self, *loc: str | int, default: Any = _REQUIRED) -> Any:
        for bad in self._invalid:
            shared = min(len(bad), len(loc))
            if bad[:shared] == loc[:shared]:
                raise _UnusableError
        node: Any = self._document
        for part in loc:
            present = isinstance(node, dict) and part in node
            present |= isinstance(node, list) and isinstance(part, int) and part < len(node)
            if present:
                node = node[part]
            elif default is _REQUIRED:
                raise _UnusableError
            else:
                return default
        return node


EnvironmentRule = Callable[[Callable[..., Any]], Iterator[tuple[str, str]]]


def _database(env: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    version, instance = env("database", "engine_version"), env("database", "instance_type")
    classes = aws_facts.rds_instance_classes(DatabaseEngine.POSTGRES, version)
    if classes is not None and instance not in classes:
        yield "database.instance_type", f"does not run PostgreSQL {version} on RDS"
    offered = aws_facts.rds_instance_classes_in_region(DatabaseEngine.POSTGRES, env("region"))
    if offered is not None and instance not in offered:
        yield "database.instance_type", f"is not offered for PostgreSQL in {env('region')}"


def _storage(env: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    maximum = env("database", "max_allocated_storage_gib", default=None)
    if maximum is not None and maximum <= env("database", "allocated_storage_gib"):
        yield "database.max_allocated_storage_gib", "must be larger than allocated_storage_gib"


def _cache(env: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    fields = CacheConfig.model_fields
    engine = str(env("cache", "engine", default=fields["engine"].default))
    version = env("cache", "engine_version", default=fields["engine_version"].default)
    versions = aws_facts.elasticache_engine_versions(engine)
    if version not in versions:
        yield (
            "cache.engine_version",
            f"is not an ElastiCache {engine} version; use one of {', '.join(versions[-4:])}",
        )
    node_types = aws_facts.elasticache_node_types(env("region"))
    if node_types is not None and env("cache", "node_type") not in node_types:
        yield "cache.node_type", f"is not an ElastiCache node type offered in {env('region')}"


def _stream(env: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    mode = env("stream", "mode", default=StreamConfig.model_fields["mode"].default)
    shards = env("stream", "shard_count", default=None)
    if mode == "provisioned" and shards is None:
        yield "stream.shard_count", "is required when mode is 'provisioned'"
    if mode == "on-demand" and shards is not None:
        yield "stream.shard_count", "must be omitted when mode is 'on-demand'"


def _fargate(env: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    cpu, memory = env("service", "cpu"), env("service", "memory_mib")
    allowed = FARGATE_MEMORY_MIB[cpu]
    if memory not in allowed:
        yield "service.memory_mib", f"is not valid with cpu {cpu}; use {min(allowed)} to {max(allowed)} MiB"


def _protected(env: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    # What a person approves into keeps its data and survives a zone outage: protection follows approval.
    if not env("approval"):
        return
    why = "for an environment with approval (promotion into it waits for a person, so it is protected)"
    if not env("protect_data"):
        yield "protect_data", f"must be true {why}"
    if not env("database", "multi_az"):
        yield "database.multi_az", f"must be true {why}"
    if env("cache", "replicas") < 1:
        yield "cache.replicas", f"must be at least 1 {why}: Multi-AZ failover needs a replica"


def _protected_logs(env: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    # OMB M-21-31 (FedRAMP's AU-11 parameter): 12 months of logs in active storage and 18 more in cold storage.
    # CloudWatch Logs keeps them searchable the whole time, which is more than cold storage, for about $0.03 per
    # GB-month (https://aws.amazon.com/cloudwatch/pricing/): no second, archived copy is needed to reach 30 months.
    if env("protect_data") and env("log_retention_days") < M_21_31_LOG_RETENTION_DAYS:
        yield (
            "log_retention_days",
            f"must be at least {M_21_31_LOG_RETENTION_DAYS} (30 months; CloudWatch Logs offers 1096) for an "
            "environment with protect_data: OMB M-21-31, FedRAMP's log retention, asks for 12 months in active "
            "and 18 in cold storage",
        )


def _certificate(env: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    # ACM certificates are regional, and a load balancer uses one of its own region ("Supported Regions",
    # https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html) and of its own account, where it was
    # requested or imported.
    match = ACM_CERTIFICATE_ARN.fullmatch(env("load_balancer_tls", "certificate_arn"))
    assert match is not None  # the field's own check refuses any other shape
    partition, region, account = match.groups()
    mine = (aws_facts.partition_of(env("region")), env("region"), env("account"))
    if (partition, region, account) != mine:
        yield (
            "load_balancer_tls.certificate_arn",
            f"is in partition {partition}, region {region}, account {account}; the load balancer can use only a "
            f"certificate of its own ({mine[0]}, {mine[1]}, {mine[2]}): request or import one there",
        )


def _subnets(env: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    # One /22 application and one /24 data subnet per zone (see stacks/network.py).
    zones = len(env("availability_zones"))
    needed = zones * (2**10 + 2**8)
    available = ipaddress.IPv4Network(env("vpc_cidr")).num_addresses
    if needed > available:
        yield (
            "vpc_cidr",
            f"has {available} addresses but {zones} zones need {needed} (a /22 and a /24 per zone); "
            "use a larger network or fewer zones",
        )


def _partition(env: Callable[..., Any], read: _Reader) -> Iterator[tuple[str, str]]:
    pipeline_region = read("pipeline", "region")
    mine, theirs = aws_facts.partition_of(env("region")), aws_facts.partition_of(pipeline_region)
    if mine != theirs:
        yield (
            "region",
            f"is in partition {mine} but the pipeline is in {theirs} ({pipeline_region}): a pipeline cannot deploy "
            "across partitions; give this environment a pipeline of its own, in a configuration file per partition",
        )


ENVIRONMENT_RULES: tuple[EnvironmentRule, ...] = (
    _database,
    _storage,
    _cache,
    _stream,
    _fargate,
    _protected,
    _protected_logs,
    _certificate,
    _subnets,
)

# Account-wide singletons, and the scope in which a second one fails the deployment.
_SINGLETONS = {
    "cloudtrail": ("account", "a multi-region trail already records every region of the account"),
    "config": ("region", "an account has one AWS Config recorder per region"),
    "security_hub": ("region", "Security Hub is enabled once per account and region"),
    "guardduty": ("region", "an account has one GuardDuty detector per region"),
}


def check(document: dict[str, Any], invalid: list[Loc]) -> list[Problem]:
    """Every cross-field problem of `document` (environments as a list), skipping rules on invalid fields."""
    read = _Reader(document, invalid)
    problems: list[Problem] = []

    def run(prefix: Loc, rule: Callable[[], Iterator[tuple[str, str]]]) -> None:
        try:
            for field, message in rule():
                parts = tuple(int(p) if p.isdigit() else p for p in field.split("."))
                problems.append(Problem((*prefix, *parts), message))
        except _UnusableError:
            pass

    environments = document.get("environments")
    count = len(environments) if isinstance(environments, list) else 0
    for index in range(count):
        env = partial(read, "environments", index)
        for rule in ENVIRONMENT_RULES:
            run(("environments", index), partial(rule, env))
        run(("environments", index), partial(_partition, env, read))
    run(("pipeline",), partial(_connection, read))
    run(("pipeline",), partial(_build_image, read))
    run(("pipeline",), partial(_package_mirror, read))
    run(("environments",), partial(_waves, read, count))
    run(("environments",), partial(_pipeline_stages, read, count))
    run(("environments",), partial(_wave_actions, read, count))
    run(("environments",), partial(_singletons, read, count))
    return problems


def _connection(read: _Reader) -> Iterator[tuple[str, str]]:
    match = CONNECTION_ARN.fullmatch(read("pipeline", "connection_arn"))
    assert match is not None  # the field's own check refuses any other shape
    partition, _, region, account = match.groups()
    pipeline_region, pipeline_account = read("pipeline", "region"), read("pipeline", "account")
    if (partition, region, account) != (aws_facts.partition_of(pipeline_region), pipeline_region, pipeline_account):
        yield "connection_arn", "must be in the pipeline's own partition, region and account"


def _build_image(read: _Reader) -> Iterator[tuple[str, str]]:
    uri, region = read("pipeline", "build_image", default=None), read("pipeline", "region")
    if uri is None:
        return
    image = EcrImage.parse(uri)  # the field's own check refuses any other shape
    suffix = "amazonaws.com.cn" if aws_facts.partition_of(region) == "aws-cn" else "amazonaws.com"
    if (image.region, image.suffix) != (region, suffix):
        yield (
            "build_image",
            f"must be in the pipeline's own region ({image.account}.dkr.ecr.{region}.{suffix}/...), where the "
            "CodeBuild projects that pull it run",
        )


def _package_mirror(read: _Reader) -> Iterator[tuple[str, str]]:
    mirror, region = read("pipeline", "package_mirror", default=None), read("pipeline", "region")
    if mirror is not None and not aws_facts.resource_type_offered(region, "AWS::CodeArtifact::Domain"):
        yield (
            "package_mirror",
            f"needs AWS CodeArtifact in the pipeline's region, and {region} does not offer it (cfn-lint's list of "
            "the region's resource types has no AWS::CodeArtifact::Domain)",
        )


def _waves(read: _Reader, count: int) -> Iterator[tuple[str, str]]:
    seen: dict[str, int] = {}
    for index in range(count):
        wave = read("environments", index, "wave", default=None)
        if wave is None:
            continue
        first = seen.setdefault(wave, index)
        if first == index:
            continue
        if read("environments", index - 1, "wave", default=None) != wave:
            yield (
                f"{index}.wave",
                f"must stand next to the other environments of wave {wave!r} in the file "
                "(promotion order is file order)",
            )
        elif read("environments", index, "approval") != read("environments", first, "approval"):
            yield f"{index}.approval", f"must be the same for every environment of wave {wave!r} (one approval)"


# The pipeline's own stages, before and after the environments' (CDK Pipelines names the first four).
RESERVED_PIPELINE_STAGES = frozenset(
    {"Source", "Build", "PipelineChange", "UpdatePipeline", "Assets", "Evidence-Signing"}
)
# The pipeline stack's own children beside the stages (a test reads them from the fixture and boundary apps):
# a stage of one of these ids would collide with one. "Pipeline" is also the pipeline stack's compliance scope.
RESERVED_STAGE_IDS = frozenset(
    {
        "ApprovalTopic",
        "ApprovalWaiting",
        "ArtifactKey",
        "ArtifactStore",
        "BootstrapVersion",
        "BuildImage",
        "BuildLogs",
        "CheckBootstrapVersion",
        "CodePipeline",
        "ComplianceReports",
        "DefinitionGuard",
        "EvidenceSigningKey",
        "PackageMirror",
        "Pipeline",
        "RunFailed",
        "SecurityDiff",
        "TelemetryKey",
        "TestReports",
    }
)


def _groups(read: _Reader, count: int) -> list[range]:
    """The environments as the pipeline deploys them: neighbours of one wave together, every other one alone."""
    groups: list[range] = []
    index = 0
    while index < count:
        wave = read("environments", index, "wave", default=None)
        end = index + 1
        while wave is not None and end < count and read("environments", end, "wave", default=None) == wave:
            end += 1
        groups.append(range(index, end))
        index = end
    return groups


def _pipeline_stages(read: _Reader, count: int) -> Iterator[tuple[str, str]]:
    """Every stage id, and every pipeline stage an environment or a wave becomes, is a name of its own.

    'prod-2' and 'prod2' are both the stage 'Prod2'; an environment 'build' would be a second pipeline
    stage 'Build'; a wave 'prod' beside an environment 'prod' would be two pipeline stages 'Prod'. The
    CDK refuses each at synth with a construct error; here it is one line naming the field.
    """
    stages: dict[str, str] = {}
    named: set[int] = set()  # environments whose stage id is refused already: not named twice
    for index in range(count):
        name = read("environments", index, "name")
        stage = stage_id_of(name)
        if stage in RESERVED_STAGE_IDS:
            named.add(index)
            yield f"{index}.name", f"is the stage {stage!r}, a name the pipeline stack uses itself; choose another name"
        elif stages.setdefault(stage, name) != name:
            named.add(index)
            yield f"{index}.name", f"is the stage {stage!r}, as environment {stages[stage]!r} is; choose another name"
    owners: dict[str, str] = {}
    for group in _groups(read, count):
        # A wave of one deploys as its environment's stage (pipeline/pipeline_stack.py).
        name, wave = read("environments", group[0], "name"), read("environments", group[0], "wave", default=None)
        field, owner = ("wave", f"wave {wave!r}") if len(group) > 1 else ("name", f"environment {name!r}")
        pipeline_stage = stage_id_of(wave if len(group) > 1 else name)
        if field == "name" and group[0] in named:
            continue
        if pipeline_stage in RESERVED_PIPELINE_STAGES:
            problem = f"becomes the pipeline stage {pipeline_stage!r}, which the pipeline has already"
        elif owners.setdefault(pipeline_stage, owner) != owner:
            problem = f"becomes the pipeline stage {pipeline_stage!r}, as {owners[pipeline_stage]} does"
        else:
            continue
        for index in group:
            yield f"{index}.{field}", problem


# CodePipeline's quota of actions in one stage (AWS CodePipeline User Guide, quotas).
MAX_ACTIONS_PER_STAGE = 50
# The stacks of a stage without a Baseline stack (Keys, Network, Data, Service, Observability).
WORKLOAD_STACKS = 5


def stage_actions(*, protect_data: bool, baseline: bool) -> int:
    """The actions one environment adds to its pipeline stage (pipeline/pipeline_stack.py `_add_wave`).

    Two per stack (CDK Pipelines' change set, then its execution), the smoke test, the termination
    protection step of a stage that keeps its data, and the security diff's check and confirmation,
    which every environment has, with or without an approval. A wave's approval is one more.
    """
    return 2 * (WORKLOAD_STACKS + int(baseline)) + 1 + int(protect_data) + 2


def _wave_actions(read: _Reader, count: int) -> Iterator[tuple[str, str]]:
    """A wave's pipeline stage holds at most MAX_ACTIONS_PER_STAGE actions: its members' and one approval."""
    for group in _groups(read, count):
        approval = bool(read("environments", group[0], "approval"))
        actions = int(approval) + sum(_actions_of(read, member) for member in group)
        if len(group) > 1 and actions > MAX_ACTIONS_PER_STAGE:
            yield (
                f"{group[-1]}.wave",
                f"makes its pipeline stage {actions} actions, more than the {MAX_ACTIONS_PER_STAGE} CodePipeline "
                f"allows in one stage (each environment adds up to "
                f"{stage_actions(protect_data=True, baseline=True)}): split the wave",
            )


def _actions_of(read: _Reader, index: int) -> int:
    baseline = AccountBaseline.model_validate(read("environments", index, "account_baseline", default=False))
    return stage_actions(
        protect_data=bool(read("environments", index, "protect_data")),
        baseline=bool(baseline.services),
    )


def _singletons(read: _Reader, count: int) -> Iterator[tuple[str, str]]:
    owners: dict[tuple[str, ...], int] = {}
    for index in range(count):
        # The field itself is valid here (the reader refuses it otherwise): the model reads its shorthand.
        baseline = AccountBaseline.model_validate(read("environments", index, "account_baseline", default=False))
        for service, (scope, why) in _SINGLETONS.items():
            if service not in baseline.services:
                continue
            where = [read("environments", index, "account")]
            if scope == "region":
                where.append(read("environments", index, "region"))
            first = owners.setdefault((service, *where), index)
            if first != index:
                other = read("environments", first, "name")
                yield (
                    f"{index}.account_baseline.{service}",
                    f"is also on for {other} in the same account{' and region' if scope == 'region' else ''}: "
                    f"{why}; turn it on for one of them only",
                )
