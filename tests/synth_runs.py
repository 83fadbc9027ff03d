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
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from config import PROJECT_ROOT, aws_facts
from config.schema import DatabaseConfig, EcrImage, ServiceConfig

# The date the tests' synths judge acknowledgments' review dates on (`app.run_date`), so no test depends on today:
# one the shipped acknowledgments' review dates are within a year of.
RUN_DATE = date(2026, 12, 7)

# One region per partition that a rewrite tries first (large regions that offer the usual database and cache
# classes); every other region of the partition follows, so any layout finds somewhere to move.
_PREFERRED_REGIONS = (
    "us-east-2",
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "us-gov-east-1",
    "us-gov-west-1",
)


def rewritten(document: dict[str, Any]) -> dict[str, Any]:
    """The document with everything a team is told to edit changed, and its layout kept.

    Other accounts, other regions, their zones, other e-mails, repository and branch, certificates (each of its
    environment's new account and region) and the names they cover, other storage
    and task counts (within their bounds). What the committed compliance baseline records is kept:
    every region moves to another region of the same partition and every account to another account,
    one for one (the build image and the package mirror's owner with them), so environments that
    shared a region or an account with each other or with the pipeline still do, and a stage outside
    the pipeline's region stays outside it (an added environment or region is a change the baseline
    notices, by design).
    """
    doc = copy.deepcopy(document)
    pipeline, environments = doc["pipeline"], doc["environments"]
    regions = region_map(pipeline["region"], environments, needs_codeartifact="package_mirror" in pipeline)
    accounts = _account_map([pipeline["account"], *(env["account"] for env in environments.values())])
    _rewrite_pipeline(pipeline, regions, accounts)
    for name, env in environments.items():
        zones = aws_facts.availability_zones()[regions[env["region"]]]
        count = max(2, min(len(env["availability_zones"]), len(zones)))
        env.update(
            account=accounts[env["account"]], region=regions[env["region"]], availability_zones=list(zones[-count:])
        )
        env["database"]["instance_type"], env["cache"]["node_type"] = _classes(env["region"], env)
        env["alarm_emails"] = [f"{name}-oncall@rewritten.example"]
        tls = env["load_balancer_tls"]
        tls["certificate_arn"] = re.sub(
            r"^arn:([^:]+):acm:[^:]+:\d{12}:", rf"arn:\1:acm:{env['region']}:{env['account']}:", tls["certificate_arn"]
        )
        tls["domain_name"] = f"backend.{name}.rewritten.example"
        database = env["database"]
        ceiling = database.get("max_allocated_storage_gib")
        database["allocated_storage_gib"] = _nudged(
            database["allocated_storage_gib"], DatabaseConfig, "allocated_storage_gib", below=ceiling
        )
        env["service"]["desired_count"] = _nudged(env["service"]["desired_count"], ServiceConfig, "desired_count")
    return doc


def _rewrite_pipeline(pipeline: dict[str, Any], regions: dict[str, str], accounts: dict[str, str]) -> None:
    region, account = regions[pipeline["region"]], accounts[pipeline["account"]]
    pipeline.update(account=account, region=region, repository="rewritten-org/monitoring")
    pipeline.update(branch="release/rewritten", approval_emails=["approvers@rewritten.example"])
    pipeline["connection_arn"] = re.sub(
        r"^arn:([^:]+):([^:]+):[^:]+:\d{12}:", rf"arn:\1:\2:{region}:{account}:", pipeline["connection_arn"]
    )
    if pipeline.get("build_image"):
        image = EcrImage.parse(pipeline["build_image"])
        owner = accounts.setdefault(image.account, _fresh_account(accounts))
        pipeline["build_image"] = image._replace(account=owner, region=region).uri
    mirror = pipeline.get("package_mirror")
    if mirror and mirror.get("domain_owner"):
        mirror["domain_owner"] = accounts.setdefault(mirror["domain_owner"], _fresh_account(accounts))


def _nudged(value: int, model: type[BaseModel], field: str, *, below: int | None = None) -> int:
    """`value` moved by a step that keeps it within the field's bounds (and under `below`), as a resize would."""
    low, high = 0, 2**31
    for bound in model.model_fields[field].metadata:
        low = int(getattr(bound, "ge", low))
        high = int(getattr(bound, "le", high))
    high = min(high, below - 1) if below is not None else high
    return next((value + step for step in (10, 1, -1, -10) if low <= value + step <= high), value)


def region_map(
    pipeline_region: str, environments: dict[str, dict[str, Any]], *, needs_codeartifact: bool = False
) -> dict[str, str]:
    """Each region of the layout -> another region of its partition offering what its environments use.

    The pipeline's region stands in for one that offers CodeArtifact where the layout has a package mirror.

    Regions the layout does not use are taken first; where the partition has no more (GovCloud's two),
    the layout's own regions trade places.
    """
    used = list(dict.fromkeys([pipeline_region, *(env["region"] for env in environments.values())]))
    partition = aws_facts.partition_of(pipeline_region)
    known = aws_facts.availability_zones()
    candidates = [r for r in dict.fromkeys([*_PREFERRED_REGIONS, *sorted(known)]) if r in known]
    candidates = [r for r in candidates if aws_facts.partition_of(r) == partition]
    mapping: dict[str, str] = {}
    for region in used:
        needs = [env for env in environments.values() if env["region"] == region]
        free = [c for c in candidates if c != region and c not in mapping.values() and len(known[c]) >= 2]
        if region == pipeline_region and needs_codeartifact:
            free = [c for c in free if aws_facts.resource_type_offered(c, "AWS::CodeArtifact::Domain")]
        # Best a region the layout does not use that offers its classes; then any that offers them; then
        # any, with classes it offers instead (a team's resize, which the baseline does not record).
        ranked = sorted(free, key=lambda c: (not _offers(c, needs), c in used))
        if not ranked:
            raise ValueError(f"no other region of {partition} can stand in for {region}")
        mapping[region] = ranked[0]
    return mapping


def _offers(region: str, environments: list[dict[str, Any]]) -> bool:
    """Whether `region` offers the database and cache classes of `environments`."""
    return all(
        _classes(region, env) == (env["database"]["instance_type"], env["cache"]["node_type"]) for env in environments
    )


def _classes(region: str, env: dict[str, Any]) -> tuple[str, str]:
    """The environment's database and cache classes, each replaced by one of the same size where `region` lacks it."""
    databases = aws_facts.rds_instance_classes_in_region("postgres", region)
    caches = aws_facts.elasticache_node_types(region)
    return (_same_size(env["database"]["instance_type"], databases), _same_size(env["cache"]["node_type"], caches))


def _same_size(wanted: str, offered: frozenset[str] | None) -> str:
    """`wanted` if offered (or nothing is known), else an offered class of its family letter and size."""
    if offered is None or wanted in offered:
        return wanted
    prefix, family, size = wanted.split(".")[0], wanted.split(".")[1][:1], wanted.rsplit(".", 1)[-1]
    alike = sorted(c for c in offered if c.startswith(f"{prefix}.{family}") and c.endswith(f".{size}"))
    return (alike or sorted(c for c in offered if c.endswith(f".{size}")) or sorted(offered))[-1]


def _account_map(accounts: list[str]) -> dict[str, str]:
    """Each account -> a new one, one for one (shared accounts stay shared)."""
    mapping: dict[str, str] = {}
    for account in dict.fromkeys(accounts):
        mapping[account] = _fresh_account(mapping)
    return mapping


def _fresh_account(mapping: dict[str, str]) -> str:
    """An account id no account of `mapping` maps to yet."""
    return f"{555500000001 + len(mapping):012d}"


def synth_command(config: Path, outdir: Path, *extra: str) -> list[str]:
    """The driver on `config`, writing to `outdir`; inside a network namespace without network where allowed."""
    command = [sys.executable, str(PROJECT_ROOT / "scripts" / "synth.py"), "--config", str(config)]
    command += ["--output", str(outdir), *extra]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True, check=False).returncode == 0:
        command = [unshare, "--net", *command]
    return command


def hermetic_env(home: Path) -> dict[str, str]:
    """No AWS configuration (`home` is empty), no instance metadata, the venv's Python and Node.js; `CI` set, as
    the pipeline's Synth step sets it; the gate judges review dates on `RUN_DATE`."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "AWS_EC2_METADATA_DISABLED": "true",
        "CI": "true",
        "MONITORING_TODAY": RUN_DATE.isoformat(),
    }
