"""The configuration file's YAML, read strictly: each refusal is one line, in bounded time and memory.

PyYAML's safe loader, plus what it does not refuse by itself:

- a key given twice in one mapping, which YAML resolves by silently keeping the last one: each is
  named with its path and both lines, and the rest of the file is still checked;
- aliases beyond a small budget: a "billion laughs" document of a few hundred bytes expands to
  billions of values when anything walks it, so the composer counts every node an alias stands for
  and stops long before that;
- nesting deeper than any configuration needs (PyYAML's composer recurses and would overflow
  Python's stack);
- bytes that are not UTF-8, and integers too long for Python to convert.

These refusals (except duplicate keys) end the reading: `UnreadableYamlError` carries the one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from config.display import cut

# The schema nests four levels (environments.<name>.alarms.<key>); a list inside adds one.
MAX_DEPTH = 10
# A configuration uses a few anchors at most (shared defaults merged with `<<: *defaults`).
MAX_ALIASES = 100
# Nodes of the document with every alias expanded: the shipped file has about 300, and 20
# environments written out in full about 2,000.
MAX_NODES = 10_000
# Python converts at most this many decimal digits to an integer (sys.get_int_max_str_digits()).
MAX_INTEGER_DIGITS = 4300

_MERGE_TAG = "tag:yaml.org,2002:merge"


class UnreadableYamlError(Exception):
    """The file cannot be read as a configuration at all; the message is the one line saying why."""


@dataclass(frozen=True)
class YamlDocument:
    """A document read from the file, and the duplicate keys in it (one line each)."""

    data: Any
    duplicate_keys: tuple[str, ...]


def read_yaml(data: bytes) -> YamlDocument:
    """The document in `data`, or `UnreadableYamlError` naming the first reason it cannot be read."""
    text = _utf8(data)
    try:
        loader = _StrictLoader(text)  # PyYAML's reader refuses control characters here
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise UnreadableYamlError(_malformed(error)) from None
    return YamlDocument(document, tuple(loader.duplicate_keys))


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UnreadableYamlError(
            f"not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start} (line {line})"
        ) from None


def _malformed(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.reader.ReaderError):
        return f"malformed YAML: character #x{error.character:04x} at offset {error.position}: {error.reason}"
    if not isinstance(error, yaml.MarkedYAMLError):
        return cut(f"malformed YAML: {str(error).splitlines()[0]}", 200)
    mark, context_mark = error.problem_mark, error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    context = f"{error.context} (line {context_mark.line + 1}), " if error.context and context_mark else ""
    return cut(f"malformed YAML: {where}{context}{error.problem or ''}".splitlines()[0], 200)


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that counts what it composes and refuses keys given twice."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.duplicate_keys: list[str] = []
        self._aliases = 0
        self._nodes = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id of an anchored node -> its nodes, aliases expanded
        self._path: list[str] = []  # the path of the collection being composed
        self._paths: dict[int, tuple[str, ...]] = {}  # id of a collection node -> its path, for messages

    # --- scanning and composing: the budgets ----------------------------------------------------

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 (PyYAML's name)
        # The scanner reads up to 1,024 characters ahead for a key in a flow collection, at a cost that
        # grows with the nesting: refuse deep flow nesting here, before the composer would see it.
        if self.flow_level >= MAX_DEPTH:
            raise UnreadableYamlError(f"nesting deeper than {MAX_DEPTH} levels at line {self.line + 1}")
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            return self._compose_alias(parent, index, line)
        nested = isinstance(event, CollectionStartEvent)
        if nested and self._depth >= MAX_DEPTH:
            raise UnreadableYamlError(f"nesting deeper than {MAX_DEPTH} levels at line {line}")
        before = self._nodes
        self._enter(index, nested)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._leave(index, nested)
        assert node is not None
        self._count(1, line)
        if nested:
            self._paths[id(node)] = (*self._path, _component(index))
        if event.anchor is not None:
            self._sizes[id(node)] = self._nodes - before
        return node

    def _compose_alias(self, parent: Node | None, index: Any, line: int) -> Node | None:
        self._aliases += 1
        if self._aliases > MAX_ALIASES:
            raise UnreadableYamlError(f"more than {MAX_ALIASES} aliases (*name) by line {line}")
        node = super().compose_node(parent, index)
        size = self._sizes.get(id(node))
        if size is None:
            raise UnreadableYamlError(f"an alias inside the node it names, at line {line} (a recursive structure)")
        self._count(size, line)
        return node

    def _count(self, nodes: int, line: int) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise UnreadableYamlError(
                f"more than {MAX_NODES} values with aliases expanded, by line {line} "
                "(a configuration has a few hundred)"
            )

    def _enter(self, index: Any, nested: bool) -> None:
        if nested:
            self._depth += 1
            self._path.append(_component(index))

    def _leave(self, index: Any, nested: bool) -> None:
        if nested:
            self._depth -= 1
            self._path.pop()

    # --- constructing: keys given twice, long integers ------------------------------------------

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        self._refuse_duplicates(node)
        return super().construct_mapping(node, deep=deep)

    def _refuse_duplicates(self, node: MappingNode) -> None:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # `<<: *defaults` merges; a key written next to it overrides, as intended
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            try:
                first = lines.get(key)
            except TypeError:
                continue  # an unhashable key: PyYAML's own construction refuses it
            if first is None:
                lines[key] = line
            else:
                where = _joined(self._paths.get(id(node), ()), key_node)
                self.duplicate_keys.append(f"{where}: key given twice, at lines {first} and {line}")

    def construct_yaml_int(self, node: ScalarNode) -> int:
        digits = sum("0" <= c <= "9" for c in str(node.value))
        if digits > MAX_INTEGER_DIGITS:
            raise UnreadableYamlError(
                f"an integer of {digits} digits at line {node.start_mark.line + 1} (no setting takes more than 10)"
            )
        return super().construct_yaml_int(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)


def _component(index: Any) -> str:
    """The path component of a node composed at `index`: a key node, a list position, or none (the root, a key)."""
    if isinstance(index, ScalarNode):
        return cut(str(index.value))
    return f"[{index}]" if isinstance(index, int) else ""


def _joined(path: Iterable[str], index: Any) -> str:
    parts = [p for p in (*path, _component(index)) if p]
    return ".".join(parts).replace(".[", "[")
