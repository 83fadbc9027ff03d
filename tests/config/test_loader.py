"""Configuration is validated before anything is built, with one line per problem."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import DEFAULT_CONFIG_PATH, PROJECT_ROOT, AppConfig, ConfigError, aws_facts, load_config, parse_config


def _default() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    return raw


def _problems(raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="test.yaml")
    return caught.value.problems


def _with(path: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(_default())
    *parents, leaf = path.split(".")
    node = raw
    for part in parents:
        node = node[part]
    node[leaf] = value
    return raw


def test_default_config_loads_in_promotion_order(default_config: AppConfig) -> None:
    assert [env.name for env in default_config.environments] == ["dev", "staging", "prod"]
    assert [env.stage_id for env in default_config.environments] == ["Dev", "Staging", "Prod"]


def test_prod_protects_data_and_dev_does_not(default_config: AppConfig) -> None:
    assert default_config.environment("prod").protect_data is True
    assert default_config.environment("staging").protect_data is True
    assert default_config.environment("dev").protect_data is False


def test_order_in_the_file_does_not_change_promotion_order() -> None:
    raw = _default()
    raw["environments"] = dict(reversed(list(raw["environments"].items())))
    assert [e.name for e in parse_config(raw).environments] == ["dev", "staging", "prod"]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "environments.staging.account",
            "12345",
            "environments.staging.account: '12345' is not a 12-digit AWS account id",
        ),
        (
            "environments.prod.account",
            444444444444,
            'environments.prod.account: 444444444444 must be quoted, e.g. account: "012345678901"',
        ),
        ("pipeline.account", "abc", "pipeline.account: 'abc' is not a 12-digit AWS account id"),
        (
            "environments.dev.region",
            "us-west-9",
            "environments.dev.region: 'us-west-9' is not an AWS region",
        ),
        (
            "environments.dev.availability_zones",
            ["us-west-2a", "us-east-1b"],
            "environments.dev.availability_zones: ['us-west-2a', 'us-east-1b'] contains 'us-east-1b', "
            "which is not a zone of us-west-2",
        ),
        ("environments.dev.vpc_cidr", "10.0.0.0/33", "environments.dev.vpc_cidr: '10.0.0.0/33' is not an IPv4"),
        ("environments.dev.vpc_cidr", "8.8.0.0/16", "environments.dev.vpc_cidr: '8.8.0.0/16' must be a private"),
        ("environments.dev.log_retention_days", 366, "environments.dev.log_retention_days: 366 is not a CloudWatch"),
        ("environments.dev.protect_data", "no", "environments.dev.protect_data: 'no' should be a valid boolean"),
        ("environments.dev.service.cpu", "256", "environments.dev.service.cpu: '256' should be a valid integer"),
        (
            "environments.dev.service.memory_mib",
            4096,
            "environments.dev.service.memory_mib: 4096 is not valid with cpu 256",
        ),
        (
            "environments.prod.stream",
            {"mode": "provisioned", "retention_hours": 24},
            "environments.prod.stream.shard_count: (absent) is required when mode is 'provisioned'",
        ),
        (
            "environments.dev.cache.engine_version",
            "6.2",
            "environments.dev.cache.engine_version: '6.2' is not an ElastiCache valkey version",
        ),
        ("pipeline.repository", "no-slash", "pipeline.repository: 'no-slash' is not of the form owner/name"),
        (
            "pipeline.connection_arn",
            "arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-0000-4000-8000-000000000000",
            "pipeline.connection_arn: 'arn:aws:codeconnections:us-east-1:",
        ),
    ],
)
def test_each_bad_value_is_named_with_its_path_and_value(path: str, value: Any, expected: str) -> None:
    problems = _problems(_with(path, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_deprecated_postgres_version_from_the_failure_report_is_refused() -> None:
    # Failure report #1: 15.4 was not offered for new instances. Its "fix", 15.8, has expired since.
    for version in ("15.4", "15.8"):
        (problem,) = _problems(_with("environments.prod.database.engine_version", version))
        assert problem.startswith(
            f"environments.prod.database.engine_version: '{version}' is deprecated for new RDS PostgreSQL instances"
        )
        suggested = problem.split("use one of ")[1].split(", ")
        current = aws_facts.rds_engine_versions("postgres").current
        assert suggested, problem
        assert all(v in current for v in suggested), (suggested, current)


def test_a_version_aws_never_offered_is_refused() -> None:
    (problem,) = _problems(_with("environments.dev.database.engine_version", "17.99"))
    assert "'17.99' is not an RDS PostgreSQL version" in problem


def test_instance_class_that_does_not_run_the_version_is_refused() -> None:
    (problem,) = _problems(_with("environments.dev.database.instance_type", "db.m1.small"))
    assert problem.startswith("environments.dev.database.instance_type: 'db.m1.small' does not run PostgreSQL 17.9")


def test_default_versions_are_current_in_cfn_lint_data(default_config: AppConfig) -> None:
    current = aws_facts.rds_engine_versions("postgres").current
    for env in default_config.environments:
        assert env.database.engine_version in current


def test_unknown_key_is_refused() -> None:
    raw = _with("environments.dev.database.colour", "red")
    assert _problems(raw) == ["environments.dev.database.colour: unknown key"]


def test_missing_key_is_reported() -> None:
    raw = _default()
    del raw["environments"]["staging"]["vpc_cidr"]
    assert _problems(raw) == ["environments.staging.vpc_cidr: missing (required)"]


def test_unknown_environment_and_missing_stage_are_reported_together() -> None:
    raw = _default()
    raw["environments"]["qa"] = raw["environments"].pop("staging")
    problems = _problems(raw)
    assert "environments.qa: unknown environment (expected exactly: dev, staging, prod)" in problems
    assert "environments.staging: missing stage (every pipeline deploys dev, staging, prod)" in problems


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    raw = _with("environments.staging.account", "12345")
    raw["pipeline"]["region"] = "mars-1"
    assert len(_problems(raw)) == 2


def test_malformed_yaml_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline:\n  account: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    (problem,) = caught.value.problems
    assert problem.startswith("malformed YAML: line 3, column 1:")


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    assert caught.value.problems == ["cannot read the file: No such file or directory"]


def test_app_exits_non_zero_with_one_line_per_problem_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with("environments.staging.account", "12345")))
    outdir = tmp_path / "cdk.out"
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "app.py")],
        env={"PATH": "/usr/bin:/bin", "MONITORING_CONFIG": str(bad), "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "environments.staging.account: '12345' is not a 12-digit AWS account id" in result.stderr
    assert "Traceback" not in result.stderr
    assert not outdir.exists()
