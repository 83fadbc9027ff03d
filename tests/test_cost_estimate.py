"""`make cost` on a small hand-written assembly and price table: what is counted, priced, left unpriced or per use.

No synth: the assembly is a few templates written here in the layout `cdk synth` writes (a top-level
manifest, a nested assembly per stage), read through `compliance.assembly` as the script reads cdk.out.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance.assembly import CloudAssembly
from scripts import cost_estimate
from scripts.cost_estimate import PRICES_FILE, estimate, load_prices, main, render

PRICES = {
    "hours_per_month": 730,
    "region": "us-east-1",
    "pages": {
        "rds": "https://aws.example/rds",
        "elasticache": "https://aws.example/cache",
        "config": "https://aws.example/config",
    },
    "prices": {
        key: {
            "usd": usd,
            "per": per,
            "page": "https://aws.example/p",
            "source": "https://aws.example/s",
            "read": "2026-12-06",
        }
        for key, usd, per in [
            ("rds.postgres.db.t4g.medium", 0.1, "instance-hour"),
            ("rds.storage.gp3", 0.1, "GB-month"),
            ("kinesis.shard", 0.01, "shard-hour"),
            ("kinesis.extended_retention", 0.02, "shard-hour"),
            ("privatelink.interface_endpoint", 0.01, "endpoint-zone-hour"),
            ("fargate.linux.arm64.vcpu", 0.04, "vCPU-hour"),
            ("fargate.linux.arm64.gb", 0.004, "GB-hour"),
            ("kms.key", 1.0, "key-month"),
            ("cloudwatch.alarm_metric", 0.1, "alarm-metric-month"),
        ]
    },
}

_DATA = {
    "Database": {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "Engine": "postgres",
            "DBInstanceClass": "db.t4g.medium",
            "MultiAZ": True,
            "AllocatedStorage": "100",
            "StorageType": "gp3",
        },
    },
    "Cache": {
        "Type": "AWS::ElastiCache::ReplicationGroup",
        "Properties": {
            "Engine": "valkey",
            "CacheNodeType": "cache.t4g.small",
            "NumNodeGroups": 1,
            "ReplicasPerNodeGroup": 2,
        },
    },
    "Stream": {
        "Type": "AWS::Kinesis::Stream",
        "Properties": {
            "ShardCount": 2,
            "RetentionPeriodHours": 168,
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        },
    },
    "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
    "Recorder": {"Type": "AWS::Config::ConfigurationRecorder", "Properties": {}},
}
_NETWORK = {
    f"Endpoint{i}": {
        "Type": "AWS::EC2::VPCEndpoint",
        "Properties": {"VpcEndpointType": "Interface", "SubnetIds": ["a", "b", "c"]},
    }
    for i in range(2)
} | {"S3": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Gateway"}}}
_SERVICE = {
    "Task": {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {
            "Cpu": "1024",
            "Memory": "2048",
            "RequiresCompatibilities": ["FARGATE"],
            "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
        },
    },
    "Service": {"Type": "AWS::ECS::Service", "Properties": {"DesiredCount": 2, "TaskDefinition": {"Ref": "Task"}}},
    "Plain": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "CPUUtilization"}},
    "OverNodes": {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Metrics": [
                {"Id": "m1", "MetricStat": {}},
                {"Id": "m2", "MetricStat": {}},
                {"Id": "e", "Expression": "MAX([m1,m2])"},
            ]
        },
    },
}


def _stack(
    directory: Path, name: str, display: str, region: str, resources: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    (directory / f"{name}.template.json").write_text(json.dumps({"Resources": resources}))
    return name, {
        "type": "aws:cloudformation:stack",
        "environment": f"aws://123456789012/{region}",
        "displayName": display,
        "properties": {"templateFile": f"{name}.template.json"},
    }


def _assembly(root: Path) -> Path:
    """A pipeline stack and one stage, Prod, of three stacks in us-west-2."""
    stage = root / "assembly-Pipeline-Prod"
    stage.mkdir(parents=True)
    stacks = dict(
        _stack(stage, f"Prod{part}", f"Pipeline/Prod/{part}", "us-west-2", resources)
        for part, resources in (("Data", _DATA), ("Network", _NETWORK), ("Service", _SERVICE))
    )
    (stage / "manifest.json").write_text(json.dumps({"artifacts": stacks}))
    pipeline = dict([_stack(root, "Pipeline", "Pipeline", "us-east-1", {"Key": {"Type": "AWS::KMS::Key"}})])
    nested = {
        "assembly-Pipeline-Prod": {
            "type": "cdk:cloud-assembly",
            "properties": {"directoryName": "assembly-Pipeline-Prod", "displayName": "Pipeline/Prod"},
        }
    }
    (root / "manifest.json").write_text(json.dumps({"artifacts": {**nested, **pipeline}}))
    return root


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(yaml.safe_dump(PRICES))
    return path


def _lines(tmp_path: Path, prices: Path) -> dict[str, cost_estimate.Priced]:
    estimates = estimate(CloudAssembly(_assembly(tmp_path / "cdk.out")), load_prices(prices))
    assert [(e.stage, e.regions) for e in estimates] == [("Pipeline", ("us-east-1",)), ("Prod", ("us-west-2",))]
    return {p.line.what: p for p in estimates[1].lines}


def test_a_multi_az_database_is_two_instances_and_two_copies_of_its_storage(tmp_path: Path, prices: Path) -> None:
    lines = _lines(tmp_path, prices)

    instance = lines["RDS postgres db.t4g.medium, Multi-AZ (primary and standby)"]
    storage = lines["RDS gp3 storage, 100 GiB × 2"]
    assert instance.quantity == 2 * 730
    assert instance.monthly == pytest.approx(146.0)
    assert storage.quantity == 200
    assert storage.monthly == pytest.approx(20.0)


def test_shards_retention_endpoints_per_zone_and_fargate_tasks_are_counted(tmp_path: Path, prices: Path) -> None:
    lines = _lines(tmp_path, prices)

    assert lines["Kinesis stream, 2 shard(s)"].monthly == pytest.approx(2 * 730 * 0.01)
    assert lines["Kinesis extended retention (168 h retention)"].monthly == pytest.approx(2 * 730 * 0.02)
    # Two interface endpoints in three zones each; the gateway endpoint is not billed.
    endpoints = lines["Interface VPC endpoint in 3 zone(s)"]
    assert (endpoints.line.count, endpoints.quantity) == (2, 6 * 730)
    assert not any("Gateway" in what for what in lines)
    vcpu = lines["Fargate vCPU, 2 task(s) of 1 vCPU, 2 GB (arm64)"]
    memory = lines["Fargate memory, 2 task(s) of 1 vCPU, 2 GB (arm64)"]
    assert (vcpu.quantity, memory.quantity) == (2 * 730, 4 * 730)
    # An alarm on metric math is billed for each metric it reads, not for the expression.
    assert lines["CloudWatch alarm metrics"].quantity == 3


def test_what_the_table_has_no_price_for_is_listed_and_left_out_of_the_sum(tmp_path: Path, prices: Path) -> None:
    estimates = estimate(CloudAssembly(_assembly(tmp_path / "cdk.out")), load_prices(prices))
    prod = estimates[1]
    cache = next(p for p in prod.lines if p.line.what.startswith("ElastiCache"))

    assert (cache.line.what, cache.quantity, cache.monthly) == (
        "ElastiCache valkey cache.t4g.small, 3 node(s)",
        3 * 730,
        None,
    )
    assert prod.unpriced == 1
    assert prod.total == pytest.approx(sum(p.monthly for p in prod.lines if p.monthly is not None))
    recorder = next(p for p in prod.lines if p.line.what == "AWS Config recorder")
    assert (recorder.line.usage, recorder.monthly, prod.per_use) == ("per configuration item recorded", None, 2)


def test_the_markdown_summarises_each_stage_and_lists_its_largest_lines_first(tmp_path: Path, prices: Path) -> None:
    table = load_prices(prices)
    text = render(estimate(CloudAssembly(_assembly(tmp_path / "cdk.out")), table), table)

    assert "| Pipeline | us-east-1 | $1.00 | 0 | 0 |" in text
    prod = text.split("## Prod (us-west-2)")[1]
    rows = [line for line in prod.splitlines() if line.startswith("| ") and not line.startswith(("| What", "| ---"))]
    assert rows[0].startswith(
        "| RDS postgres db.t4g.medium, Multi-AZ (primary and standby) | 1,460 instance-hours | $0.10 "
    )
    cache = "| ElastiCache valkey cache.t4g.small, 3 node(s) | 2,190 node-hours | "
    assert cache + "no price in config/prices.yaml: https://aws.example/cache | – |" in prod
    recorder = "| AWS Config recorder | 1 resource(s) | "
    assert recorder + "billed per configuration item recorded: https://aws.example/config | – |" in prod
    assert rows.index(next(r for r in rows if "no price" in r)) < rows.index(next(r for r in rows if "billed per" in r))


def test_without_an_assembly_it_says_to_synthesize_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--assembly", str(tmp_path / "nothing")]) == 2
    assert "run `make synth` first" in capsys.readouterr().err


def test_every_committed_price_names_its_unit_its_page_its_source_and_when_it_was_read() -> None:
    document = yaml.safe_load(PRICES_FILE.read_text())
    table = load_prices()

    assert table.region == "us-east-1"
    assert table.prices
    for key, price in table.prices.items():
        entry = document["prices"][key]
        assert price.usd > 0, key
        assert price.per, key
        assert price.page.startswith("https://aws.amazon.com/"), key
        assert price.source.startswith("https://"), key
        assert isinstance(entry["read"], str), key  # quoted, so YAML keeps the date as written
        assert date.fromisoformat(price.read) <= date.today(), key
        assert table.page_of(key) == price.page, key
