"""What jsii must find in the environment when it starts, for every entry point that runs the CDK.

`app.py` (whether `make synth`, the CDK CLI or CodeBuild runs it), the test session
(`tests/conftest.py`), the synth driver and the benchmark's child processes take it from here,
so a deprecated CDK API fails the synth everywhere, not only under `make`. Set it before the
first `import aws_cdk`: jsii reads it once, when that import starts the runtime.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

JSII_SETTINGS = {
    # A deprecated CDK API fails the synth, rather than printing a warning nobody reads.
    "JSII_DEPRECATED": "fail",
    # The venv's Node.js is pinned by this project; jsii's "untested version" notice is noise on every run.
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
}


def jsii_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (this process's environment by default) with jsii's settings, and this venv's Node.js first on PATH.

    jsii runs on the Node.js installed into the venv from PyPI, never on whatever node the machine has.
    """
    env = dict(os.environ if base is None else base)
    env.update(JSII_SETTINGS)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
