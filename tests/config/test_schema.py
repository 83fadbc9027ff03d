"""Every key of the schema is described, every number is finite and bounded, and every section is found by its path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import annotated_types
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from config.schema import AppConfig, model_at, nested_model, user_fields


def _sections(model: type[BaseModel] = AppConfig, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, field in model.model_fields.items():
        inner = nested_model(field.annotation)
        if inner is not None:
            yield from _sections(inner, (*path, name))


def _fields() -> Iterator[tuple[str, FieldInfo]]:
    for path in _sections():
        model = model_at(path)
        assert model is not None, path
        for name, field in model.model_fields.items():
            yield ".".join((*path, name)), field


def _numeric(field: FieldInfo) -> bool:
    types = set(get_args(field.annotation)) or {field.annotation}
    return bool(types & {int, float})


def _bounded_above(field: FieldInfo) -> bool:
    extra: Any = field.json_schema_extra
    allowed = isinstance(extra, dict) and "allowed" in extra
    return allowed or any(isinstance(m, annotated_types.Le | annotated_types.Lt) for m in field.metadata)


def test_the_walk_finds_every_section() -> None:
    assert {".".join(path) for path in _sections()} == {
        "",
        "pipeline",
        "environments",
        "environments.database",
        "environments.cache",
        "environments.stream",
        "environments.service",
        "environments.load_balancer_tls",
        "environments.alarms",
        "environments.account_baseline",
        *(
            f"environments.account_baseline.{service}"
            for service in ("cloudtrail", "config", "security_hub", "guardduty")
        ),
        "pipeline.package_mirror",
        "control_tower",
        "system",
        "system.information_types",
        "system.system_owner",
        "system.authorizing_official",
        "system.isso",
        "system.aws_authorization",
    }


@pytest.mark.parametrize(("path", "field"), list(_fields()), ids=[path for path, _ in _fields()])
def test_every_key_is_described(path: str, field: FieldInfo) -> None:
    assert field.description, f"{path} has no description: add Field(description=...)"


def test_every_number_is_bounded_above() -> None:
    numbers = [(path, field) for path, field in _fields() if _numeric(field)]
    assert len(numbers) > 20
    unbounded = [path for path, field in numbers if not _bounded_above(field)]
    assert not unbounded, f"numbers without an upper bound: {unbounded}"


def test_every_section_refuses_numbers_that_are_not_finite_and_keys_it_does_not_know() -> None:
    for path in _sections():
        model = model_at(path)
        assert model is not None
        assert model.model_config.get("allow_inf_nan") is False, path
        assert model.model_config.get("extra") == "forbid", path


def test_an_environments_name_is_its_key_not_a_key_inside_it() -> None:
    environment = model_at(("environments", 0))
    assert environment is not None
    assert "name" in environment.model_fields
    assert "name" not in user_fields(environment)
