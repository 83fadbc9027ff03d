"""The configuration's YAML is read strictly: keys given twice, alias bombs, deep nesting and bad bytes are one line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config.yaml_reader import MAX_ALIASES, MAX_DEPTH, MAX_NODES, UnreadableYamlError, read_yaml
from scripts.bench_config import alias_bomb, deep_nesting, many_aliases


def _refusal(text: str | bytes) -> str:
    with pytest.raises(UnreadableYamlError) as caught:
        read_yaml(text.encode() if isinstance(text, str) else text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "pipeline:\n  region: a\nenvironments: {}\npipeline:\n  region: b\n",
            "pipeline: key given twice, at lines 1 and 4",
        ),
        (
            "environments:\n  prod:\n    region: a\n  prod:\n    region: b\n",
            "environments.prod: key given twice, at lines 2 and 4",
        ),
        (
            "environments:\n  dev:\n    database:\n      port: 1\n      port: 2\n",
            "environments.dev.database.port: key given twice, at lines 4 and 5",
        ),
        ("zones: [{a: 1, a: 2}]\n", "zones[0].a: key given twice, at lines 1 and 1"),
        ("flag: 1\nFlag: 2\ntrue: 3\nyes: 4\n", "yes: key given twice, at lines 3 and 4"),  # both read as True
    ],
)
def test_a_key_given_twice_is_named_with_both_lines(text: str, expected: str) -> None:
    assert read_yaml(text.encode()).duplicate_keys == (expected,)


def test_a_key_next_to_a_merge_overrides_it_and_is_not_a_duplicate() -> None:
    document = read_yaml(b"defaults: &defaults {port: 1, multi_az: false}\ndev:\n  <<: *defaults\n  port: 2\n")
    assert document.duplicate_keys == ()
    assert document.data["dev"] == {"port": 2, "multi_az": False}


def test_an_alias_bomb_is_refused_while_it_is_composed() -> None:
    # Nine levels of nine aliases: 1 KB that stands for 9^9 strings. Refused before anything expands it.
    assert len(alias_bomb()) < 1024
    assert _refusal(alias_bomb()) == (
        f"more than {MAX_NODES} values with aliases expanded, by line 5 (a configuration has a few hundred)"
    )


def test_more_aliases_than_the_budget_are_refused_however_small() -> None:
    assert _refusal(many_aliases()) == f"more than {MAX_ALIASES} aliases (*name) by line {MAX_ALIASES + 2}"
    assert read_yaml(many_aliases(MAX_ALIASES).encode()).data["key0"] == 1


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert _refusal("a: &a [1, *a]\n") == "an alias inside the node it names, at line 1 (a recursive structure)"


def _block_mappings(levels: int) -> str:
    """`levels` mappings, each the only value of the one before: k0:, then k1: indented under it, ..."""
    return (
        "".join(" " * (2 * level) + f"k{level}:\n" for level in range(levels - 1)) + " " * (2 * (levels - 1)) + "k: x\n"
    )


def _flow_mappings(levels: int) -> str:
    return "k: " + "{k: " * (levels - 1) + "x" + "}" * (levels - 1) + "\n"


@pytest.mark.parametrize(
    "text",
    [deep_nesting(), _block_mappings(MAX_DEPTH + 1), _flow_mappings(50_000)],
    ids=["flow-lists", "block-mappings", "flow-mappings"],
)
def test_nesting_deeper_than_any_configuration_is_one_line(text: str) -> None:
    assert _refusal(text).startswith(f"nesting deeper than {MAX_DEPTH} levels at line ")


@pytest.mark.parametrize("nested", [_block_mappings, _flow_mappings])
def test_nesting_up_to_the_limit_is_read(nested: Callable[[int], str]) -> None:
    assert read_yaml(nested(MAX_DEPTH).encode()).data
    with pytest.raises(UnreadableYamlError, match="nesting deeper"):
        read_yaml(nested(MAX_DEPTH + 1).encode())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"pipeline:\n  region: \xff\n", "not UTF-8 text: byte 0xff at offset 20 (line 2)"),
        (b"\xfe\xffp\x00", "not UTF-8 text: byte 0xfe at offset 0 (line 1)"),  # UTF-16
        ("pipeline: caf\u00e9\n".encode("latin-1"), "not UTF-8 text: byte 0xe9 at offset 13 (line 1)"),
    ],
)
def test_bytes_that_are_not_utf8_are_one_line(data: bytes, expected: str) -> None:
    assert _refusal(data) == expected


def test_a_control_character_is_one_line() -> None:
    assert _refusal("a: b\x00\n") == (
        "malformed YAML: character #x0000 at offset 4: special characters are not allowed"
    )


def test_an_integer_longer_than_python_converts_is_one_line() -> None:
    assert _refusal("a: " + "9" * 5000 + "\n") == "an integer of 5000 digits at line 1 (no setting takes more than 10)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [unclosed\n", "malformed YAML: line 2, column 1: while parsing a flow sequence (line 1), expected ','"),
        ("a: 1\n---\nb: 2\n", "malformed YAML: line 2, column 1: expected a single document in the stream"),
        ("a: &x 1\nb: &x 2\n", "malformed YAML: line 2, column 4: found duplicate anchor 'x'"),
        ("a: !!python/object:os.system x\n", "malformed YAML: line 1, column 4: could not determine a constructor"),
    ],
)
def test_malformed_yaml_is_one_line_with_its_place(text: str, expected: str) -> None:
    refusal = _refusal(text)
    assert refusal.startswith(expected)
    assert "\n" not in refusal
