"""`make synth`'s driver run on a configuration exactly as a user runs it, and a rewritten copy of the shipped file.

The driver runs in a subprocess with no AWS account, credentials or network: no `~/.aws`, and a
network namespace without interfaces where the machine allows one (as CI does).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from config import PROJECT_ROOT, aws_facts

# One other region per partition, where the usual database and cache classes are offered.
_OTHER_REGIONS = {"aws": ("us-east-2", "us-east-1"), "aws-us-gov": ("us-gov-east-1", "us-gov-west-1")}


def rewritten(document: dict[str, Any]) -> dict[str, Any]:
    """The shipped document with everything a team is told to edit changed, and nothing else.

    Other accounts, one other region for the pipeline and every environment, its zones, other
    e-mails, repository and branch, larger storage and one more task: the committed compliance
    baseline must not notice (an added environment it would, by design; the fixture app covers
    extra environments and waves).
    """
    doc = copy.deepcopy(document)
    pipeline = doc["pipeline"]
    region = next(r for r in _OTHER_REGIONS[aws_facts.partition_of(pipeline["region"])] if r != pipeline["region"])
    zones = aws_facts.availability_zones()[region]
    accounts = (f"{n:012d}" for n in range(555500000001, 555500001000))
    pipeline.update(account=next(accounts), region=region, repository="rewritten-org/monitoring")
    pipeline.update(branch="release/rewritten", approval_emails=["approvers@rewritten.example"])
    pipeline["connection_arn"] = re.sub(
        r"^arn:([^:]+):([^:]+):[^:]+:\d{12}:", rf"arn:\1:\2:{region}:{pipeline['account']}:", pipeline["connection_arn"]
    )
    for name, env in doc["environments"].items():
        count = max(2, min(len(env["availability_zones"]), len(zones)))
        env.update(account=next(accounts), region=region, availability_zones=list(zones[-count:]))
        env["alarm_emails"] = [f"{name}-oncall@rewritten.example"]
        env["database"]["allocated_storage_gib"] += 10
        env["service"]["desired_count"] += 1
    return doc


def synth_command(config: Path, outdir: Path, *extra: str) -> list[str]:
    """The driver on `config`, writing to `outdir`; inside a network namespace without network where allowed."""
    command = [sys.executable, str(PROJECT_ROOT / "scripts" / "synth.py"), "--config", str(config)]
    command += ["--output", str(outdir), *extra]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True, check=False).returncode == 0:
        command = [unshare, "--net", *command]
    return command


def hermetic_env(home: Path) -> dict[str, str]:
    """No AWS configuration (`home` is empty), no instance metadata, the venv's Python and Node.js."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
