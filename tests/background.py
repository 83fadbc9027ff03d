"""Work the suite runs outside its own process: started before the first test, awaited by the last ones.

A synth of the shipped configuration in a subprocess, or cfn-lint over an assembly, takes tens of
seconds of CPU and nothing of the test process but a pipe. Started early (conftest.py starts every
fixture of `BACKGROUND` that the selected tests use before the first test, and runs the tests that
await one last), it runs on the second core while the tests run on the first.

A lane runs its commands one after another. Memory decides the lanes: the test process holds the
fixture app (about 1.3 GiB with jsii's Node.js), a synth in a subprocess takes about as much again,
and cfn-lint about 150 MiB. One lane of synths and one of lints keep the suite under 3 GiB.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scripts.processes import output_of

# A command still running after this long has hung (a synth with its lint takes a minute or two).
TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Finished:
    """A command that ran to its end: its exit status, and stdout and stderr together."""

    returncode: int
    output: str


class Lane:
    """Commands run one at a time, in the order given, while the tests go on."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def run(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        after: Future[Finished] | None = None,
    ) -> Future[Finished]:
        """Queue `command`, to start once `after` (work in another lane it reads) has finished, however it ended."""
        return self._executor.submit(self._run, list(command), cwd, None if env is None else dict(env), after)

    def _run(
        self, command: list[str], cwd: Path, env: dict[str, str] | None, after: Future[Finished] | None
    ) -> Finished:
        if after is not None:
            after.result()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the session ended before {command[0]} started")
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            self._running.add(process)
        try:
            output = output_of(process, TIMEOUT_S)
        finally:
            with self._lock:
                self._running.discard(process)
        return Finished(process.returncode, output)

    def close(self) -> None:
        """Drop what has not started and stop what runs: work nobody will await (the session ended early)."""
        with self._lock:
            self._closed = True
            for process in self._running:
                process.kill()
        self._executor.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class Lanes:
    """The session's two lanes."""

    synths: Lane
    lints: Lane

    @classmethod
    def open(cls) -> Lanes:
        return cls(synths=Lane("synths"), lints=Lane("lints"))

    def close(self) -> None:
        self.synths.close()
        self.lints.close()
