"""How long the validation plugins took within an app's synth, by kind: the synth's progress lines per plugin.

The CDK runs every plugin inside `app.synth()`, so the synth driver cannot time them from outside; each
plugin times its own `validate` here, keyed by the app it validated (an app that is gone takes its
figures with it). Standard library only.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

PACKS = "packs"
CONTROL_TOWER = "Control Tower"

_SPENT: weakref.WeakKeyDictionary[object, dict[str, float]] = weakref.WeakKeyDictionary()


@contextmanager
def timed(app: object | None, kind: str) -> Iterator[None]:
    """Add the block's wall time to `app`'s figure for `kind` (nothing is recorded without an app)."""
    started = time.monotonic()
    try:
        yield
    finally:
        if app is not None:
            spent = _SPENT.setdefault(app, {})
            spent[kind] = spent.get(kind, 0.0) + time.monotonic() - started


def spent(app: object) -> dict[str, float]:
    """Seconds by kind that the plugins spent validating `app`, in the order the kinds first ran."""
    return dict(_SPENT.get(app, {}))
