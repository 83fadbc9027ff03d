"""docs/configuration.md is what the schema gives: every key, its type, unit, default, bounds and description."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from config.schema import (
    MAX_ENVIRONMENTS,
    AppConfig,
    EnvironmentConfig,
    InformationTypeConfig,
    model_at,
    nested_model,
    user_fields,
)
from scripts import config_reference


def _rows() -> dict[str, list[str]]:
    """The reference's table rows by key path: type, unit, default, allowed, description."""
    rows: dict[str, list[str]] = {}
    for line in config_reference.render().splitlines():
        if line.startswith("| `"):
            key, *cells = (cell.strip() for cell in line.strip("|").split(" | "))
            rows[key.strip("`")] = cells
    return rows


def _paths(model: type[BaseModel] = AppConfig, path: str = "") -> list[str]:
    found = []
    for name in user_fields(model):
        field = model.model_fields[name]
        here = f"{path}.{name}" if path else name
        found.append(here)
        inner = nested_model(field.annotation)
        if inner is not None:
            if inner is EnvironmentConfig:
                here = f"{here}.<name>"  # a mapping keyed by the environments' names
            elif inner is InformationTypeConfig:
                here = f"{here}[<n>]"  # a list of mappings
            found += _paths(inner, here)
    return found


def test_the_committed_reference_is_the_one_the_schema_gives() -> None:
    committed = config_reference.REFERENCE.read_text(encoding="utf-8")
    assert committed == config_reference.render(), (
        "docs/configuration.md is stale: run .venv/bin/python scripts/config_reference.py and commit the result"
    )


def test_every_key_a_user_writes_has_a_row() -> None:
    rows = _rows()
    assert set(_paths()) <= set(rows)
    assert "environments.<name>" in rows  # the name, written as the key
    assert "environments.<name>.name" not in rows


@pytest.mark.parametrize(
    ("path", "cells"),
    [
        (
            "environments.<name>.alarms.api_latency_p99_ms",
            ["integer", "milliseconds", "`2000`", "at least 50, less than 29000"],
        ),
        ("environments.<name>.database.allocated_storage_gib", ["integer", "GiB", "required", "20 to 65536"]),
        ("environments.<name>.cache.engine", ["string", "", "`valkey`", "`valkey`, `redis`"]),
        ("environments.<name>.availability_zones", ["list of strings", "", "required", "2 to 6 items"]),
        ("environments.<name>.stream.shard_count", ["integer", "count", "none (omitted)", "1 to 500"]),
        ("environments.<name>.approval", ["boolean", "", "false for the first environment, true for the others", ""]),
        (
            "environments.<name>.service.cpu",
            ["integer", "CPU units", "required", "one of 256, 512, 1024, 2048, 4096, 8192, 16384"],
        ),
        ("environments", ["mapping of names to mappings", "", "required", f"1 to {MAX_ENVIRONMENTS} environments"]),
    ],
)
def test_a_row_gives_type_unit_default_and_allowed_values(path: str, cells: list[str]) -> None:
    row = _rows()[path]
    assert row[:4] == cells
    field = _field(path)
    assert row[4] == field.description


def _field(path: str) -> FieldInfo:
    parts = [p for p in path.split(".") if p != "<name>"]
    model = model_at(tuple(parts[:-1]))
    assert model is not None
    return model.model_fields[parts[-1]]


def test_the_check_mode_fails_on_a_stale_file_and_passes_on_a_fresh_one(tmp_path: Path) -> None:
    output = tmp_path / "configuration.md"
    assert config_reference.main(["--check", "--output", str(output)]) == 1
    assert config_reference.main(["--output", str(output)]) == 0
    assert config_reference.main(["--check", "--output", str(output)]) == 0
    output.write_text(output.read_text() + "edited by hand\n")
    assert config_reference.main(["--check", "--output", str(output)]) == 1
