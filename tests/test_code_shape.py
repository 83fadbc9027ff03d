"""The shape of the infrastructure code: functions that read in one screen, acknowledgments that build nothing.

Read from the source with `ast`, without importing it, so these run in milliseconds.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance import checks

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("stacks", "stages", "pipeline", "components")
# A function that composes reads top to bottom in one screen; when it grows, what it builds becomes a component.
MAX_FUNCTION_LINES = 60

# What an acknowledgment function may not do: build a construct, assign to an attribute or item, or call a method
# that adds, grants, changes or creates.
_MUTATING_PREFIXES = (
    "add_",
    "apply_",
    "attach_",
    "bind",
    "create",
    "grant",
    "harden",
    "narrow",
    "obtain_",
    "override",
    "pin_",
    "put_",
    "remove",
    "set_",
)
_CHECKS = frozenset(checks.__all__)

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, Function]]:
    """Every function and method with its qualified name, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield f"{prefix}{node.name}", node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")


def _sources(packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def _length(function: Function) -> int:
    assert function.end_lineno is not None
    return function.end_lineno - function.lineno + 1


def _is_acknowledgment(name: str) -> bool:
    short = name.rsplit(".", 1)[-1]
    return short.startswith(("_acknowledge", "acknowledge"))


def _builds_or_changes(function: Function) -> list[str]:
    """What in `function`'s body creates a construct or changes one, each as its line and source."""
    found: list[str] = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [
                f"line {node.lineno}: assigns {ast.unparse(t)}"
                for t in targets
                if isinstance(t, ast.Attribute | ast.Subscript)
            ]
        elif isinstance(node, ast.Call):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            constructs = name[:1].isupper() and name not in _CHECKS
            if constructs or (not _is_acknowledgment(name) and name.startswith(_MUTATING_PREFIXES)):
                found.append(f"line {node.lineno}: calls {ast.unparse(callee)}")
    return found


def test_no_function_is_longer_than_one_screen() -> None:
    too_long = [
        f"{path.relative_to(ROOT)}:{function.lineno} {name} has {_length(function)} lines"
        for path in _sources()
        for name, function in _functions(ast.parse(path.read_text()))
        if _length(function) > MAX_FUNCTION_LINES
    ]

    assert not too_long, f"longer than {MAX_FUNCTION_LINES} lines:\n" + "\n".join(too_long)


def test_no_acknowledgment_builds_or_changes_a_resource() -> None:
    acknowledgments = [
        (path, name, function)
        for path in _sources()
        for name, function in _functions(ast.parse(path.read_text()))
        if _is_acknowledgment(name)
    ]
    offending = [
        f"{path.relative_to(ROOT)} {name}, {finding}"
        for path, name, function in acknowledgments
        for finding in _builds_or_changes(function)
    ]

    assert acknowledgments
    assert not offending, "acknowledgment functions only acknowledge:\n" + "\n".join(offending)


_SAMPLE = """
class Stack:
    def __init__(self):
        self._acknowledge()
    def _acknowledge(self):
        acknowledge(self.bucket, "Rule", reason="...", checks=[Versioned()], controls=["AU-9"])
    def _acknowledge_logs(self):
        EncryptedLogGroup(self, "Logs")
    def _acknowledge_port(self):
        self.rule.from_port = 5432
    def _acknowledge_hardened(self):
        generated.harden_security_check(self.parts)
"""


@pytest.mark.parametrize(
    ("method", "finding"),
    [
        ("Stack._acknowledge", None),
        ("Stack._acknowledge_logs", "calls EncryptedLogGroup"),
        ("Stack._acknowledge_port", "assigns self.rule.from_port"),
        ("Stack._acknowledge_hardened", "calls generated.harden_security_check"),
    ],
)
def test_what_counts_as_building_or_changing(method: str, finding: str | None) -> None:
    functions = dict(_functions(ast.parse(_SAMPLE)))

    found = [line.split(": ", 1)[1] for line in _builds_or_changes(functions[method])]

    assert found == ([finding] if finding else [])


def test_function_length_counts_from_def_to_last_line() -> None:
    long_function = "def composes():\n" + "    x = 1\n" * MAX_FUNCTION_LINES
    ((name, function),) = _functions(ast.parse(long_function))

    assert name == "composes"
    assert _length(function) == MAX_FUNCTION_LINES + 1
