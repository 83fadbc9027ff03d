"""Where each evaluated resource comes from: its line in the synthesized template, and the source line that names it.

A finding is about a synthesized resource, but the person who fixes it edits Python. The construct path
says which stack holds the resource and, just below the stack, the id of the construct the stack created
that leads to it (`Pipeline/Dev/Data/Archive/Resource`: the data stack's `Archive`). The stack's Python
class is read from the app, and its body (with its own base classes') from its source: the one call that
passes `self` and that id as a string literal is where the stack composes the resource. Only then is a
source line given. An id made at run time (an f-string, a loop), passed through a helper, used by two
calls, or created by a library (CDK Pipelines' roles, a provider's singleton) gets none: a guessed line
would send a reader to the wrong code. The template line (the resource's key under "Resources") is given
for every resource the assembly holds.

Reads the assembly as JSON and the source with `ast`; touches jsii only to find each stack's class.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from compliance.assembly import CloudAssembly, StackView
from compliance.model import Place, ResourceLocation

# The keyword names a construct's constructor takes its scope and id by (CDK's own, and this project's).
_SCOPE_KEYWORDS = ("scope",)
_ID_KEYWORDS = ("construct_id", "id")
# Folders of a checkout that hold installed code, never this repository's own.
_INSTALLED = frozenset({".venv", "venv", "site-packages", "node_modules"})


def resource_locations(
    app: Any, assembly: CloudAssembly, paths: Iterable[str], *, root: Path
) -> list[ResourceLocation]:
    """The location of each resource of `paths` that the assembly holds, in the order of `paths` (each once).

    `app` is the synthesized `cdk.App` (its stacks' classes give the source lines), or None for template lines
    only; `root` is the repository the source files are named relative to.
    """
    resources = assembly.resources
    classes = stack_classes(app, assembly) if app is not None else {}
    root, directory = root.resolve(), assembly.directory.resolve()
    # Each template read and each stack's file named once, in this call only: a later synth may rewrite them.
    keys = cache(_resource_keys)
    files = cache(lambda template_file: _assembly_file(template_file, directory))
    found: list[ResourceLocation] = []
    for path in dict.fromkeys(paths):
        resource = resources.get(path)
        if resource is None:
            continue
        template = template_place(resource.stack, resource.logical_id, directory, keys=keys, files=files)
        if template is None:
            continue
        cls = classes.get(resource.stack.path)
        child = path.removeprefix(resource.stack.path + "/").split("/", 1)[0]
        source = _only(_class_places(cls, root).get(child, ())) if cls is not None else None
        found.append(ResourceLocation(path, resource.logical_id, template, source))
    return found


def stack_classes(app: Any, assembly: CloudAssembly) -> dict[str, type]:
    """The Python class of each stack of the assembly, by construct path, as the app built it."""
    nodes: dict[str, Any] = {"": app}  # by construct path: each construct looked up across jsii once

    def node_at(path: str) -> Any:
        if path not in nodes:
            parent, _, child = path.rpartition("/")
            above = node_at(parent)
            nodes[path] = above.node.try_find_child(child) if above is not None else None
        return nodes[path]

    return {stack.path: type(node) for stack in assembly.stacks if (node := node_at(stack.path)) is not None}


def _only(places: tuple[Place, ...]) -> Place | None:
    """The one place of a construct id in its stack class's calls; None where no call, or more than one, names it."""
    return places[0] if len(places) == 1 else None


@cache
def _class_places(cls: type, root: Path) -> dict[str, tuple[Place, ...]]:
    """Construct id -> each place of it as a literal in a call of `cls`'s body or an own base class's that creates
    a construct on `self` (`root` resolved): worked out once per class, not once per resource."""
    places: dict[str, tuple[Place, ...]] = {}
    for name, place in {place for own in _own_classes(cls, root) for place in _named_children(own, root)}:
        places[name] = (*places.get(name, ()), place)
    return places


def _own_classes(cls: type, root: Path) -> list[type]:
    """`cls` and its base classes whose source is a file of the repository at `root`."""
    return [base for base in cls.__mro__ if _relative_source(base, root) is not None]


def _relative_source(cls: type, root: Path) -> str | None:
    try:
        source = inspect.getsourcefile(cls)
    except TypeError:  # a built-in or a class made at run time
        return None
    if source is None:
        return None
    try:
        relative = Path(source).resolve().relative_to(root)
    except ValueError:
        return None
    return None if _INSTALLED & set(relative.parts) else relative.as_posix()


@cache
def _named_children(cls: type, root: Path) -> frozenset[tuple[str, Place]]:
    """(construct id, place of its literal) of every call in `cls`'s own body that passes `self` as the scope."""
    file = _relative_source(cls, root)
    if file is None:
        return frozenset()
    text = (root / file).read_text(encoding="utf-8")
    lines = text.splitlines()
    body = next(
        (
            node
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__ and node.lineno == _class_line(cls)
        ),
        None,
    )
    if body is None:
        return frozenset()
    found: set[tuple[str, Place]] = set()
    for call in (node for node in ast.walk(body) if isinstance(node, ast.Call)):
        scope, construct_id = _scope_and_id(call)
        if not (isinstance(scope, ast.Name) and scope.id == "self"):
            continue
        if not (isinstance(construct_id, ast.Constant) and isinstance(construct_id.value, str)):
            continue
        place = _literal_place(file, lines, construct_id)
        if place is not None:
            found.add((construct_id.value, place))
    return frozenset(found)


def _class_line(cls: type) -> int:
    """The line of `cls`'s `class` statement (its decorators' lines excluded), as `ast` numbers it."""
    try:
        source_lines, first = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return -1
    offset = next((i for i, line in enumerate(source_lines) if line.lstrip().startswith("class ")), 0)
    return first + offset


def _scope_and_id(call: ast.Call) -> tuple[ast.expr | None, ast.expr | None]:
    """The scope and id a constructor call passes, positionally or by keyword."""
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    scope = call.args[0] if call.args else next((keywords[k] for k in _SCOPE_KEYWORDS if k in keywords), None)
    construct_id = (
        call.args[1] if len(call.args) > 1 else next((keywords[k] for k in _ID_KEYWORDS if k in keywords), None)
    )
    return scope, construct_id


def _literal_place(file: str, lines: list[str], literal: ast.Constant) -> Place | None:
    """The literal's span, in characters (`ast` counts UTF-8 bytes); None for one spread over lines."""
    if literal.end_lineno != literal.lineno or literal.end_col_offset is None:
        return None
    encoded = lines[literal.lineno - 1].encode("utf-8")
    start = len(encoded[: literal.col_offset].decode("utf-8"))
    end = len(encoded[: literal.end_col_offset].decode("utf-8"))
    return Place(file, literal.lineno, start + 1, end + 1)


def template_place(
    stack: StackView,
    logical_id: str,
    assembly: Path,
    *,
    keys: Callable[[Path], dict[str, tuple[int, int, int]]] | None = None,
    files: Callable[[Path], str | None] | None = None,
) -> Place | None:
    """The line of `logical_id`'s key under the template's "Resources", as the CDK writes templates (one key a
    line); None where the template is not laid out so or is not a file of `assembly`. `keys` and `files` stand in
    for `_resource_keys` and `_assembly_file` (on `assembly`), to remember what they read."""
    if stack.template_file is None:
        return None
    file = files(stack.template_file) if files is not None else _assembly_file(stack.template_file, assembly)
    if file is None:
        return None
    span = (keys or _resource_keys)(stack.template_file).get(logical_id)
    return Place(file, *span) if span is not None else None


def _assembly_file(template_file: Path, assembly: Path) -> str | None:
    """The template's path in `assembly`, "/"-separated; None where it is not a file of it."""
    try:
        return template_file.resolve().relative_to(assembly.resolve()).as_posix()
    except ValueError:
        return None


def _resource_keys(template_file: Path) -> dict[str, tuple[int, int, int]]:
    """Logical id -> (line, column, end column) of its quoted key, for each resource of the template."""
    lines = template_file.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == '"Resources": {'), None)
    if start is None:
        return {}
    outer = len(lines[start]) - len(lines[start].lstrip())
    keys: dict[str, tuple[int, int, int]] = {}
    depth = None
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        text = line.lstrip()
        indent = len(line) - len(text)
        if indent <= outer:
            break  # the brace that closes "Resources"
        depth = indent if depth is None else depth
        if indent == depth and text.startswith('"'):
            key = text[1 : text.index('"', 1)]
            keys[key] = (number, indent + 1, indent + len(key) + 3)
    return keys
