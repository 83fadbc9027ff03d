"""Every alarm of every stage can fire and can stay quiet, on datapoints its metric can really have.

Each alarm is evaluated as CloudWatch would (its own metric or metric-math expression, statistic,
comparison, threshold, evaluation periods, datapoints to alarm, missing-data treatment) against
synthetic series inside the metric's real range. The evaluator's own tests come first: among them,
the API error alarms as they were (a fraction compared with a percentage) are shown unreachable.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.alarm_evaluation import Alarm, UnreachableThresholdError, evaluate_expression, reachable_series
from tests.conftest import StackArtifact


def _api_error_alarm(threshold: float, *, expression: str | None) -> dict[str, Any]:
    metric = {
        "MetricStat": {
            "Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "5XXError", "Dimensions": []},
            "Period": 300,
            "Stat": "Average",
        }
    }
    metrics: list[dict[str, Any]] = (
        [
            {"Id": "expr_1", "Expression": expression, "ReturnData": True},
            {"Id": "faults", **metric, "ReturnData": False},
        ]
        if expression
        else [{"Id": "m1", **metric, "ReturnData": True}]
    )
    return {
        "AlarmName": "Api-5xx",
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": threshold,
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "TreatMissingData": "notBreaching",
        "Metrics": metrics,
    }


# --- the evaluator --------------------------------------------------------------------------


@pytest.mark.parametrize("percent_threshold", [1, 10])
def test_a_percentage_threshold_on_the_raw_fraction_can_never_fire(percent_threshold: float) -> None:
    # The alarms as they were: Average of 5XXError (0..1) against 1 or 10 (meant as percent).
    alarm = Alarm.from_properties(_api_error_alarm(percent_threshold, expression=None))
    with pytest.raises(UnreachableThresholdError, match="never holds"):
        reachable_series(alarm)


def test_the_same_threshold_on_the_percentage_fires_and_stays_quiet() -> None:
    alarm = Alarm.from_properties(_api_error_alarm(1, expression="100 * faults"))
    breach, clear = reachable_series(alarm)
    assert alarm.state(breach) == "ALARM"
    assert alarm.state(clear) == "OK"
    assert all(0 <= v <= 1 for v in breach["faults"] + clear["faults"] if v is not None)
    assert breach["faults"][0] == pytest.approx(0.011, abs=0.001)  # just above 1 %


def test_a_threshold_that_always_holds_is_refused() -> None:
    alarm = Alarm.from_properties({**_api_error_alarm(-1, expression="100 * faults")})
    with pytest.raises(UnreachableThresholdError, match="always holds"):
        reachable_series(alarm)


def test_datapoints_to_alarm_and_missing_data_follow_cloudwatch() -> None:
    alarm = Alarm.from_properties(_api_error_alarm(1, expression="100 * faults"))
    assert alarm.state({"faults": [0.5, 0.5, None, 0, 0]}) == "OK"  # 2 of 5 breach: below 3
    assert alarm.state({"faults": [0.5, 0.5, 0.5, None, None]}) == "ALARM"
    assert alarm.state({"faults": [None] * 5}) == "OK"  # notBreaching: a quiet API is fine
    missing = Alarm.from_properties({**_api_error_alarm(1, expression="100 * faults"), "TreatMissingData": "missing"})
    assert missing.state({"faults": [None] * 5}) == "INSUFFICIENT_DATA"


def test_metric_math_over_nodes() -> None:
    point = {"a": 10.0, "b": None, "c": 30.0}
    assert evaluate_expression("MAX([a, b, c])", point) == 30
    assert evaluate_expression("MIN([a, b, c])", point) == 10
    assert evaluate_expression("SUM([a, b, c]) / 2", point) == 20
    assert evaluate_expression("100 * b", point) is None
    assert evaluate_expression("FILL(b, 0) + a", point) == 10
    assert evaluate_expression("MAX([b])", point) is None
    with pytest.raises(ValueError, match="unknown metric id"):
        evaluate_expression("MAX([a, d])", point)


def test_an_alarm_on_a_metric_without_a_known_range_is_refused() -> None:
    properties = {**_api_error_alarm(1, expression=None)}
    properties["Metrics"][0]["MetricStat"]["Stat"] = "Sum"  # a count, not the fraction
    with pytest.raises(KeyError, match="no known range"):
        reachable_series(Alarm.from_properties(properties))


# --- every alarm of every synthesized stage -------------------------------------------------


def _stage_alarms(stacks: dict[str, StackArtifact]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{path}: {alarm['Properties']['AlarmName']}", alarm["Properties"])
        for path, artifact in stacks.items()
        if path.endswith("/Observability")
        for alarm in artifact.template.find_resources("AWS::CloudWatch::Alarm").values()
    ]


def test_every_alarm_in_every_stage_fires_on_a_breach_and_stays_quiet_otherwise(
    stacks: dict[str, StackArtifact],
) -> None:
    alarms = _stage_alarms(stacks)
    assert alarms
    problems = []
    for name, properties in alarms:
        alarm = Alarm.from_properties(properties)
        try:
            breach, clear = reachable_series(alarm)
        except (UnreachableThresholdError, KeyError) as error:
            problems.append(f"{name}: {error}")
            continue
        one_short = {
            key: [s[0]] * (alarm.datapoints_to_alarm - 1)
            + [clear[key][0]] * (alarm.evaluation_periods - alarm.datapoints_to_alarm + 1)
            for key, s in breach.items()
        }
        states = (alarm.state(breach), alarm.state(clear), alarm.state(one_short))
        if states != ("ALARM", "OK", "OK"):
            problems.append(f"{name}: breach/clear/one datapoint short gave {states}")
    assert problems == []


def test_a_quiet_night_pages_nobody(stacks: dict[str, StackArtifact]) -> None:
    """An alarm on metrics that exist only under load treats their absence as not breaching."""
    for name, properties in _stage_alarms(stacks):
        alarm = Alarm.from_properties(properties)
        assert "TreatMissingData" in properties, f"{name}: missing data treatment must be chosen, not defaulted"
        if not any(i.range.reported_when_idle for i in alarm.inputs):
            assert alarm.state(alarm.constant(None)) == "OK", name


def test_every_alarm_has_alarm_ok_and_insufficient_data_actions(stacks: dict[str, StackArtifact]) -> None:
    # AWS Config's cloudwatch-alarm-action-check, as the Baseline's FedRAMP pack runs it.
    for name, properties in _stage_alarms(stacks):
        assert properties["ActionsEnabled"] is True, name
        for actions in ("AlarmActions", "InsufficientDataActions", "OKActions"):
            assert properties.get(actions), f"{name}: no {actions}"


def test_no_cache_alarm_watches_one_fixed_node(stacks: dict[str, StackArtifact]) -> None:
    for name, properties in _stage_alarms(stacks):
        alarm = Alarm.from_properties(properties)
        if any(i.namespace == "AWS/ElastiCache" for i in alarm.inputs):
            assert alarm.expression is not None, name
            assert alarm.expression.startswith(("MAX([", "MIN([", "SUM([")), name
            nodes = [i.id for i in alarm.inputs]
            assert all(node in alarm.expression for node in nodes), name
