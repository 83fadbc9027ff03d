"""Configuration is validated before anything is built, with one line per problem."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import PROJECT_ROOT, AppConfig, ConfigError, aws_facts, load_config, parse_config
from config.display import shown
from config.loader import LINE_LIMIT
from config.schema import (
    LOG_RETENTION_DAYS,
    M_21_31_LOG_RETENTION_DAYS,
    MAX_ENVIRONMENTS,
    PROTECTED_LOG_RETENTION_DAYS,
    stage_id_of,
)
from scripts.bench_config import alias_bomb, hostile_documents
from tests.conftest import LAYOUTS

# The shortest CloudWatch Logs retention period that meets OMB M-21-31's 30 months.
_M_21_31_PERIOD = min(d for d in LOG_RETENTION_DAYS if d >= M_21_31_LOG_RETENTION_DAYS)


def _default() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(LAYOUTS.read_text())
    return raw


def _own_certificate(body: dict[str, Any]) -> None:
    """Give an environment moved to another region or account a certificate of its new place."""
    tls = body["load_balancer_tls"]
    place = f"arn:{aws_facts.partition_of(body['region'])}:acm:{body['region']}:{body['account']}:"
    tls["certificate_arn"] = re.sub(r"^arn:[^:]+:acm:[^:]+:[0-9]{12}:", place, tls["certificate_arn"])


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


def test_promotion_order_is_the_order_of_the_file(fixture_config: AppConfig) -> None:
    raw = _default()
    names = list(raw["environments"])
    assert [env.name for env in fixture_config.environments] == names
    raw["environments"] = {name: raw["environments"][name] for name in reversed(names)}
    for body in raw["environments"].values():
        body.pop("wave", None)
        body.update(approval=True, protect_data=True, account_baseline=False)
        body["database"]["multi_az"] = True
        body["cache"]["replicas"] = max(body["cache"]["replicas"], 1)
        body["log_retention_days"] = max(body["log_retention_days"], _M_21_31_PERIOD)
    assert [e.name for e in parse_config(raw).environments] == list(reversed(names))


def test_stage_ids_derive_from_names_and_stay_stable_for_the_usual_ones() -> None:
    names = ("dev", "staging", "prod", "prod-east", "qa2")
    assert [stage_id_of(n) for n in names] == ["Dev", "Staging", "Prod", "ProdEast", "Qa2"]


def test_approval_defaults_to_every_environment_but_the_first(fixture_config: AppConfig) -> None:
    raw = _default()
    for index, env in enumerate(fixture_config.environments):
        assert env.approval is raw["environments"][env.name].get("approval", index > 0), env.name


def test_protection_follows_approval_not_the_name() -> None:
    raw = _default()
    name = next(n for n, body in raw["environments"].items() if body.get("approval") is False)
    raw["environments"][name]["approval"] = True
    problems = _problems(raw)
    assert any(
        p.startswith(f"environments.{name}.protect_data: False must be true for an environment with approval")
        for p in problems
    ), problems
    assert any(p.startswith(f"environments.{name}.database.multi_az: False must be true") for p in problems)


def test_an_approved_environment_keeps_its_logs_30_months_and_an_unprotected_one_may_not(
    fixture_config: AppConfig,
) -> None:
    protected = next(env.name for env in fixture_config.environments if env.approval)
    unprotected = next(env.name for env in fixture_config.environments if not env.approval)
    raw = _default()
    raw["environments"][protected]["log_retention_days"] = 90
    # Approval requires protect_data, which keeps logs as OMB M-21-31 asks.
    expected = f"environments.{protected}.log_retention_days: 90 must be at least {M_21_31_LOG_RETENTION_DAYS}"
    assert any(p.startswith(expected) for p in _problems(raw)), _problems(raw)
    raw = _default()
    raw["environments"][unprotected]["log_retention_days"] = 90
    assert parse_config(raw).environments[[e.name for e in fixture_config.environments].index(unprotected)]


def test_an_environment_that_protects_its_data_keeps_its_logs_as_m_21_31_asks(fixture_config: AppConfig) -> None:
    protecting = next(env.name for env in fixture_config.environments if env.protect_data)
    raw = _default()
    raw["environments"][protecting]["log_retention_days"] = 731
    assert _problems(raw) == [
        f"environments.{protecting}.log_retention_days: 731 must be at least {M_21_31_LOG_RETENTION_DAYS} (30 months; "
        "CloudWatch Logs offers 1096) for an environment with protect_data: OMB M-21-31, FedRAMP's log retention, "
        "asks for 12 months in active and 18 in cold storage"
    ]
    raw["environments"][protecting]["log_retention_days"] = _M_21_31_PERIOD
    assert parse_config(raw).environment(protecting).log_retention_days == 1096
    # Without protect_data (and approval) the year the account baseline asks for is enough.
    loose = next(env.name for env in fixture_config.environments if not env.protect_data and not env.approval)
    raw["environments"][loose]["log_retention_days"] = PROTECTED_LOG_RETENTION_DAYS
    assert parse_config(raw).environment(loose).log_retention_days == PROTECTED_LOG_RETENTION_DAYS


@pytest.mark.parametrize(
    ("arn", "place"),
    [
        ("arn:aws:acm:us-east-2:{account}:certificate/{id}", "partition aws, region us-east-2, account {account}"),
        ("arn:aws:acm:{region}:123456789012:certificate/{id}", "partition aws, region {region}, account 123456789012"),
        (
            "arn:aws-us-gov:acm:us-gov-west-1:{account}:certificate/{id}",
            "partition aws-us-gov, region us-gov-west-1, account {account}",
        ),
    ],
    ids=["other-region", "other-account", "other-partition"],
)
def test_the_load_balancer_certificate_must_be_of_the_environment_s_own_account_and_region(
    fixture_config: AppConfig, arn: str, place: str
) -> None:
    env = fixture_config.environments[0]
    values = {"account": env.account, "region": env.region, "id": "11111111-2222-4333-8444-555555555555"}
    raw = _with(f"environments.{env.name}.load_balancer_tls.certificate_arn", arn.format(**values))
    given = arn.format(**values)
    assert _problems(raw) == [
        f"environments.{env.name}.load_balancer_tls.certificate_arn: {shown(given)} is in {place.format(**values)}; "
        f"the load balancer can use only a certificate of its own (aws, {env.region}, {env.account}): request or "
        "import one there"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "certificate_arn",
            "arn:aws:acm:us-east-1:100000000001:certificate/not-an-id",
            "is not an ACM certificate ARN (arn:<partition>:acm:<region>:<account>:certificate/<uuid>)",
        ),
        (
            "certificate_arn",
            "arn:aws:iam::100000000001:server-certificate/backend",
            "is not an ACM certificate ARN (arn:<partition>:acm:<region>:<account>:certificate/<uuid>)",
        ),
        ("domain_name", "*.fixture.example", "is not a host name"),
        ("domain_name", "Backend.Fixture.Example", "is not a host name"),
        ("domain_name", "localhost", "is not a host name"),
    ],
)
def test_a_malformed_certificate_or_name_is_refused_naming_the_field(field: str, value: str, message: str) -> None:
    raw = _with(f"environments.dev.load_balancer_tls.{field}", value)
    (problem,) = _problems(raw)
    assert problem.startswith(f"environments.dev.load_balancer_tls.{field}: ")
    assert message in problem


def test_an_environment_without_a_load_balancer_certificate_is_refused() -> None:
    raw = _default()
    del raw["environments"]["dev"]["load_balancer_tls"]
    assert _problems(raw) == ["environments.dev.load_balancer_tls: missing (required)"]


def test_an_unprotected_environment_may_run_its_cache_without_a_replica() -> None:
    raw = _default()
    first = next(iter(raw["environments"]))
    raw["environments"][first]["cache"]["replicas"] = 0
    assert parse_config(raw).environments[0].cache.replicas == 0


def test_waves_group_neighbours_behind_one_approval(fixture_config: AppConfig) -> None:
    for wave in fixture_config.waves:
        assert len({env.wave for env in wave}) == 1
        assert len({env.approval for env in wave}) == 1
    assert any(len(wave) > 1 for wave in fixture_config.waves), "the fixture deploys one wave of two regions"


def test_a_wave_split_by_another_environment_is_refused() -> None:
    raw = _default()
    names = list(raw["environments"])
    raw["environments"][names[0]]["wave"] = "together"
    raw["environments"][names[-1]]["wave"] = "together"
    problems = _problems(raw)
    expected = f"environments.{names[-1]}.wave: 'together' must stand next to the other environments"
    assert any(p.startswith(expected) for p in problems), problems


def test_a_stage_in_another_partition_is_refused_in_one_line() -> None:
    raw = _default()
    name = list(raw["environments"])[-1]
    raw["environments"][name].update(region="us-gov-west-1", availability_zones=["us-gov-west-1a", "us-gov-west-1b"])
    raw["environments"][name]["database"]["instance_type"] = "db.m6g.large"
    _own_certificate(raw["environments"][name])
    (problem,) = _problems(raw)
    assert problem.startswith(f"environments.{name}.region: 'us-gov-west-1' is in partition aws-us-gov")
    assert "a pipeline cannot deploy across partitions" in problem


def test_two_environments_may_not_both_create_an_account_singleton() -> None:
    raw = _default()
    first, second = list(raw["environments"])[:2]
    for key in ("account", "region", "availability_zones"):
        raw["environments"][second][key] = raw["environments"][first][key]
    raw["environments"][first]["account_baseline"] = {"guardduty": True}
    raw["environments"][second]["account_baseline"] = {"guardduty": True}
    assert _problems(raw) == [
        f"environments.{second}.account_baseline.guardduty: True is also on for {first} in the same account and "
        "region: an account has one GuardDuty detector per region; turn it on for one of them only"
    ]


def test_an_inherited_service_names_its_provider_and_is_not_deployed() -> None:
    raw = _default()
    first, second = list(raw["environments"])[:2]
    for key in ("account", "region", "availability_zones"):
        raw["environments"][second][key] = raw["environments"][first][key]
    raw["environments"][first]["account_baseline"] = {"cloudtrail": True, "config": True, "guardduty": True}
    # The second inherits what the first deploys in the same account: no second trail or recorder, no conflict.
    raw["environments"][second]["account_baseline"] = {
        "cloudtrail": {"inherited_from": "  AWS Control Tower organization trail (log archive account 999999999999) "},
        "config": {"inherited_from": "AWS Control Tower"},
        "security_hub": True,
        "guardduty": False,
    }
    baseline = parse_config(raw).environments[1].account_baseline
    assert baseline.services == {"security_hub"}
    assert baseline.inherited == {
        "cloudtrail": "AWS Control Tower organization trail (log archive account 999999999999)",
        "config": "AWS Control Tower",
    }
    shorthand = parse_config(_with("environments.dev.account_baseline", True)).environments[0].account_baseline
    assert (len(shorthand.services), shorthand.inherited) == (4, {})


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"inherited_from": " "}, "cloudtrail.inherited_from: ' ' must name who runs the service"),
        ({}, "cloudtrail.inherited_from: (absent) must name who runs the service"),
        ({"inherited_from": "AWS\nControl Tower"}, "cloudtrail.inherited_from: 'AWS\\nControl Tower' must be one line"),
        ({"inherited_from": "x" * 201}, "is longer than 200 characters"),
        ({"inherited_from": "AWS", "by": "me"}, "cloudtrail.by: 'me' is not a setting of an inherited service"),
        ("inherited", "cloudtrail: 'inherited' must be true, false or who runs it"),
    ],
)
def test_an_inherited_service_is_refused_without_a_one_line_provider(setting: Any, expected: str) -> None:
    (problem,) = _problems(_with("environments.qa.account_baseline", {"cloudtrail": setting}))
    assert problem.startswith("environments.qa.account_baseline.cloudtrail")
    assert expected in problem


def test_field_and_cross_field_problems_are_reported_in_one_run() -> None:
    raw = _default()
    name = next(iter(raw["environments"]))
    raw["environments"][name]["service"] = {"cpu": 300, "memory_mib": 99999999, "desired_count": 1}
    raw["environments"][name]["account"] = "123"
    approved = next(n for n, b in raw["environments"].items() if b.get("approval", True) and n != name)
    raw["environments"][approved]["protect_data"] = False
    problems = _problems(raw)
    assert len(problems) == 4, problems
    expected = (
        f"environments.{name}.service.cpu: 300 is not a Fargate CPU size",
        f"environments.{name}.service.memory_mib: 99999999 should be less than",
        f"environments.{name}.account: '123' is not a 12-digit",
        f"environments.{approved}.protect_data: False must be true",
    )
    assert all(any(p.startswith(e) for p in problems) for e in expected), problems


@pytest.mark.parametrize("field", ["pipeline.approval_emails", "environments.dev.alarm_emails"])
def test_email_addresses_are_validated(field: str) -> None:
    (problem,) = _problems(_with(field, ["ops@example.org", "not-an-email"]))
    assert problem == (
        f"{field}: ['ops@example.org', 'not-an-email'] contains 'not-an-email', which is not an e-mail address"
    )


@pytest.mark.parametrize("name", ["Prod", "prod_east", "-dev", "a-very-long-environment-name"])
def test_environment_names_must_make_stage_ids_and_physical_names(name: str) -> None:
    raw = _default()
    first = next(iter(raw["environments"]))
    raw["environments"] = {name: raw["environments"].pop(first), **raw["environments"]}
    expected = f"environments.{name}.name: {name!r} is not an environment name"
    assert any(p.startswith(expected) for p in _problems(raw))


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
            123456789012,
            'environments.prod.account: 123456789012 must be quoted, e.g. account: "012345678901"',
        ),
        ("pipeline.account", "abc", "pipeline.account: 'abc' is not a 12-digit AWS account id"),
        (
            "environments.dev.region",
            "us-west-9",
            "environments.dev.region: 'us-west-9' is not an AWS region",
        ),
        (
            "environments.dev.availability_zones",
            ["us-east-1a", "us-west-2b"],
            "environments.dev.availability_zones: ['us-east-1a', 'us-west-2b'] contains 'us-west-2b', "
            "which is not a zone of us-east-1",
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
            "environments.dev.name",
            "other",
            "environments.dev.name: unknown key (an environment's name is its key under environments)",
        ),
        (
            "environments.dev.alarms",
            {"api_5xx_percent": "50"},
            "environments.dev.alarms.api_5xx_percent: '50' should be a valid number",
        ),
        (
            "environments.dev.alarms",
            {"cache_replication_lag_seconds": True},
            "environments.dev.alarms.cache_replication_lag_seconds: True should be a valid number",
        ),
        (
            "pipeline.connection_arn",
            "arn:aws:codeconnections:eu-west-1:210987654321:connection/5e6f7a8b-0000-4000-8000-00000000abcd",
            "pipeline.connection_arn: 'arn:aws:codeconnections:eu-west-1:",
        ),
        ("system.fedramp_id", "12345", "system.fedramp_id: '12345' is not a FedRAMP package id"),
        ("system.status", "live", "system.status: 'live' should be 'operational', 'under-development'"),
        ("system.isso", {"name": "A", "email": "a.example"}, "system.isso.email: 'a.example' is not an e-mail"),
        (
            "system.information_types",
            [{"title": "T", "description": "D", "nist_800_60_id": "C.3.5.8", "availability": "high"}],
            "system.information_types[0].availability: 'high' should be 'low' or 'moderate'",
        ),
        (
            "system.information_types",
            [{"title": "T", "description": "D", "nist_800_60_id": "3.5.8"}],
            "system.information_types[0].nist_800_60_id: '3.5.8' is not a NIST SP 800-60 information type id",
        ),
        (
            "system.information_types",
            [{"title": "T", "description": "D"}],
            "system.information_types[0].nist_800_60_id: missing (required)",
        ),
        (
            "system.information_types",
            [{"title": "Two\nlines", "description": "D", "nist_800_60_id": "C.3.5.8"}],
            "system.information_types[0].title: 'Two\\nlines' must be one line, with no space at either end",
        ),
        ("system.name", "Trailing ", "system.name: 'Trailing ' must be one line, with no space at either end"),
        ("system.short_name", " x", "system.short_name: ' x' must be one line, with no space at either end"),
        (
            "system.isso",
            {"name": "Pat ", "email": "pat@fixture.example"},
            "system.isso.name: 'Pat ' must be one line, with no space at either end",
        ),
        (
            "system.aws_authorization",
            {"package_id": "F1234567890", "date_authorized": "21 June 2016"},
            "system.aws_authorization.date_authorized: '21 June 2016' is not a date written YYYY-MM-DD",
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


def test_default_versions_are_current_in_cfn_lint_data(fixture_config: AppConfig) -> None:
    current = aws_facts.rds_engine_versions("postgres").current
    for env in fixture_config.environments:
        assert env.database.engine_version in current


def test_unknown_key_is_refused() -> None:
    raw = _with("environments.dev.database.colour", "red")
    assert _problems(raw) == ["environments.dev.database.colour: unknown key (docs/configuration.md lists every key)"]


def test_missing_key_is_reported() -> None:
    raw = _default()
    del raw["environments"]["staging"]["vpc_cidr"]
    assert _problems(raw) == ["environments.staging.vpc_cidr: missing (required)"]


def test_a_file_without_environments_is_refused() -> None:
    raw = _default()
    raw["environments"] = {}
    assert _problems(raw) == ["environments: the file names no environment (the pipeline needs at least one)"]
    del raw["environments"]
    assert _problems(raw) == ["environments: missing (required)"]


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    raw = _with("environments.staging.account", "12345")
    raw["pipeline"]["region"] = "mars-1"
    assert len(_problems(raw)) == 2


def _moved(path: str, new_key: str) -> dict[str, Any]:
    """The fixture with the key at `path` written as `new_key` instead, its value unchanged."""
    raw = copy.deepcopy(_default())
    *parents, leaf = path.split(".")
    node = raw
    for part in parents:
        node = node[part]
    node[new_key] = node.pop(leaf)
    return raw


def test_a_misspelt_key_a_renamed_one_an_unknown_one_and_bad_values_come_in_one_run(tmp_path: Path) -> None:
    raw = _moved("environments.dev.log_retention_days", "log_retention_day")
    dev = raw["environments"]["dev"]
    dev["colour"] = "red"
    dev["database"]["backup_retention_days"] = 99
    dev["alarms"] = {"cache_evictions": 5, "api_latency_p99_ms": 99999}
    problems = _refused(_written(tmp_path, yaml.safe_dump(raw, sort_keys=False)))
    assert sorted(problems) == [
        "environments.dev.alarms.api_latency_p99_ms: 99999 should be less than 29000",
        "environments.dev.alarms.cache_evictions: was renamed to cache_evictions_per_5_minutes: the unit is now part "
        "of the name",
        "environments.dev.colour: unknown key (docs/configuration.md lists every key)",
        "environments.dev.database.backup_retention_days: 99 should be less than or equal to 35",
        "environments.dev.log_retention_day: unknown key; did you mean log_retention_days (required, and missing)?",
    ]


_MEANT = "(required, and missing)?"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_moved("environments", "enviroments"), f"enviroments: unknown key; did you mean environments {_MEANT}"),
        (_moved("pipeline.region", "regoin"), f"pipeline.regoin: unknown key; did you mean region {_MEANT}"),
        (_moved("pipeline.branch", "brnach"), "pipeline.brnach: unknown key; did you mean branch?"),
        (
            _moved("environments.dev.vpc_cidr", "vpc_cdir"),
            f"environments.dev.vpc_cdir: unknown key; did you mean vpc_cidr {_MEANT}",
        ),
        (
            _moved("environments.dev.database.multi_az", "multiaz"),
            f"environments.dev.database.multiaz: unknown key; did you mean multi_az {_MEANT}",
        ),
        (
            _moved("environments.dev.cache.replicas", "replica"),
            f"environments.dev.cache.replica: unknown key; did you mean replicas {_MEANT}",
        ),
        (
            _moved("environments.dev.stream.retention_hours", "retention_hour"),
            f"environments.dev.stream.retention_hour: unknown key; did you mean retention_hours {_MEANT}",
        ),
        (
            _moved("environments.dev.service.memory_mib", "memory_mb"),
            f"environments.dev.service.memory_mb: unknown key; did you mean memory_mib {_MEANT}",
        ),
        (
            _with("environments.dev.alarms", {"api_latency_p99": 900}),
            "environments.dev.alarms.api_latency_p99: unknown key; did you mean api_latency_p99_ms?",
        ),
        (
            _with("environments.dev.account_baseline", {"guard_duty": True}),
            "environments.dev.account_baseline.guard_duty: unknown key; did you mean guardduty?",
        ),
        (
            _with("control_tower", {"disabled_control": []}),
            "control_tower.disabled_control: unknown key; did you mean disabled_controls?",
        ),
    ],
    ids=lambda value: value.split(":")[0] if isinstance(value, str) else "",
)
def test_a_misspelt_key_names_the_key_meant_at_every_level(raw: dict[str, Any], expected: str) -> None:
    assert _problems(raw) == [expected]


@pytest.mark.parametrize("path", ["pipeline.account", "environments.dev.account"])
@pytest.mark.parametrize(
    "digits",
    ["\u0662\u0661\u0660\u0669\u0668\u0667\u0666\u0665\u0664\u0663\u0662\u0661", "\uff11" * 12, "\u0967" * 12],
    ids=["arabic-indic", "fullwidth", "devanagari"],
)
def test_an_account_id_is_twelve_ascii_digits(path: str, digits: str) -> None:
    assert digits.isdigit()  # what let them through before
    assert _problems(_with(path, digits)) == [f"{path}: {digits!r} is not a 12-digit AWS account id"]


def test_a_connection_arn_names_its_account_in_ascii_digits() -> None:
    arn = _default()["pipeline"]["connection_arn"]
    account = _default()["pipeline"]["account"]
    (problem,) = _problems(_with("pipeline.connection_arn", arn.replace(account, "\u0662" * 12)))
    assert problem.startswith("pipeline.connection_arn: ")
    assert problem.endswith(
        "is not a CodeConnections connection ARN (arn:<partition>:codeconnections:<region>:<account>:connection/<uuid>)"
    )


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1.0e+400"])
@pytest.mark.parametrize("field", ["api_5xx_percent", "cache_replication_lag_seconds"])
def test_a_threshold_that_is_not_a_finite_number_is_refused(tmp_path: Path, field: str, value: str) -> None:
    text = LAYOUTS.read_text().replace("  dev:\n", f"  dev:\n    alarms: {{{field}: {value}}}\n", 1)
    shown = {"-.inf": "-inf", ".nan": "nan"}.get(value, "inf")
    assert _refused(_written(tmp_path, text)) == [f"environments.dev.alarms.{field}: {shown} should be a finite number"]


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("environments.dev.database.allocated_storage_gib", 65536),
        ("environments.dev.service.desired_count", 100),
        ("environments.dev.stream.retention_hours", 8760),
        ("environments.dev.alarms.database_connections_count", 262143),
        ("environments.dev.alarms.cache_evictions_per_5_minutes", 1_000_000_000),
        ("environments.dev.alarms.stream_iterator_age_seconds", 31_536_000),
    ],
)
def test_a_400_digit_number_is_refused_in_one_short_line(path: str, limit: int) -> None:
    huge = int("9" * 400)
    raw = _with(path, huge) if ".alarms." not in path else _with(path.rsplit(".", 1)[0], {path.rsplit(".", 1)[1]: huge})
    (problem,) = _problems(raw)
    assert problem == f"{path}: {'9' * 57}... should be less than or equal to {limit}"


def test_more_environments_than_a_pipeline_holds_are_refused_with_the_reason_and_every_other_problem() -> None:
    raw = _default()
    for index in range(MAX_ENVIRONMENTS + 1 - len(raw["environments"])):
        raw["environments"][f"qa{index}"] = copy.deepcopy(raw["environments"]["qa"])
    too_many = (
        f"environments: names {MAX_ENVIRONMENTS + 1} environments, more than {MAX_ENVIRONMENTS}: each adds a stage "
        "to the pipeline (CodePipeline allows 50 stages per pipeline) and up to about 40 KB to the pipeline stack's "
        "template (CloudFormation allows 1 MB); split them over pipelines, one configuration file each"
    )
    assert _problems(raw) == [too_many]
    raw["environments"]["qa3"]["service"]["desired_count"] = 0
    assert _problems(raw) == [
        too_many,
        "environments.qa3.service.desired_count: 0 should be greater than or equal to 1",
    ]
    del raw["environments"]["qa3"]
    assert len(parse_config(raw).environments) == MAX_ENVIRONMENTS


@pytest.mark.parametrize(
    ("path", "value", "start"),
    [
        ("pipeline.repository", "x" * 2**20, "pipeline.repository: 'xxxxxxxxxx"),
        ("environments.dev.alarm_emails", ["y" * 2**20], "environments.dev.alarm_emails: ['yyyyyyyyy"),
        ("pipeline." + "z" * 2**20, 1, "pipeline.zzzzzzzzzz"),
        ("environments.dev.availability_zones", ["us-east-1a"] * 10_000, "environments.dev.availability_zones: ["),
    ],
    ids=["value", "item", "key", "list"],
)
def test_a_huge_value_is_cut_short_in_its_line(path: str, value: Any, start: str) -> None:
    (problem,) = _problems(_with(path, value))
    assert problem.startswith(start)
    assert "..." in problem
    assert len(problem) < 250


def test_a_thousand_bad_values_are_a_thousand_lines_of_which_the_first_fifty_are_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_with("pipeline.approval_emails", list(range(1000))), source="test.yaml")
    assert len(caught.value.problems) == 1000
    shown = str(caught.value).splitlines()
    assert shown[0] == "test.yaml: 1000 configuration problem(s)"
    assert shown[1] == "  pipeline.approval_emails[0]: 0 should be a valid string"
    assert shown[-1] == "  ... and 950 more"
    assert len(shown) == 52


def test_every_hostile_document_of_the_benchmark_is_refused_in_short_lines(tmp_path: Path) -> None:
    for name, text in hostile_documents().items():
        problems = _refused(_written(tmp_path, text))
        assert problems, name
        assert all(len(problem) <= LINE_LIMIT for problem in problems), name


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


def _written(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _refused(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def _lines_of(text: str, line: str) -> list[int]:
    """The numbers of the lines of `text` that are exactly `line`."""
    return [number for number, candidate in enumerate(text.splitlines(), 1) if candidate == line]


def _pipeline_twice() -> tuple[str, str]:
    """The fixture file with a second `pipeline:` block at its end, and the line that names both."""
    text = LAYOUTS.read_text() + yaml.safe_dump({"pipeline": _default()["pipeline"]}, sort_keys=False)
    first, second = _lines_of(text, "pipeline:")
    return text, f"pipeline: key given twice, at lines {first} and {second}"


def test_keys_given_twice_are_refused_next_to_the_files_other_problems(tmp_path: Path) -> None:
    text, _ = _pipeline_twice()
    staging = yaml.safe_dump({"staging": _default()["environments"]["staging"]}, sort_keys=False)
    text = text.replace("  qa:\n", "  " + staging.replace("\n", "\n  ").rstrip() + "\n  qa:\n", 1)
    text = text.replace("backup_retention_days: 3}", "backup_retention_days: 99}", 1)
    pipelines, stagings = _lines_of(text, "pipeline:"), _lines_of(text, "  staging:")
    assert _refused(_written(tmp_path, text)) == [
        f"pipeline: key given twice, at lines {pipelines[0]} and {pipelines[1]}",
        f"environments.staging: key given twice, at lines {stagings[0]} and {stagings[1]}",
        "environments.qa.database.backup_retention_days: 99 should be less than or equal to 35",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'pipeline:\n  account: "2109876543\xd921"\n', "not UTF-8 text: byte 0xd9 at offset 32 (line 2)"),
        ("pipeline: " + "[" * 100_000 + "]" * 100_000, "nesting deeper than 10 levels at line 1"),
        (alias_bomb(), "more than 10000 values with aliases expanded, by line 5 (a configuration has a few hundred)"),
        ("a: 1\n" + "#" * (4 * 2**20), "larger than 4 MiB: a configuration is a few KB"),
    ],
    ids=["not-utf8", "deep-nesting", "alias-bomb", "too-large"],
)
def test_a_file_that_is_no_configuration_at_all_is_one_line(tmp_path: Path, text: str | bytes, expected: str) -> None:
    assert _refused(_written(tmp_path, text)) == [expected]


def _cross_partition() -> tuple[str, str]:
    raw = _default()
    name = list(raw["environments"])[-1]
    raw["environments"][name].update(region="us-gov-west-1", availability_zones=["us-gov-west-1a", "us-gov-west-1b"])
    raw["environments"][name]["database"]["instance_type"] = "db.m6g.large"
    _own_certificate(raw["environments"][name])
    return yaml.safe_dump(raw, sort_keys=False), "is in partition aws-us-gov but the pipeline is in aws"


@pytest.mark.parametrize("entry", ["app.py", "scripts/synth.py"])
@pytest.mark.parametrize("case", [_cross_partition, _pipeline_twice], ids=["cross-partition", "key-given-twice"])
def test_a_refused_configuration_exits_2_in_one_line_and_leaves_no_assembly(
    tmp_path: Path, entry: str, case: Callable[[], tuple[str, str]]
) -> None:
    text, expected = case()
    bad = _written(tmp_path, text)
    outdir = tmp_path / "cdk.out"
    outdir.mkdir()
    (outdir / "manifest.json").write_text("{}")  # an earlier run's assembly
    command = [sys.executable, str(PROJECT_ROOT / entry)]
    command += ["--config", str(bad), "--output", str(outdir)] if entry.startswith("scripts/") else []
    result = subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", "MONITORING_CONFIG": str(bad), "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    header, problem = result.stderr.strip().splitlines()
    assert header == f"{bad}: 1 configuration problem(s)"
    assert expected in problem
    assert not outdir.exists()


def _renamed(raw: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    raw["environments"] = {new if name == old else name: env for name, env in raw["environments"].items()}
    return raw


def test_two_names_of_one_stage_id_are_refused_in_one_line() -> None:
    raw = _default()
    first = next(iter(raw["environments"]))
    raw["environments"][f"{first}-2"] = copy.deepcopy(raw["environments"][first])
    raw["environments"][f"{first}2"] = copy.deepcopy(raw["environments"][first])
    for name in (f"{first}-2", f"{first}2"):
        raw["environments"][name].update(account_baseline=False, vpc_cidr="10.240.0.0/16", approval=False)
    stage = stage_id_of(f"{first}2")
    assert _problems(raw) == [
        f"environments.{first}2.name: '{first}2' is the stage '{stage}', as environment '{first}-2' is; "
        "choose another name"
    ]


@pytest.mark.parametrize("reserved", ["build", "source", "assets", "update-pipeline", "pipeline-change"])
def test_an_environment_named_like_a_stage_of_the_pipeline_itself_is_refused(reserved: str) -> None:
    raw = _renamed(_default(), list(_default()["environments"])[1], reserved)
    assert _problems(raw) == [
        f"environments.{reserved}.name: '{reserved}' becomes the pipeline stage '{stage_id_of(reserved)}', which "
        "the pipeline has already"
    ]


def test_a_wave_named_like_an_environment_is_refused() -> None:
    raw = _default()
    names = list(raw["environments"])
    wave = next(env["wave"] for env in raw["environments"].values() if env.get("wave"))
    members = [name for name in names if raw["environments"][name].get("wave") == wave]
    for name in members:
        raw["environments"][name]["wave"] = names[0]
    assert _problems(raw) == [
        f"environments.{name}.wave: '{names[0]}' becomes the pipeline stage '{stage_id_of(names[0])}', as "
        f"environment '{names[0]}' does"
        for name in members
    ]


@pytest.mark.parametrize("reserved", ["pipeline", "code-pipeline", "artifact-store", "build-image", "run-failed"])
def test_an_environment_named_like_a_part_of_the_pipeline_stack_is_refused(reserved: str) -> None:
    raw = _renamed(_default(), list(_default()["environments"])[1], reserved)
    assert _problems(raw) == [
        f"environments.{reserved}.name: '{reserved}' is the stage '{stage_id_of(reserved)}', a name the pipeline "
        "stack uses itself; choose another name"
    ]


def _wave_of(size: int) -> dict[str, Any]:
    """The fixture with its production wave grown to `size` protected environments, each in its own account."""
    raw = _default()
    wave = next(env["wave"] for env in raw["environments"].values() if env.get("wave"))
    member = next(env for env in raw["environments"].values() if env.get("wave") == wave)
    members = [name for name, env in raw["environments"].items() if env.get("wave") == wave]
    for index in range(size - len(members)):
        extra = copy.deepcopy(member)
        extra.update(account=f"{900000000001 + index:012d}", vpc_cidr=f"10.{200 + index}.0.0/16")
        _own_certificate(extra)
        raw["environments"][f"{members[-1]}-x{index}"] = extra
    return raw


def test_a_wave_whose_pipeline_stage_passes_fifty_actions_is_refused() -> None:
    parse_config(_wave_of(3))  # 1 approval and 16 actions each: 49
    problems = _problems(_wave_of(4))
    assert len(problems) == 1
    assert problems[0].endswith(
        "makes its pipeline stage 65 actions, more than the 50 CodePipeline allows in one "
        "stage (each environment adds up to 16): split the wave"
    )
