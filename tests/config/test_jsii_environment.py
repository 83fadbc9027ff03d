"""jsii's settings reach every process that runs the CDK, with or without make."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config import PROJECT_ROOT
from config.jsii_environment import jsii_environment


def test_the_settings_are_added_and_the_venvs_node_comes_first() -> None:
    env = jsii_environment({"PATH": "/usr/bin", "HOME": "/nowhere"})
    assert env["JSII_DEPRECATED"] == "fail"
    assert env["PATH"].split(os.pathsep) == [str(Path(sys.executable).parent), "/usr/bin"]
    assert env["HOME"] == "/nowhere"


def test_the_app_sets_them_before_jsii_starts_when_run_without_make() -> None:
    code = "import os, sys, app; print(os.environ['JSII_DEPRECATED'], 'aws_cdk' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["fail", "False"]


def test_the_test_session_runs_with_them() -> None:
    assert os.environ["JSII_DEPRECATED"] == "fail"
