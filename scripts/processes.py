"""Waiting for a child process whose output is piped: shared by the benchmark and the test suite's lanes."""

from __future__ import annotations

import subprocess


def output_of(process: subprocess.Popen[str], timeout_s: float) -> str:
    """Everything `process` wrote to its pipe, once it has ended; killed, and the output says so, after `timeout_s`.

    communicate() drains the pipe while waiting: a chatty child cannot block on a full pipe.
    """
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        output += f"\n(killed after {timeout_s:.0f} s)"
    return output
