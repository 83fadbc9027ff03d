"""The requirements files read as pip reads them: the pins people edit, and the hashed files `make lock` writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_INCLUDE = re.compile(r"-r\s+(\S+)")
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Locked:
    """One requirement of a hashed file: its version, the marker that limits where it installs, its hashes."""

    version: str
    marker: str
    hashes: frozenset[str]


def normalized(name: str) -> str:
    """A distribution's name as the index compares it (PEP 503): `PyYAML` and `pyyaml`, `ast_serialize` and
    `ast-serialize` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _logical_lines(path: Path) -> list[str]:
    """The file's requirement lines, comments dropped and backslash-continued lines joined."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.strip().startswith("#")]
    return [line.strip() for line in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if line.strip()]


def pins(path: Path) -> dict[str, str]:
    """name -> version of each `name==version` of a requirements file people edit, and of the files it reads (-r)."""
    pinned: dict[str, str] = {}
    for line in _logical_lines(path):
        if included := _INCLUDE.fullmatch(line):
            pinned.update(pins(path.parent / included.group(1)))
        elif pin := _PIN.fullmatch(line.split("#")[0].strip()):
            pinned[normalized(pin.group(1))] = pin.group(2)
        else:
            raise AssertionError(f"{path.name}: {line!r} is not a pin (name==version) or -r file")
    return pinned


def locked(path: Path) -> dict[str, list[Locked]]:
    """name -> each requirement of a hashed file (one per marker a universal lock may split a package by)."""
    entries: dict[str, list[Locked]] = {}
    for line in _logical_lines(path):
        requirement, *options = re.split(r"\s+(?=--hash=)", line)
        spec, _, marker = requirement.partition(";")
        pin = _PIN.fullmatch(spec.strip())
        assert pin is not None, f"{path.name}: {requirement!r} is not pinned with =="
        hashes = frozenset(option.removeprefix("--hash=") for option in options)
        entries.setdefault(normalized(pin.group(1)), []).append(Locked(pin.group(2), marker.strip(), hashes))
    return entries
