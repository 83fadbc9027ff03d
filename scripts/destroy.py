"""`make destroy ENV=<name>`: delete the stacks of one environment that does not keep its data.

CDK Pipelines never deletes a stage it no longer deploys (aws-cdk#10759), so tearing down Dev is a
person's command, run with credentials for the stage account. This one refuses what must not be
removed by a command:

- an environment with `protect_data` (or `approval`, which requires it): its data outlives its
  stacks on purpose and is removed by hand, deliberately (docs/operations.md, "Tearing down a stage");
- its Baseline stack (the account's trail, recorder, hub or detector) unless asked for with
  `--with-baseline`, and then only when no other environment of the configuration is in its account.

The stacks go through the pinned CDK CLI (`cdk destroy`, which deletes them in dependency order);
what a stage without `protect_data` keeps afterwards is its retained backup vault, which empties
itself within its plan's retention (docs/operations.md). `--dry-run` prints the command instead.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import AppConfig, ConfigError, EnvironmentConfig, load_config  # noqa: E402
from config.jsii_environment import jsii_environment  # noqa: E402

# A stage's stacks without its Baseline (stages/monitoring_stage.py); `cdk destroy` orders them.
WORKLOAD_STACKS = ("Observability", "Service", "Data", "Network", "Keys")


class RefusedError(Exception):
    """An environment this command will not tear down, with the reason in one line."""


def environment(config: AppConfig, name: str, source: str) -> EnvironmentConfig:
    """The environment called `name`, or RefusedError naming the closest names."""
    names = [env.name for env in config.environments]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (it has {', '.join(names)})"
        raise RefusedError(f"{source} has no environment {name!r}{hint}")
    return next(env for env in config.environments if env.name == name)


def stacks_to_destroy(config: AppConfig, name: str, *, with_baseline: bool, source: str) -> list[str]:
    """The construct paths of the stacks `cdk destroy` deletes for `name`, or RefusedError saying why not."""
    env = environment(config, name, source)
    if env.protect_data or env.approval:
        raise RefusedError(
            f"{name} keeps its data (protect_data: true, approval: {str(env.approval).lower()}): a protected stage "
            "is torn down by hand, deliberately (docs/operations.md, 'Tearing down a stage')"
        )
    paths = [f"Pipeline/{env.stage_id}/{stack}" for stack in WORKLOAD_STACKS]
    if with_baseline:
        if not env.account_baseline.services:
            raise RefusedError(f"{name} has no Baseline stack (account_baseline deploys nothing there)")
        sharing = [other.name for other in config.environments if other.account == env.account and other is not env]
        if sharing:
            raise RefusedError(
                f"{name}'s Baseline stack serves its account {env.account}, which {', '.join(sharing)} also use: "
                "leave it, or remove those environments first"
            )
        paths.append(f"Pipeline/{env.stage_id}/Baseline")
    return paths


def command(config_path: str, paths: list[str]) -> list[str]:
    """The pinned CDK CLI's `destroy` of `paths`, on the same configuration."""
    cdk = shutil.which("cdk") or str(ROOT / "node_modules" / ".bin" / "cdk")
    return [cdk, "-c", f"config={config_path}", "destroy", "--force", *paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "environments.yaml"))
    parser.add_argument("--env", required=True, help="the environment's name, as in the configuration")
    parser.add_argument("--with-baseline", action="store_true", help="also delete its Baseline stack")
    parser.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        paths = stacks_to_destroy(config, args.env, with_baseline=args.with_baseline, source=args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except RefusedError as refused:
        print(f"destroy: {refused}", file=sys.stderr)
        return 2
    run = command(args.config, paths)
    if args.dry_run:
        print(" ".join(run))
        return 0
    return subprocess.run(run, cwd=ROOT, env=jsii_environment(), check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
