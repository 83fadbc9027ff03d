"""`make synth`'s progress: one line for each phase as it ends, with the seconds it took.

    [synth 8.6 s] 19 templates, validated by NIST.800.53.R5, AwsSolutions, Preflight, ...

On a terminal a phase also shows what it is doing while it runs, and its line replaces that when it
ends (one carriage return, no spinner). Under CI (`CI=true`, which the pipeline's Synth step sets),
or written to a file or a pipe, there is only the finished line: one per phase, nothing rewritten.
The synth driver (`scripts/synth.py`) and the app it runs (`app.py`, told by `ENVIRONMENT`) write to
the same standard output, so their phases read as one sequence, before the summary.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

# Set by the synth driver for the app it runs: the app shows its phases only then (not under the CDK CLI).
ENVIRONMENT = "MONITORING_PROGRESS"
_CLEAR_TO_END_OF_LINE = "\x1b[K"


@dataclass
class Phase:
    """A running phase: what it is doing, and what its line says when it ends (`result`; by default `doing`)."""

    name: str
    doing: str
    result: str = ""


def in_ci(environ: Mapping[str, str]) -> bool:
    """Whether `CI` says this runs in a CI build (`true`, `1`, ...; not unset, empty, `false`, `0` or `no`)."""
    return environ.get("CI", "").strip().lower() not in ("", "false", "0", "no")


class Progress:
    """Writes each phase's line to `stream` (standard output), or nothing when not `enabled`."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool = True,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._enabled = enabled
        self._live = enabled and self._stream.isatty() and not in_ci(os.environ if environ is None else environ)
        self._clock = clock

    @classmethod
    def for_app(cls) -> Progress:
        """The app's progress: shown when the synth driver runs it, silent otherwise."""
        return cls(enabled=bool(os.environ.get(ENVIRONMENT)))

    @contextmanager
    def phase(self, name: str, doing: str) -> Iterator[Phase]:
        """Time the block as phase `name`; its line says `failed` if the block raises."""
        phase = Phase(name, doing)
        started = self._clock()
        if self._live:
            self._write(f"[{name} ...] {doing}")
        try:
            yield phase
        except BaseException:
            phase.result = "failed"
            raise
        finally:
            if self._enabled:
                line = f"[{name} {self._clock() - started:.1f} s] {phase.result or doing}"
                self._write(f"\r{line}{_CLEAR_TO_END_OF_LINE}\n" if self._live else f"{line}\n")

    def finished(self, name: str, seconds: float, result: str) -> None:
        """The line of a phase timed elsewhere (a validation plugin, within the synth), written once it is over."""
        if self._enabled:
            self._write(f"[{name} {seconds:.1f} s] {result}\n")

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()
