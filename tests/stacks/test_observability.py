"""Each stage's alarms: what they watch, that each one pages someone, and that config sets the thresholds."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from config import AppConfig
from tests.conftest import STAGES, StackArtifact, env_of

WATCHED = {
    "5XXError",
    "4XXError",
    "Latency",
    "CPUUtilization",  # service and database
    "MemoryUtilization",
    "FreeStorageSpace",
    "DatabaseConnections",
    "EngineCPUUtilization",
    "FreeableMemory",
    "Evictions",
    "GetRecords.IteratorAgeMilliseconds",
    "PutRecords.ThrottledRecords",
    "ServiceErrors",
    "RunningTaskCount",
    "ReplicationLag",
}


def _metric(alarm: dict[str, Any]) -> str:
    """The metric an alarm watches, also when it watches a math expression over one metric."""
    if "MetricName" in alarm:
        return str(alarm["MetricName"])
    (name,) = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    return str(name)


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    """Each alarm's properties by its name."""
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    }


@pytest.mark.parametrize("stage", STAGES)
def test_alarms_watch_every_part_of_the_workload(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    alarms = _alarms(stack(stage, "Observability").template)
    # A cache without a replica has no replication to lag.
    watched = WATCHED if env_of(stage).cache.replicas else WATCHED - {"ReplicationLag"}
    assert {_metric(a) for a in alarms.values()} == watched
    assert all(name.startswith(f"{stage}-Monitoring-") for name in alarms)


@pytest.mark.parametrize("stage", STAGES)
def test_every_alarm_notifies_the_encrypted_stage_topic(stage: str, stack: Callable[[str, str], StackArtifact]) -> None:
    template = stack(stage, "Observability").template
    (topic,) = template.find_resources("AWS::SNS::Topic", {"Properties": {"KmsMasterKeyId": Match.any_value()}})
    template.all_resources_properties(
        "AWS::CloudWatch::Alarm", {"ActionsEnabled": True, "AlarmActions": [{"Ref": topic}]}
    )


def test_thresholds_come_from_each_environments_config(
    stack: Callable[[str, str], StackArtifact], fixture_config: AppConfig
) -> None:
    for stage in STAGES:
        limits = env_of(stage).alarms
        by_metric = {_metric(a): a for a in _alarms(stack(stage, "Observability").template).values()}
        assert by_metric["Latency"]["Threshold"] == limits.api_latency_p99_ms
        assert by_metric["5XXError"]["Threshold"] == limits.api_5xx_percent
        assert by_metric["RunningTaskCount"]["Threshold"] == env_of(stage).service.desired_count
    # The fixture pages prod sooner than the defaults do, so the values really come from the file.
    assert (
        fixture_config.environment("prod").alarms.api_latency_p99_ms
        < fixture_config.environment("dev").alarms.api_latency_p99_ms
    )


def test_dashboards_are_built_by_the_library_and_show_every_alarm(stack: Callable[[str, str], StackArtifact]) -> None:
    template = stack("Prod", "Observability").template
    bodies = [json.dumps(d["Properties"]) for d in template.find_resources("AWS::CloudWatch::Dashboard").values()]
    assert bodies
    assert all("Prod-Monitoring" in body for body in bodies)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert any(all(f'"{alarm}"' in body for alarm in alarms) for body in bodies), "no dashboard shows every alarm"


@pytest.mark.parametrize("stage", STAGES)
def test_alarm_topic_lets_cloudwatch_of_its_account_publish(
    stage: str, stack: Callable[[str, str], StackArtifact]
) -> None:
    stack(stage, "Observability").template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": Match.object_like(
                {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Sid": "AllowCloudWatchAlarmsOfThisAccount",
                                    "Effect": "Allow",
                                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                    "Condition": {"StringEquals": {"aws:SourceAccount": env_of(stage).account}},
                                }
                            )
                        ]
                    )
                }
            )
        },
    )
