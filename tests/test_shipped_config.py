"""The committed configuration is deployable whatever it names, and so is a rewritten copy of it.

`config/environments.yaml` is the user's file and what the pipeline deploys: no test asserts its
values. Instead `make synth`'s own driver runs on it, and on a copy rewritten with other accounts,
one other region for everything, other zones, e-mails, branch and an extra environment, exactly
as a user runs it: no AWS account, credentials or network (a network namespace without
interfaces where the machine allows one). Both must synthesize, pass the compliance gate and
cfn-lint. The two runs go in parallel, one per core.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance.assembly import CloudAssembly
from config import DEFAULT_CONFIG_PATH, PROJECT_ROOT, aws_facts, load_config
from config.schema import stage_id_of

# One other region per partition, where the usual database and cache classes are offered.
_OTHER_REGIONS = {"aws": ("us-east-2", "us-east-1"), "aws-us-gov": ("us-gov-east-1", "us-gov-west-1")}
EXTRA = "extra"


def rewritten(document: dict[str, Any]) -> dict[str, Any]:
    """The shipped document with other accounts, one other region, zones, e-mails, branch, and one more environment."""
    doc = copy.deepcopy(document)
    pipeline = doc["pipeline"]
    region = next(r for r in _OTHER_REGIONS[aws_facts.partition_of(pipeline["region"])] if r != pipeline["region"])
    zones = aws_facts.availability_zones()[region]
    accounts = (f"{n:012d}" for n in range(555500000001, 555500001000))
    pipeline.update(account=next(accounts), region=region, branch="release/rewritten")
    pipeline["approval_emails"] = ["approvers@rewritten.example"]
    pipeline["connection_arn"] = re.sub(
        r"^arn:([^:]+):([^:]+):[^:]+:\d{12}:", rf"arn:\1:\2:{region}:{pipeline['account']}:", pipeline["connection_arn"]
    )
    environments = doc["environments"]
    for name, env in environments.items():
        count = max(2, min(len(env["availability_zones"]), len(zones)))
        env.update(account=next(accounts), region=region, availability_zones=list(zones[-count:]))
        env["alarm_emails"] = [f"{name}-oncall@rewritten.example"]
    names = list(environments)
    last = environments[names[-1]]
    extra = copy.deepcopy(last)
    extra.update(account=next(accounts), approval=last.get("approval", len(names) > 1), wave="rewritten")
    last["wave"] = "rewritten"
    environments[EXTRA] = extra
    return doc


def _synth(config: Path, outdir: Path, home: Path, *extra: str) -> subprocess.Popen[str]:
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),  # no ~/.aws
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    command = [sys.executable, str(PROJECT_ROOT / "scripts" / "synth.py"), "--config", str(config)]
    command += ["--output", str(outdir), *extra]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True, check=False).returncode == 0:
        command = [unshare, "--net", *command]
    return subprocess.Popen(
        command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int, str, Path]]:
    """name -> (configuration, exit code, output, assembly) for the shipped file and its rewritten copy."""
    root = tmp_path_factory.mktemp("shipped")
    (root / "home").mkdir()
    copy_path = root / "rewritten.yaml"
    copy_path.write_text(yaml.safe_dump(rewritten(yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())), sort_keys=False))
    configs = {"shipped": DEFAULT_CONFIG_PATH, "rewritten": copy_path}
    # An added environment is a change to the committed compliance baseline, for review: the copy records its own.
    extra = {"rewritten": ("--baseline", str(root / "rewritten-baseline.json"), "--write-baseline")}
    started = {
        name: _synth(path, root / f"{name}.out", root / "home", *extra.get(name, ())) for name, path in configs.items()
    }
    results = {}
    for name, process in started.items():
        output, _ = process.communicate(timeout=600)
        results[name] = (configs[name], process.returncode, output, root / f"{name}.out")
    return results


@pytest.mark.parametrize("name", ["shipped", "rewritten"])
def test_configuration_synthesizes_and_passes_the_gate_and_cfn_lint(
    runs: dict[str, tuple[Path, int, str, Path]], name: str
) -> None:
    config, status, output, assembly = runs[name]
    assert status == 0, output[-4000:]
    assert "cfn-lint: pass" in output
    assert "Result: PASS (0 open findings)" in output
    manifest = CloudAssembly(assembly).manifest
    stages = {f"assembly-Pipeline-{env.stage_id}" for env in load_config(config).environments}
    assert stages <= set(manifest["artifacts"])
    # No context lookup was needed: the CLI would otherwise have to call AWS to fill it in.
    assert "missing" not in json.dumps(manifest)
    assert not (PROJECT_ROOT / "cdk.context.json").exists()


def test_the_rewritten_copy_differs_where_a_user_edits(runs: dict[str, tuple[Path, int, str, Path]]) -> None:
    shipped, copy_ = (load_config(runs[name][0]) for name in ("shipped", "rewritten"))
    assert {e.account for e in shipped.environments}.isdisjoint({e.account for e in copy_.environments})
    assert len({e.region for e in copy_.environments}) == 1
    assert copy_.pipeline.branch != shipped.pipeline.branch
    assert [e.name for e in copy_.environments] == [*(e.name for e in shipped.environments), EXTRA]
    assert copy_.waves[-1] == copy_.environments[-2:]
    assert stage_id_of(EXTRA) in runs["rewritten"][2]
