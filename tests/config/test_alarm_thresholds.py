"""Alarm thresholds carry their unit in their name, and a threshold no metric can cross is refused."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from config import AlarmThresholds, ConfigError, parse_config
from tests.conftest import LAYOUTS


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("database_connections", "database_connections_count"),
        ("cache_evictions", "cache_evictions_per_5_minutes"),
        ("stream_throttled_records", "stream_throttled_records_per_5_minutes"),
    ],
)
def test_a_renamed_threshold_names_its_new_field_next_to_the_other_problems(old: str, new: str) -> None:
    raw = yaml.safe_load(LAYOUTS.read_text())
    raw["environments"]["dev"]["alarms"] = {old: 5, "api_5xx_percent": 150, "api_latency_p99": 900}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert sorted(caught.value.problems) == [
        "environments.dev.alarms.api_5xx_percent: 150 should be less than 100",
        "environments.dev.alarms.api_latency_p99: unknown key; did you mean api_latency_p99_ms?",
        f"environments.dev.alarms.{old}: was renamed to {new}: the unit is now part of the name",
    ]


@pytest.mark.parametrize("field", ["api_5xx_percent", "api_4xx_percent", "service_cpu_percent", "cache_cpu_percent"])
@pytest.mark.parametrize("value", [0, 100, 150])
def test_a_percentage_must_lie_strictly_between_0_and_100(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        AlarmThresholds.model_validate({field: value})


def test_every_threshold_documents_its_unit() -> None:
    for name, field in AlarmThresholds.model_fields.items():
        assert field.description, name
        unit = name.rsplit("_", 1)[-1]
        assert unit in {"percent", "ms", "seconds", "gib", "mib", "count", "minutes"}, name
