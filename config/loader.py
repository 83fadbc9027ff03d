"""Read a configuration file and turn every problem in it into one readable line.

`load_config` is the only place that reads the configuration file. It returns a
validated `AppConfig` or raises `ConfigError`, whose lines each name the field
path and the offending value (cut short), e.g.
`environments.staging.account: '12345' is not a 12-digit AWS account id`.
Every problem of a file comes in one run: keys given twice, unknown keys (with the
key meant, where one is close), values out of range, and rules across fields.
Only a file that cannot be read as YAML at all stops at its first problem: the YAML is read
by `config.yaml_reader`, which refuses alias bombs, deep nesting and bytes that are not UTF-8.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from config import rules
from config.display import cut, shown
from config.schema import AppConfig, environments_from_mapping, model_at, too_many_environments, user_fields
from config.yaml_reader import UnreadableYamlError, YamlDocument, read_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "environments.yaml"
REFERENCE = "docs/configuration.md"

# A configuration is a few KB; a file far larger is not one, and reading it whole costs memory.
MAX_FILE_BYTES = 4 * 2**20
# A line stays one line of a terminal whatever its message says.
LINE_LIMIT = 400
# A file of thousands of bad values is reported by its first problems and a count of the others.
SHOWN_PROBLEMS = 50

_MISSING = object()

Loc = tuple[str | int, ...]

# pydantic's wording for a wrong type, in the terms of a YAML file.
_TYPE_MESSAGES = {
    "model_type": "should be a mapping (key: value lines)",
    "dict_type": "should be a mapping (key: value lines)",
    "tuple_type": "should be a list",
}


class ConfigError(Exception):
    """A configuration file that cannot be used; `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.source = source
        self.problems = problems

    def __str__(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} configuration problem(s)"]
        lines += [f"  {p}" for p in self.problems[:SHOWN_PROBLEMS]]
        if len(self.problems) > SHOWN_PROBLEMS:
            lines.append(f"  ... and {len(self.problems) - SHOWN_PROBLEMS} more")
        return "\n".join(lines)


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> AppConfig:
    """Load, validate and return the configuration in `path`."""
    source = str(path)
    document = _read(Path(path), source)
    try:
        config = parse_config(document.data, source=source)
    except ConfigError as error:
        raise ConfigError(source, [*document.duplicate_keys, *error.problems]) from None
    if document.duplicate_keys:
        raise ConfigError(source, list(document.duplicate_keys))
    return config


def _read(path: Path, source: str) -> YamlDocument:
    too_large = f"larger than {MAX_FILE_BYTES // 2**20} MiB: a configuration is a few KB"
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise ConfigError(source, [too_large])
            # A pipe or a device has no size: read no further than the limit.
            data = file.read() if size else file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigError(source, [f"cannot read the file: {error.strerror or error}"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(source, [too_large])
    try:
        return read_yaml(data)
    except UnreadableYamlError as error:
        raise ConfigError(source, [str(error)]) from None


def parse_config(raw: Any, *, source: str = "<config>") -> AppConfig:
    """Validate an already-parsed document (a dict as YAML gives it): every problem at once."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"<top>: {shown(raw)} is not a mapping with `pipeline` and `environments`"])
    document = dict(raw)
    names, problems = _environments(document)
    config: AppConfig | None = None
    errors: list[ErrorDetails] = []
    try:
        config = AppConfig.model_validate(document)
    except ValidationError as error:
        errors = error.errors(include_url=False)
    problems += _describe(errors, document, names)
    # Cross-field rules run wherever the fields they read are valid, so one run reports everything.
    for problem in rules.check(document, [tuple(item["loc"]) for item in errors]):
        loc = list(problem.loc)
        problems.append(f"{_path(loc, names)}: {_value(document, loc)} {problem.message}")
    problems = [cut(p, LINE_LIMIT) for p in dict.fromkeys(problems)]
    if problems or config is None:
        raise ConfigError(source, problems)
    return config


def _environments(document: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Turn the document's `environments` mapping into the list the model reads: their names, and problems."""
    envs = document.get("environments", _MISSING)
    if envs is _MISSING:
        return [], []
    if not isinstance(envs, dict):
        del document["environments"]
        return [], [f"environments: {shown(envs)} is not a mapping of environment names, in promotion order"]
    document["environments"] = environments_from_mapping(envs)
    names = [cut(str(name)) for name in envs]
    problems = [
        f"environments.{name}.name: unknown key (an environment's name is its key under environments)"
        for name, body in zip(names, envs.values(), strict=True)
        if isinstance(body, dict) and "name" in body
    ]
    # Counted here, so that the line comes whether or not each environment is valid.
    too_many = too_many_environments(len(envs))
    return names, problems + ([f"environments: {too_many}"] if too_many else [])


def _describe(errors: list[ErrorDetails], document: dict[str, Any], names: list[str]) -> list[str]:
    """One line per pydantic error; a key misspelt for a required one is one line, not two."""
    missing = {tuple(item["loc"]) for item in errors if item["type"] == "missing"}
    unknown = {
        tuple(item["loc"]): _unknown_key(tuple(item["loc"]), missing)
        for item in errors
        if item["type"] == "extra_forbidden"
    }
    meant = {target for _, target in unknown.values() if target is not None}
    lines: list[str] = []
    for item in errors:
        loc = _field_loc(item)
        if item["type"] == "missing" and tuple(loc) in meant:
            continue
        if item["type"] == "extra_forbidden":
            lines.append(f"{_path(loc, names)}: {unknown[tuple(loc)][0]}")
        else:
            lines.append(_line(item, loc, document, names))
    return list(dict.fromkeys(lines))


def _field_loc(item: ErrorDetails) -> list[str | int]:
    """Where an error points: a model validator's error names its field in its type ('field:cpu')."""
    loc = list(item["loc"])
    if item["type"].startswith("field:"):
        fields = item["type"].removeprefix("field:").split(".")
        if not loc or loc[-1] != fields[0]:
            loc += fields
    return loc


def _line(item: ErrorDetails, loc: list[str | int], document: dict[str, Any], names: list[str]) -> str:
    kind, path = item["type"], _path(loc, names)
    if kind == "missing":
        return f"{path}: missing (required)"
    if loc == ["environments"]:
        # Said of the whole mapping, which is too long to show.
        if kind == "too_short":
            return "environments: the file names no environment (the pipeline needs at least one)"
        return f"environments: {item['msg']}"
    if kind == "invalid_key":
        where = _path(loc[:-1], names) or "<top>"
        return f"{where}: {shown(loc[-1])} is not a key name (keys are text, e.g. region)"
    message = item["msg"] if kind.startswith("field:") else _TYPE_MESSAGES.get(kind) or _plain(item["msg"])
    return f"{path}: {_value(document, loc)} {message}"


def _unknown_key(loc: Loc, missing: set[Loc]) -> tuple[str, Loc | None]:
    """What to say of an unknown key at `loc`, and the missing key it was probably meant to be."""
    parent, key = loc[:-1], str(loc[-1])
    model = model_at(parent)
    if model is None:
        return "unknown key", None
    renamed = getattr(model, "renamed_fields", {}).get(key)
    if renamed is not None:
        return f"was renamed to {renamed}: the unit is now part of the name", None
    close = difflib.get_close_matches(key, user_fields(model), n=1)
    if not close:
        return f"unknown key ({REFERENCE} lists every key)", None
    meant = (*parent, close[0])
    if meant in missing:
        return f"unknown key; did you mean {close[0]} (required, and missing)?", meant
    return f"unknown key; did you mean {close[0]}?", None


def _path(loc: list[Any], names: list[str]) -> str:
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int) and loc[:i] == ["environments"] and part < len(names):
            parts.append(names[part])
        elif isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(cut(str(part)))
    return ".".join(parts).replace(".[", "[")


def _lookup(document: Any, loc: list[Any]) -> Any:
    node = document
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
        else:
            return _MISSING
    return node


def _value(document: dict[str, Any], loc: list[Any]) -> str:
    """The value at `loc` as a problem line shows it: '(absent)' when there is none, else its repr cut short."""
    value = _lookup(document, loc)
    return "(absent)" if value is _MISSING else shown(value)


def _plain(message: str) -> str:
    # pydantic's wording ("Input should be a valid integer") reads oddly after the value.
    message = message.removeprefix("Value error, ")
    if message.startswith("Input should be "):
        return "should be " + message.removeprefix("Input should be ")
    return message[0].lower() + message[1:] if message else message
