"""Which run a report describes: the commit, the configuration, where it deploys, the tools, the time.

A report an auditor signs must say what it is evidence of. The commit comes from git
on a developer's machine and from CodeBuild's resolved source version in the
pipeline, whose source artifact has no `.git`. Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from compliance.model import UNCOMMITTED, RunIdentity

# The distributions whose versions decide what the gate checks, as the report names them.
TOOLS = {
    "aws-cdk-lib": "aws-cdk-lib",
    "cdk-nag": "cdk-nag",
    "Control Tower rules": "cdklabs.cdk-validator-cfnguard",
    "cfn-lint": "cfn-lint",
}
NOT_INSTALLED = "not installed"


def tool_versions() -> dict[str, str]:
    """Installed version of each tool in `TOOLS`, or "not installed"."""
    versions: dict[str, str] = {}
    for label, distribution in TOOLS.items():
        try:
            versions[label] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[label] = NOT_INSTALLED
    return versions


def commit_of(directory: Path) -> tuple[str, str]:
    """(commit, where it came from). CodeBuild's resolved source version wins: it names what the pipeline built."""
    resolved = os.environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION", "").strip()
    if resolved:
        return resolved, "CODEBUILD_RESOLVED_SOURCE_VERSION"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown", "no git checkout and no CODEBUILD_RESOLVED_SOURCE_VERSION"
    return head, UNCOMMITTED if status else "git"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_identity(
    *,
    project: Path,
    config_file: Path,
    pipeline: tuple[str, str],
    stages: dict[str, tuple[str, str]],
    now: datetime | None = None,
) -> RunIdentity:
    """The identity of this synth; `pipeline` and `stages` map to (account, region)."""
    commit, source = commit_of(project)
    try:
        shown = str(config_file.resolve().relative_to(project.resolve()))
    except ValueError:
        shown = str(config_file)
    return RunIdentity(
        commit=commit,
        commit_source=source,
        config_file=shown,
        config_sha256=sha256_of(config_file),
        pipeline_account=pipeline[0],
        pipeline_region=pipeline[1],
        stages={name: f"{account} {region}" for name, (account, region) in stages.items()},
        tools=tool_versions(),
        time=(now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
