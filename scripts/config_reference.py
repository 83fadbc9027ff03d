"""Write docs/configuration.md, the reference of every configuration key, from the schema in config/schema.py.

    .venv/bin/python scripts/config_reference.py           # rewrite docs/configuration.md
    .venv/bin/python scripts/config_reference.py --check   # exit 1 if the committed file is stale

Each key's path, type, unit, default, allowed values and description come from the pydantic
models: the type from the annotation, the unit from the name's suffix (numbers carry their unit
in their name), the default and the bounds from the field, and the description from
`Field(description=...)`. What a validator checks rather than a bound (Fargate's CPU sizes,
CloudWatch Logs' retention periods) is given to the reference as the field's `allowed` extra.
A test regenerates the file in memory and compares it with the committed one.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as `python scripts/config_reference.py`, the project's packages are not on the path yet.
    sys.path.insert(0, str(ROOT))

from config.display import VALUE_LIMIT  # noqa: E402
from config.loader import LINE_LIMIT, MAX_FILE_BYTES, SHOWN_PROBLEMS  # noqa: E402
from config.schema import AppConfig, nested_model  # noqa: E402
from config.yaml_reader import MAX_ALIASES, MAX_DEPTH, MAX_NODES  # noqa: E402

REFERENCE = ROOT / "docs" / "configuration.md"

# A number's unit is the end of its name.
_UNITS = (
    ("_per_5_minutes", "per 5 minutes"),
    ("_percent", "percent"),
    ("_days", "days"),
    ("_hours", "hours"),
    ("_seconds", "seconds"),
    ("_ms", "milliseconds"),
    ("_gib", "GiB"),
    ("_mib", "MiB"),
    ("_count", "count"),
)
_SCALARS = {bool: "boolean", int: "integer", float: "number", str: "string"}

_INTRODUCTION = f"""\
# Configuration reference

<!-- Generated from config/schema.py by scripts/config_reference.py; do not edit by hand. -->

Every key of a configuration file (`config/environments.yaml`, or the file `make synth CONFIG=...`
names), with its type, unit, default, allowed values and what it does. Environments are written
under their names (`environments.prod-east.region`), in promotion order; below they are
`environments.<name>`. A key without a default is required.

## How a file is checked

`make synth` (and `app.py`, which the CDK CLI runs) check the file before anything is built. A file
with problems exits with status 2, writes nothing, and prints one line per problem, every problem
of the file in one run:

```
config/environments.yaml: 3 configuration problem(s)
  environments.staging.account: '12345' is not a 12-digit AWS account id
  environments.prod.log_retention_day: unknown key; did you mean log_retention_days (required, and missing)?
  pipeline: key given twice, at lines 17 and 61
```

Each line names the field's path and its value, cut at {VALUE_LIMIT} characters; a line is at most
{LINE_LIMIT} characters, and a report shows its first {SHOWN_PROBLEMS} problems and the number of the
others. An unknown key is named with the key meant when one is close. A key given twice in one
mapping is refused with both its lines: YAML would keep the last one silently. A file that cannot be
read as YAML at all is refused in one line at its first problem: a file larger than
{MAX_FILE_BYTES // 2**20} MiB, bytes that are not UTF-8, malformed YAML, nesting deeper than {MAX_DEPTH} levels, more
than {MAX_ALIASES} aliases (`*name`), or more than {MAX_NODES:,} values with aliases expanded.
"""


def _unit(name: str, field: FieldInfo) -> str:
    extra = _extra(field)
    if "unit" in extra:
        return str(extra["unit"])
    return next((unit for suffix, unit in _UNITS if name.endswith(suffix)), "")


def _extra(field: FieldInfo) -> dict[str, Any]:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


def _type(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return "string"
    if get_origin(annotation) is tuple:
        return f"list of {_type(args[0])}s"
    if nested_model(annotation) is not None:
        return "mapping"
    if len(args) == 1:
        return _type(args[0])  # X | None: the key may be omitted, as its default says
    return _SCALARS.get(annotation, str(annotation))


def _default(field: FieldInfo) -> str:
    if "default" in _extra(field):
        return str(_extra(field)["default"])
    value = field.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "none (omitted)"
    if isinstance(value, BaseModel):
        return "each key's default"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    return "`[]`" if value == () else f"`{value}`"


def _bounds(field: FieldInfo) -> list[str]:
    bounds: dict[str, Any] = {}
    for item in field.metadata:
        for kind in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            if getattr(item, kind, None) is not None and isinstance(item, annotated_types.BaseMetadata):
                bounds[kind] = getattr(item, kind)
    if "ge" in bounds and "le" in bounds:
        numbers = [f"{bounds['ge']} to {bounds['le']}"]
    else:
        words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
        numbers = [f"{words[kind]} {bounds[kind]}" for kind in words if kind in bounds]
    lengths = [bounds.get("min_length"), bounds.get("max_length")]
    unit = "characters" if field.annotation in (str, "str", str | None, "str | None") else "items"
    if lengths[0] is not None:
        if lengths[1]:
            numbers.append(f"{lengths[0]} to {lengths[1]} {unit}")
        else:
            numbers.append("not empty" if lengths[0] == 1 else f"at least {lengths[0]} {unit}")
    return numbers


def _allowed(field: FieldInfo) -> str:
    if "allowed" in _extra(field):
        return str(_extra(field)["allowed"])
    annotation = field.annotation
    if get_origin(annotation) is Literal:
        return ", ".join(f"`{value}`" for value in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ", ".join(f"`{member.value}`" for member in annotation)
    return ", ".join(_bounds(field))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(path: str, name: str, field: FieldInfo) -> str:
    if _extra(field).get("from_key"):
        path, kind, default = path.rsplit(".", 1)[0], "key", "required"
    else:
        kind, default = _extra(field).get("type") or _type(field.annotation), _default(field)
    cells = (f"`{path}`", kind, _unit(name, field), default, _allowed(field), field.description or "")
    return "| " + " | ".join(_cell(str(cell)) for cell in cells) + " |"


def _sections(model: type[BaseModel], path: str) -> Iterator[tuple[str, type[BaseModel]]]:
    yield path, model
    for name, field in model.model_fields.items():
        inner = nested_model(field.annotation)
        if inner is not None:
            below = f"{path}.{name}" if path else name
            if get_origin(field.annotation) is tuple:
                # A section written as a mapping keyed by name (the environments), or as a list of mappings.
                keyed = any(_extra(f).get("from_key") for f in inner.model_fields.values())
                below = f"{below}.<name>" if keyed else f"{below}[<n>]"
            yield from _sections(inner, below)


def _section(path: str, model: type[BaseModel]) -> list[str]:
    lines = [f"## {f'`{path}`' if path else 'The top level'}", "", inspect.cleandoc(model.__doc__ or ""), ""]
    lines += ["| Key | Type | Unit | Default | Allowed | Description |", "|---|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        lines.append(_row(f"{path}.{name}" if path else name, name, field))
    return [*lines, ""]


def render() -> str:
    """The reference, as docs/configuration.md holds it."""
    lines = [_INTRODUCTION]
    for path, model in _sections(AppConfig, ""):
        lines += _section(path, model)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not what the schema gives")
    parser.add_argument("--output", type=Path, default=REFERENCE)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run scripts/config_reference.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
