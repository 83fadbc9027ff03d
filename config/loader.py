"""Read a configuration file and turn every problem in it into one readable line.

`load_config` is the only place that reads the configuration file. It returns a
validated `AppConfig` or raises `ConfigError`, whose lines each name the field
path and the offending value, e.g.
`environments.staging.account: '12345' is not a 12-digit AWS account id`.
The YAML itself is read by `config.yaml_reader`, which refuses keys given twice, alias
bombs, deep nesting and bytes that are not UTF-8, each in one line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config import rules
from config.display import shown
from config.schema import AppConfig, environments_from_mapping
from config.yaml_reader import UnreadableYamlError, YamlDocument, read_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "environments.yaml"

# A configuration is a few KB; a file far larger is not one, and reading it whole costs memory.
MAX_FILE_BYTES = 4 * 2**20

_MISSING = object()


class ConfigError(Exception):
    """A configuration file that cannot be used; `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.source = source
        self.problems = problems

    def __str__(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} configuration problem(s)"]
        lines += [f"  {p}" for p in self.problems]
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
        raise ConfigError(source, [f"<top>: {_show(raw)} is not a mapping with `pipeline` and `environments`"])
    document = dict(raw)
    envs = raw.get("environments", _MISSING)
    problems: list[str] = []
    if envs is not _MISSING and not isinstance(envs, dict):
        problems.append(f"environments: {_show(envs)} is not a mapping of environment names, in promotion order")
        del document["environments"]
    elif isinstance(envs, dict):
        document["environments"] = environments_from_mapping(envs)
    config: AppConfig | None = None
    invalid: list[rules.Loc] = []
    try:
        config = AppConfig.model_validate(document)
    except ValidationError as error:
        problems += _describe(error, document)
        invalid = [tuple(item["loc"]) for item in error.errors(include_url=False)]
    # Cross-field rules run wherever the fields they read are valid, so one run reports everything.
    for problem in rules.check(document, invalid):
        loc = list(problem.loc)
        problems.append(f"{_path(loc, document)}: {_show(_lookup(document, loc))} {problem.message}")
    problems = list(dict.fromkeys(problems))
    if problems or config is None:
        raise ConfigError(source, problems)
    return config


def _describe(error: ValidationError, document: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        kind = item["type"]
        if kind.startswith("field:"):
            names = kind.removeprefix("field:").split(".")
            if not loc or loc[-1] != names[0]:
                loc += names
        if loc == ["environments"] and kind == "too_short":
            lines.append("environments: the file names no environment (the pipeline needs at least one)")
            continue
        path = _path(loc, document)
        value = _lookup(document, loc)
        if kind == "missing":
            lines.append(f"{path}: missing (required)")
        elif kind == "extra_forbidden":
            lines.append(f"{path}: unknown key")
        elif kind.startswith("field:"):
            lines.append(f"{path}: {_show(value)} {item['msg']}")
        else:
            lines.append(f"{path}: {_show(value)} {_plain(item['msg'])}")
    return list(dict.fromkeys(lines))


def _path(loc: list[Any], document: dict[str, Any]) -> str:
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int) and loc[:i] == ["environments"]:
            body = document["environments"][part]
            parts.append(str(body["name"]) if isinstance(body, dict) else f"[{part}]")
        elif isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(str(part))
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


def _show(value: Any) -> str:
    return "(absent)" if value is _MISSING else shown(value)


def _plain(message: str) -> str:
    # pydantic's wording ("Input should be a valid integer") reads oddly after the value.
    message = message.removeprefix("Value error, ")
    if message.startswith("Input should be "):
        return "should be " + message.removeprefix("Input should be ")
    return message[0].lower() + message[1:] if message else message
