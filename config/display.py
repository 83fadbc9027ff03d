"""How a value from the configuration file appears in a problem line: short, whatever its size.

A problem line names a field and its value; the value comes from the user's file and may be a
megabyte string or a list of thousands of items. It is shown as its `repr`, cut at `VALUE_LIMIT`
characters with an ellipsis, so a line stays one line of a terminal.
"""

from __future__ import annotations

from typing import Any

VALUE_LIMIT = 60
ELLIPSIS = "..."


def cut(text: str, limit: int = VALUE_LIMIT) -> str:
    """`text`, or its first characters and an ellipsis when it is longer than `limit`."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def shown(value: Any, limit: int = VALUE_LIMIT) -> str:
    """The `repr` of `value`, cut at `limit` characters."""
    try:
        text = repr(value)
    except ValueError:
        # An integer written in hex or binary may have more decimal digits than Python converts.
        return f"<an integer of {value.bit_length()} bits>" if isinstance(value, int) else "<unprintable value>"
    return cut(text, limit)
