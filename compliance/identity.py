"""Which run a report describes: the commit, the configuration, where it deploys, the tools, the time; and what
approves its deviations.

A report an auditor signs must say what it is evidence of. The commit comes from git
on a developer's machine and from CodeBuild's resolved source version in the
pipeline, whose source artifact has no `.git`. The approval record is the compliance
baseline's own commit and the code owners CODEOWNERS names for it. Standard library only.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.model import UNCOMMITTED, Approval, InformationType, Person, RunIdentity, SystemDescription

if TYPE_CHECKING:  # the section's values are read, not its validators: this module stays standard library only
    from config.schema import SystemConfig

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
    system: SystemDescription | None = None,
    now: datetime | None = None,
) -> RunIdentity:
    """The identity of this synth; `pipeline` and `stages` map to (account, region); `system` is what the
    configuration says of the system."""
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
        system=system,
    )


def system_description(system: SystemConfig) -> SystemDescription:
    """What the configuration's `system` section says, as the reports and the system security plan use it."""
    people = (
        Person(role, person.name, person.email)
        for role, person in (
            ("system-owner", system.system_owner),
            ("authorizing-official", system.authorizing_official),
            ("information-system-security-officer", system.isso),
        )
        if person is not None
    )
    leveraged = system.aws_authorization
    return SystemDescription(
        name=system.name,
        short_name=system.short_name,
        fedramp_id=system.fedramp_id or "",
        description=system.description or "",
        status=system.status,
        information_types=tuple(
            InformationType(t.title, t.description, t.nist_800_60_id, t.confidentiality, t.integrity, t.availability)
            for t in system.information_types
        ),
        people=tuple(people),
        aws_package_id=leveraged.package_id if leveraged else "",
        aws_date_authorized=leveraged.date_authorized if leveraged else "",
    )


# Where GitHub looks for CODEOWNERS, in its order (GitLab and Bitbucket read the same places).
CODEOWNERS_FILES = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


def code_owners(project: Path, path: str) -> tuple[str, ...]:
    """The owners CODEOWNERS gives `path` (relative to `project`): the last pattern that matches wins, as on GitHub."""
    for name in CODEOWNERS_FILES:
        file = project / name
        if file.is_file():
            owners: tuple[str, ...] = ()
            for line in file.read_text(encoding="utf-8").splitlines():
                fields = line.split("#", 1)[0].split()
                if fields and _owns(fields[0], path):
                    owners = tuple(fields[1:])
            return owners
    return ()


def _owns(pattern: str, path: str) -> bool:
    """Whether a CODEOWNERS pattern matches `path`, as gitignore reads it: a leading or inner "/" anchors it to the
    root, a trailing "/" makes it a directory, "*" stays within a name, and a directory owns everything under it."""
    directory = pattern.endswith("/")
    core = pattern.strip("/").split("/")
    parts = path.split("/")
    anchored = pattern.startswith("/") or len(core) > 1
    for start in range(1 if anchored else len(parts)):
        rest = parts[start:]
        if len(rest) < len(core) or not all(fnmatch.fnmatchcase(p, c) for p, c in zip(rest, core, strict=False)):
            continue
        if len(rest) > len(core) or not directory:
            return True
    return False


def baseline_approval(project: Path, baseline: Path, *, shown_as: str) -> Approval:
    """The approval record of a run: the baseline's last commit, when and by whom, and its code owners.

    In the pipeline (`CODEBUILD_RESOLVED_SOURCE_VERSION`, no `.git`) the record is the baseline as of the
    revision the pipeline built, which reached the branch only through its protection.
    """
    try:
        relative = str(baseline.resolve().relative_to(project.resolve()))
    except ValueError:
        return Approval(shown_as, "", "", "", (), "unknown: the baseline is outside the project")
    reviewers = code_owners(project, relative)
    resolved = os.environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION", "").strip()
    if resolved:
        return Approval(shown_as, resolved, "", "", reviewers, "the source revision CODEBUILD_RESOLVED_SOURCE_VERSION")
    try:
        log = _git(project, "log", "-1", "--format=%H%x1f%cI%x1f%an", "--", relative)
        changed = _git(project, "status", "--porcelain", "--", relative)
    except (OSError, subprocess.SubprocessError):
        return Approval(shown_as, "", "", "", reviewers, "unknown: no git checkout")
    commit, committed, author = [*log.split("\x1f"), "", "", ""][:3]
    source = "git, with uncommitted changes to the baseline" if changed or not commit else "git"
    return Approval(shown_as, commit, committed, author, reviewers, source)


def _git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()
