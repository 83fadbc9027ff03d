"""`make cost`: an approximate monthly cost per stage, counted from a synthesized assembly's templates.

For each stage (and the pipeline's own stacks) this counts what is billed by the hour or the month
whatever the traffic, from the resources' synthesized properties: RDS instance hours (two for a
Multi-AZ instance) and storage, ElastiCache node hours, Kinesis shard hours and extended retention,
interface VPC endpoints per Availability Zone, NAT gateways, Fargate vCPU and memory of the desired
tasks, load balancers, WAF web ACLs and rules, KMS keys, secrets, CloudWatch alarm metrics and
dashboards. Each line is multiplied by the price table `config/prices.yaml` (us-east-1 on-demand list
prices, each with its page and the date it was read). What is billed only by use (CloudTrail data
events, AWS Config items and evaluations, Security Hub checks, GuardDuty, API requests, log
ingestion, build minutes, ...) is listed with the page that prices it, not estimated.

The result is Markdown on stdout: a summary per stage, then each stage's lines, largest first. It is
an estimate to compare layouts and find what dominates, not a quote: every stage is priced at the
table's region, and regional prices differ. A resource whose price the table lacks is shown as such
and left out of the sum. Reads the assembly as JSON through `compliance.assembly`: no jsii, no AWS.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY, CloudAssembly, StackView  # noqa: E402

PRICES_FILE = ROOT / "config" / "prices.yaml"


@dataclass(frozen=True)
class Price:
    """One line of the price table."""

    key: str
    usd: float
    per: str
    page: str
    source: str
    read: str
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    hours_per_month: float
    region: str
    prices: dict[str, Price]
    pages: dict[str, str]  # service (the first part of a key) -> AWS's pricing page

    def page_of(self, key: str) -> str:
        return self.pages.get(key.split(".", 1)[0], "")


def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    prices = {
        key: Price(
            key=key,
            usd=float(entry["usd"]),
            per=str(entry["per"]),
            page=str(entry["page"]),
            source=str(entry["source"]),
            read=str(entry["read"]),
            note=" ".join(str(entry.get("note", "")).split()),
        )
        for key, entry in document["prices"].items()
    }
    pages = {str(k): str(v) for k, v in document.get("pages", {}).items()}
    return PriceTable(float(document["hours_per_month"]), str(document["region"]), prices, pages)


@dataclass(frozen=True)
class Line:
    """Something billed in one stage: how much of it a month, and the price key it is billed at.

    `hourly` lines count hours (the quantity is multiplied by the hours of a month); a line whose
    `usage` is set is billed only by use and carries what is metered instead of a price.
    """

    what: str
    quantity: float
    unit: str
    key: str
    hourly: bool = True
    usage: str = ""
    count: int = 1


# --- what each resource type is billed for -----------------------------------------------------------------


def _number(value: Any, default: float = 0.0) -> float:
    """A property's value as a number; `default` where the template leaves it to deploy time (an intrinsic)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _rds(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    engine, klass = str(props.get("Engine", "postgres")), str(props.get("DBInstanceClass", "?"))
    multi_az = props.get("MultiAZ") is True
    copies = 2 if multi_az else 1
    deployment = "Multi-AZ (primary and standby)" if multi_az else "single-AZ"
    yield Line(f"RDS {engine} {klass}, {deployment}", copies, "instance-hours", f"rds.{engine}.{klass}")
    storage, kind = _number(props.get("AllocatedStorage")), str(props.get("StorageType", "gp2"))
    grows = f", grows to {int(_number(props['MaxAllocatedStorage']))} GiB" if "MaxAllocatedStorage" in props else ""
    yield Line(
        f"RDS {kind} storage, {int(storage)} GiB{' × 2' if multi_az else ''}{grows}",
        storage * copies,
        "GB-months",
        f"rds.storage.{kind}",
        hourly=False,
    )


def _elasticache(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    engine, node = str(props.get("Engine", "redis")), str(props.get("CacheNodeType", "?"))
    if "NumCacheClusters" in props:
        nodes = int(_number(props["NumCacheClusters"], 1))
    else:
        nodes = int(_number(props.get("NumNodeGroups"), 1)) * (int(_number(props.get("ReplicasPerNodeGroup"))) + 1)
    yield Line(f"ElastiCache {engine} {node}, {nodes} node(s)", nodes, "node-hours", f"elasticache.{engine}.{node}")


def _kinesis(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    mode = str(props.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED"))
    retention = _number(props.get("RetentionPeriodHours"), 24)
    if mode == "ON_DEMAND":
        yield Line("Kinesis stream, on-demand", 1, "stream-hours", "kinesis.on_demand_stream")
        yield Line("Kinesis on-demand data written and read", 1, "stream(s)", "kinesis", usage="per GB")
        shards = 0.0
    else:
        shards = _number(props.get("ShardCount"), 1)
        yield Line(f"Kinesis stream, {int(shards)} shard(s)", shards, "shard-hours", "kinesis.shard")
        yield Line("Kinesis PUT payload units", 1, "stream(s)", "kinesis", usage="per million PUT payload units")
    if retention > 24 and shards:
        kept = f"{int(retention)} h retention"
        yield Line(f"Kinesis extended retention ({kept})", shards, "shard-hours", "kinesis.extended_retention")
    if retention > 168:
        yield Line("Kinesis long-term retention (beyond seven days)", 1, "stream(s)", "kinesis", usage="per GB-month")


def _vpc_endpoint(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    if props.get("VpcEndpointType") != "Interface":
        return  # gateway endpoints (S3, DynamoDB) are not billed
    subnets = props.get("SubnetIds")
    zones = len(subnets) if isinstance(subnets, list) else 1  # one subnet per zone
    yield Line(
        f"Interface VPC endpoint in {zones} zone(s)", zones, "endpoint-zone-hours", "privatelink.interface_endpoint"
    )


def _nat_gateway(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    yield Line("NAT gateway", 1, "gateway-hours", "vpc.nat_gateway")


def _fargate_service(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    reference = props.get("TaskDefinition")
    task_id = reference.get("Ref") if isinstance(reference, dict) else None
    task = stack.resources.get(task_id or "", {}).get("Properties", {})
    if not task or "FARGATE" not in task.get("RequiresCompatibilities", []):
        return
    tasks = _number(props.get("DesiredCount"), 1)
    vcpu, gib = _number(task.get("Cpu")) / 1024, _number(task.get("Memory")) / 1024
    arch = str(task.get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64")).lower()
    shape = f"{int(tasks)} task(s) of {vcpu:g} vCPU, {gib:g} GB ({arch})"
    yield Line(f"Fargate vCPU, {shape}", tasks * vcpu, "vCPU-hours", f"fargate.linux.{arch}.vcpu")
    yield Line(f"Fargate memory, {shape}", tasks * gib, "GB-hours", f"fargate.linux.{arch}.gb")


def _load_balancer(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    kind = str(props.get("Type", "application"))
    yield Line(f"Elastic Load Balancing, {kind}", 1, "load-balancer-hours", f"elb.{kind}")
    yield Line(f"Load balancer capacity units ({kind})", 1, "load balancer(s)", "elb", usage="per capacity-unit-hour")


def _web_acl(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    rules = props.get("Rules", [])
    yield Line("WAF web ACL", 1, "web ACL-months", "waf.web_acl", hourly=False)
    yield Line("WAF rules and managed rule groups", len(rules), "rule-months", "waf.rule", hourly=False)
    yield Line("WAF requests inspected", 1, "web ACL(s)", "waf", usage="per million requests")


def _kms_key(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    spec = str(props.get("KeySpec", "SYMMETRIC_DEFAULT"))
    yield Line(f"KMS key ({spec})", 1, "key-months", "kms.key", hourly=False)


def _alarm(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    metrics = 1 if "MetricName" in props else sum(1 for m in props.get("Metrics", []) if "MetricStat" in m)
    yield Line("CloudWatch alarm metrics", metrics, "alarm-metric-months", "cloudwatch.alarm_metric", hourly=False)


def _monthly(what: str, unit: str, key: str) -> Callable[[dict[str, Any], StackView], Iterator[Line]]:
    def lines(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
        yield Line(what, 1, unit, key, hourly=False)

    return lines


def _per_use(what: str, key: str, metered: str) -> Callable[[dict[str, Any], StackView], Iterator[Line]]:
    def lines(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
        yield Line(what, 1, "resource(s)", key, usage=metered)

    return lines


def _trail(props: dict[str, Any], stack: StackView) -> Iterator[Line]:
    selectors = [*props.get("EventSelectors", []), *props.get("AdvancedEventSelectors", [])]
    data_events = any(s.get("DataResources") or s.get("FieldSelectors") for s in selectors)
    what = "CloudTrail trail, with data events" if data_events else "CloudTrail trail"
    yield Line(what, 1, "trail(s)", "cloudtrail", usage="per event recorded")


RULES: dict[str, Callable[[dict[str, Any], StackView], Iterator[Line]]] = {
    "AWS::RDS::DBInstance": _rds,
    "AWS::ElastiCache::ReplicationGroup": _elasticache,
    "AWS::Kinesis::Stream": _kinesis,
    "AWS::EC2::VPCEndpoint": _vpc_endpoint,
    "AWS::EC2::NatGateway": _nat_gateway,
    "AWS::ECS::Service": _fargate_service,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer,
    "AWS::WAFv2::WebACL": _web_acl,
    "AWS::KMS::Key": _kms_key,
    "AWS::SecretsManager::Secret": _monthly("Secrets Manager secret", "secret-months", "secretsmanager.secret"),
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _monthly("CloudWatch dashboard", "dashboard-months", "cloudwatch.dashboard"),
    "AWS::CloudTrail::Trail": _trail,
    "AWS::Config::ConfigurationRecorder": _per_use("AWS Config recorder", "config", "per configuration item recorded"),
    "AWS::Config::ConformancePack": _per_use("AWS Config conformance pack", "config", "per rule evaluation"),
    "AWS::SecurityHub::Hub": _per_use("Security Hub", "securityhub", "per security check and finding ingested"),
    "AWS::GuardDuty::Detector": _per_use("GuardDuty detector", "guardduty", "per event and GB analysed"),
    "AWS::ApiGateway::Stage": _per_use("API Gateway REST API stage", "apigateway", "per million requests"),
    "AWS::Logs::LogGroup": _per_use("CloudWatch Logs log groups", "cloudwatch", "per GB ingested and stored"),
    "AWS::Backup::BackupPlan": _per_use("AWS Backup plan", "backup", "per GB-month of backups"),
    "AWS::CodeBuild::Project": _per_use("CodeBuild projects", "codebuild", "per build minute"),
    "AWS::CodePipeline::Pipeline": _per_use("CodePipeline (V2)", "codepipeline", "per action execution minute"),
    "AWS::Lambda::Function": _per_use("Lambda functions", "lambda", "per request and GB-second"),
    "AWS::S3::Bucket": _per_use("S3 buckets", "s3", "per GB-month and request"),
}


def lines_of(stacks: Iterable[StackView]) -> list[Line]:
    """Every billed line of `stacks`, the same lines merged (their quantities and counts added)."""
    merged: dict[tuple[str, str, str, str], Line] = {}
    for stack in stacks:
        for resource in stack.resource_views():
            rule = RULES.get(resource.type)
            for line in rule(resource.properties, stack) if rule else ():
                ident = (line.what, line.key, line.unit, line.usage)
                known = merged.get(ident)
                merged[ident] = (
                    replace(known, quantity=known.quantity + line.quantity, count=known.count + line.count)
                    if known
                    else line
                )
    return list(merged.values())


# --- pricing and the Markdown ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Priced:
    line: Line
    quantity: float  # a month's worth, in the price's unit
    price: Price | None
    monthly: float | None  # None: not in the table, or billed by use


@dataclass(frozen=True)
class StageEstimate:
    stage: str
    regions: tuple[str, ...]
    lines: tuple[Priced, ...]

    @property
    def total(self) -> float:
        return sum(p.monthly for p in self.lines if p.monthly is not None)

    @property
    def unpriced(self) -> int:
        return sum(1 for p in self.lines if p.monthly is None and not p.line.usage)

    @property
    def per_use(self) -> int:
        return sum(1 for p in self.lines if p.line.usage)


def price(lines: Iterable[Line], table: PriceTable) -> tuple[Priced, ...]:
    """Each line with its month's quantity and cost, the largest first; unpriced and per-use lines last."""
    priced: list[Priced] = []
    for line in lines:
        quantity = line.quantity * (table.hours_per_month if line.hourly else 1)
        found = None if line.usage else table.prices.get(line.key)
        priced.append(Priced(line, quantity, found, quantity * found.usd if found else None))
    return tuple(
        sorted(priced, key=lambda p: (p.monthly is None, bool(p.line.usage), -(p.monthly or 0.0), p.line.what))
    )


def estimate(assembly: CloudAssembly, table: PriceTable) -> list[StageEstimate]:
    """One estimate per stage in promotion order, the pipeline's own stacks first (as "Pipeline")."""
    return [
        StageEstimate(stage or "Pipeline", tuple(sorted({s.region for s in stacks})), price(lines_of(stacks), table))
        for stage, stacks in assembly.stages().items()
        if stacks
    ]


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _unit_price(value: float) -> str:
    """$1.00, $0.40, $0.065, $0.04048: cents at least, and every digit the table gives."""
    digits = f"{value:.6f}".rstrip("0")
    whole, _, cents = digits.partition(".")
    return f"${int(whole):,}.{cents.ljust(2, '0')}"


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _row(p: Priced, table: PriceTable) -> str:
    line = p.line
    what = f"{line.what} (×{line.count})" if line.count > 1 else line.what
    if line.usage:
        return f"| {what} | {line.count} {line.unit} | billed {line.usage}: {table.page_of(line.key)} | – |"
    if p.price is None:
        missing = f"no price in config/prices.yaml: {table.page_of(line.key)}"
        return f"| {what} | {_quantity(p.quantity)} {line.unit} | {missing} | – |"
    unit = f"{_unit_price(p.price.usd)} per {p.price.per}"
    return f"| {what} | {_quantity(p.quantity)} {line.unit} | {unit} | {_usd(p.monthly or 0.0)} |"


def render(estimates: list[StageEstimate], table: PriceTable) -> str:
    read = sorted({p.read for p in table.prices.values()})
    lines = [
        "# Approximate monthly cost per stage",
        "",
        f"Prices: {table.region} on-demand list prices from config/prices.yaml (read {', '.join(read)}), applied to",
        "every stage whatever its region: regional prices differ, and AWS changes them. A month is "
        f"{table.hours_per_month:g} hours.",
        "Lines billed only by use are listed with the page that prices them and are not in the sums;",
        "neither are lines the table has no price for. An estimate to compare layouts, not a quote.",
        "",
        "| Stage | Region | Priced lines per month | Lines without a price | Lines billed by use |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {e.stage} | {', '.join(e.regions)} | {_usd(e.total)} | {e.unpriced} | {e.per_use} |" for e in estimates
    ]
    for e in estimates:
        lines += ["", f"## {e.stage} ({', '.join(e.regions)})", ""]
        lines += ["| What | Quantity | Price | Per month |", "| --- | ---: | --- | ---: |"]
        lines += [_row(p, table) for p in e.lines]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assembly", default=str(ROOT / OUTPUT_DIRECTORY))
    parser.add_argument("--prices", default=str(PRICES_FILE))
    args = parser.parse_args(argv)
    assembly = CloudAssembly(args.assembly)
    if not assembly.exists():
        print(f"{args.assembly} holds no cloud assembly: run `make synth` first", file=sys.stderr)
        return 2
    table = load_prices(Path(args.prices))
    print(render(estimate(assembly, table), table), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
