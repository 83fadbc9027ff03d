"""Evaluate a synthesized CloudWatch alarm against synthetic datapoints, the way CloudWatch does.

An alarm is read from its template properties: one metric (`MetricName`, `Statistic`) or a
metric-math alarm (`Metrics`, where the `ReturnData` entry is an expression over the others).
`METRIC_RANGES` holds the real range of each metric and statistic the stages alarm on (a fraction
stays in 0-1, a percentage in 0-100, bytes below what the largest node has), and whether the
metric exists while the workload is idle. `reachable_series` builds one series that must breach
and one that must not, each inside those ranges, or raises `UnreachableThresholdError`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Value = float | None
Series = list[Value]


@dataclass(frozen=True)
class MetricRange:
    """Where a metric's datapoints can lie, and whether CloudWatch receives any while nothing happens."""

    low: float
    high: float
    reported_when_idle: bool
    unit: str


GIB = 1024**3
METRIC_RANGES: dict[tuple[str, str, str], MetricRange] = {
    # API Gateway counts each request as 0 or 1 in 4XXError/5XXError, so their Average is a fraction.
    ("AWS/ApiGateway", "5XXError", "Average"): MetricRange(0, 1, False, "fraction of requests"),
    ("AWS/ApiGateway", "4XXError", "Average"): MetricRange(0, 1, False, "fraction of requests"),
    # A REST API integration times out after 29 s.
    ("AWS/ApiGateway", "Latency", "p99"): MetricRange(0, 30_000, False, "milliseconds"),
    ("AWS/ECS", "CPUUtilization", "Average"): MetricRange(0, 100, True, "percent"),
    ("AWS/ECS", "MemoryUtilization", "Average"): MetricRange(0, 100, True, "percent"),
    ("ECS/ContainerInsights", "RunningTaskCount", "Minimum"): MetricRange(0, 200, True, "tasks"),
    ("AWS/RDS", "CPUUtilization", "Average"): MetricRange(0, 100, True, "percent"),
    ("AWS/RDS", "FreeStorageSpace", "Maximum"): MetricRange(0, 65_536 * GIB, True, "bytes"),
    # RDS for PostgreSQL caps max_connections at 5000 by default.
    ("AWS/RDS", "DatabaseConnections", "Maximum"): MetricRange(0, 5_000, True, "connections"),
    ("AWS/ElastiCache", "EngineCPUUtilization", "Maximum"): MetricRange(0, 100, True, "percent"),
    ("AWS/ElastiCache", "FreeableMemory", "Minimum"): MetricRange(0, 1024 * GIB, True, "bytes"),
    ("AWS/ElastiCache", "Evictions", "Sum"): MetricRange(0, 1e9, True, "keys per period"),
    ("AWS/ElastiCache", "ReplicationLag", "Maximum"): MetricRange(0, 3_600, True, "seconds"),
    # Records are kept at most 365 days.
    ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "Maximum"): MetricRange(0, 365 * 86_400_000, False, "ms"),
    ("AWS/Kinesis", "PutRecords.ThrottledRecords", "Sum"): MetricRange(0, 1e9, False, "records per period"),
    # The service's own metric filter emits only while the service writes log lines.
    ("FedRampMonitoring/*", "ServiceErrors", "Sum"): MetricRange(0, 1e9, False, "answers per period"),
}


class UnreachableThresholdError(AssertionError):
    """No series inside the metric's real range crosses (or stays clear of) the threshold."""


@dataclass(frozen=True)
class Input:
    """One metric an alarm reads: its id in the alarm, and what it is."""

    id: str
    namespace: str
    metric_name: str
    statistic: str

    @property
    def range(self) -> MetricRange:
        namespace = re.sub(r"^FedRampMonitoring/.+$", "FedRampMonitoring/*", self.namespace)
        key = (namespace, self.metric_name, self.statistic)
        if key not in METRIC_RANGES:
            raise KeyError(f"{key} has no known range: add its real range to METRIC_RANGES")
        return METRIC_RANGES[key]


@dataclass(frozen=True)
class Alarm:
    """What CloudWatch evaluates: inputs, the value it compares (an input or an expression), and how."""

    name: str
    inputs: tuple[Input, ...]
    expression: str | None
    comparison: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> Alarm:
        if "MetricName" in properties:
            inputs: tuple[Input, ...] = (
                Input("m", properties["Namespace"], properties["MetricName"], _statistic(properties)),
            )
            expression = None
        else:
            inputs = tuple(
                Input(
                    entry["Id"],
                    entry["MetricStat"]["Metric"]["Namespace"],
                    entry["MetricStat"]["Metric"]["MetricName"],
                    entry["MetricStat"]["Stat"],
                )
                for entry in properties["Metrics"]
                if "MetricStat" in entry
            )
            (returned,) = [entry for entry in properties["Metrics"] if entry.get("ReturnData", True)]
            expression = returned.get("Expression")
        periods = int(properties["EvaluationPeriods"])
        return cls(
            name=str(properties.get("AlarmName", "alarm")),
            inputs=inputs,
            expression=expression,
            comparison=properties["ComparisonOperator"],
            threshold=float(properties["Threshold"]),
            evaluation_periods=periods,
            datapoints_to_alarm=int(properties.get("DatapointsToAlarm", periods)),
            treat_missing_data=properties.get("TreatMissingData", "missing"),
        )

    def value(self, datapoint: Mapping[str, Value]) -> Value:
        """The compared value at one timestamp, from each input's datapoint there."""
        if self.expression is None:
            return datapoint[self.inputs[0].id]
        return evaluate_expression(self.expression, datapoint)

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)

    def state(self, series: Mapping[str, Series]) -> str:
        """ALARM, OK or INSUFFICIENT_DATA after the last `evaluation_periods` datapoints of each input."""
        length = len(next(iter(series.values())))
        values = [self.value({key: s[t] for key, s in series.items()}) for t in range(length)]
        window = values[-self.evaluation_periods :]
        present = [v for v in window if v is not None]
        if not present:
            return {"breaching": "ALARM", "notBreaching": "OK", "ignore": "OK"}.get(
                self.treat_missing_data, "INSUFFICIENT_DATA"
            )
        breaching = sum(self.breaches(v) for v in present)
        if self.treat_missing_data == "breaching":
            breaching += len(window) - len(present)
        return "ALARM" if breaching >= self.datapoints_to_alarm else "OK"

    def constant(self, value: Value) -> dict[str, Series]:
        """Every input at `value` for every evaluated period."""
        return {i.id: [value] * self.evaluation_periods for i in self.inputs}


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def _statistic(properties: Mapping[str, Any]) -> str:
    return str(properties.get("Statistic") or properties["ExtendedStatistic"])


def reachable_series(alarm: Alarm, steps: int = 1000) -> tuple[dict[str, Series], dict[str, Series]]:
    """(a series that must put the alarm in ALARM, one that must leave it OK), inside the inputs' ranges.

    Every input moves together from its low to its high end in `steps` steps; the series are the
    values closest to the threshold on either side. Raises `UnreachableThresholdError` when one side
    cannot be reached inside the ranges.
    """
    ranges = [i.range for i in alarm.inputs]
    candidates: list[tuple[float, dict[str, float]]] = []
    for step in range(steps + 1):
        point = {i.id: r.low + (r.high - r.low) * step / steps for i, r in zip(alarm.inputs, ranges, strict=True)}
        value = alarm.value(point)
        assert value is not None
        candidates.append((value, point))
    breaching = [(abs(v - alarm.threshold), p) for v, p in candidates if alarm.breaches(v)]
    clear = [(abs(v - alarm.threshold), p) for v, p in candidates if not alarm.breaches(v)]
    where = ", ".join(
        f"{i.metric_name} {i.statistic} in {r.low:g}..{r.high:g} {r.unit}"
        for i, r in zip(alarm.inputs, ranges, strict=True)
    )
    condition = f"{alarm.name}: {alarm.comparison} {alarm.threshold:g}"
    if not breaching:
        raise UnreachableThresholdError(f"{condition} never holds for {where}")
    if not clear:
        raise UnreachableThresholdError(f"{condition} always holds for {where}")
    breach_point = min(breaching, key=lambda c: c[0])[1]
    clear_point = min(clear, key=lambda c: c[0])[1]
    periods = alarm.evaluation_periods
    return (
        {key: [value] * periods for key, value in breach_point.items()},
        {key: [value] * periods for key, value in clear_point.items()},
    )


# --- metric math -----------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\S))")


def evaluate_expression(expression: str, datapoint: Mapping[str, Value]) -> Value:
    """One timestamp of a CloudWatch metric-math expression.

    Supports numbers, metric ids, + - * / and parentheses, arrays, and MAX, MIN, SUM, AVG over
    arrays (missing inputs are left out; all missing gives no datapoint) and FILL(x, value).
    Arithmetic with a missing datapoint gives no datapoint, as in CloudWatch.
    """
    tokens = [m.group(1) or m.group(2) or m.group(3) for m in _TOKEN.finditer(expression) if m.group(0).strip()]
    parser = _Parser(tokens, datapoint)
    result = parser.sum()
    if parser.position != len(tokens):
        raise ValueError(f"cannot parse {expression!r} at {tokens[parser.position]!r}")
    if isinstance(result, list):
        raise ValueError(f"{expression!r} returns an array, not one time series")
    return None if result is None else float(result)


_ARRAY_FUNCTIONS: dict[str, Callable[[Sequence[float]], float]] = {
    "MAX": max,
    "MIN": min,
    "SUM": sum,
    "AVG": lambda values: sum(values) / len(values),
}


class _Parser:
    def __init__(self, tokens: list[str], datapoint: Mapping[str, Value]) -> None:
        self.tokens, self.datapoint, self.position = tokens, datapoint, 0

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected or 'a token'} at position {self.position}, got {token!r}")
        self.position += 1
        return token

    def sum(self) -> Any:
        value = self.product()
        while self._peek() in ("+", "-"):
            op = operator.add if self._take() == "+" else operator.sub
            value = _arithmetic(op, value, self.product())
        return value

    def product(self) -> Any:
        value = self.atom()
        while self._peek() in ("*", "/"):
            op = operator.mul if self._take() == "*" else operator.truediv
            value = _arithmetic(op, value, self.atom())
        return value

    def atom(self) -> Any:
        token = self._take()
        if token == "(":
            value = self.sum()
            self._take(")")
            return value
        if token == "[":
            items = [self.sum()]
            while self._peek() == ",":
                self._take(",")
                items.append(self.sum())
            self._take("]")
            return items
        if token == "-":
            return _arithmetic(operator.mul, -1.0, self.atom())
        if re.fullmatch(r"\d.*", token):
            return float(token)
        if self._peek() == "(":
            self._take("(")
            args = [self.sum()]
            while self._peek() == ",":
                self._take(",")
                args.append(self.sum())
            self._take(")")
            return _call(token.upper(), args)
        if token not in self.datapoint:
            raise ValueError(f"unknown metric id {token!r}")
        return self.datapoint[token]


def _arithmetic(op: Callable[[float, float], float], left: Any, right: Any) -> Value:
    if left is None or right is None:
        return None
    return op(float(left), float(right))


def _call(name: str, args: list[Any]) -> Value:
    if name in _ARRAY_FUNCTIONS:
        (array,) = args
        present = [v for v in (array if isinstance(array, list) else [array]) if v is not None]
        return _ARRAY_FUNCTIONS[name](present) if present else None
    if name == "FILL":
        value, fill = args
        return float(fill) if value is None else value
    raise ValueError(f"metric-math function {name} is not supported by this evaluator")
