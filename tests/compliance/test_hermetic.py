"""Synth needs no AWS account, credentials or network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from config import PROJECT_ROOT


def test_app_synthesizes_without_credentials_or_network(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    outdir = tmp_path / "cdk.out"
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),  # no ~/.aws
        "CDK_OUTDIR": str(outdir),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    command = [sys.executable, str(PROJECT_ROOT / "app.py")]
    # Where the machine allows it, run in a network namespace with no interfaces at all.
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True, check=False).returncode == 0:
        command = [unshare, "--net", *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert {"assembly-Pipeline-Dev", "assembly-Pipeline-Staging", "assembly-Pipeline-Prod", "Pipeline"} <= set(
        manifest["artifacts"]
    )
    # No context lookup was needed: the CLI would otherwise have to call AWS to fill it in.
    assert "missing" not in json.dumps(manifest)
    assert not (PROJECT_ROOT / "cdk.context.json").exists()
