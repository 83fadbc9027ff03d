"""cfn-lint runs over every template with each stack's region, and fails on errors and warnings."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_rds as rds

from config import PROJECT_ROOT
from scripts.lint_templates import lint, templates_by_region
from tests.background import Finished
from tests.conftest import StackArtifact


def test_the_lint_takes_every_template_in_its_own_region(assembly_dir: Path, stacks: dict[str, StackArtifact]) -> None:
    regions = templates_by_region(assembly_dir)
    assert sum(len(t) for t in regions.values()) == len(stacks)
    assert set(regions) == {s.region for s in stacks.values()}


def test_every_template_of_the_fixture_app_passes_cfn_lint(fixture_lint: Future[Finished]) -> None:
    finished = fixture_lint.result()  # scripts/lint_templates.py over the session's assembly
    assert finished.returncode == 0, finished.output


def test_a_template_cfn_lint_rejects_fails_the_lint(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Broken", env=cdk.Environment(account="123456789012", region="us-west-2"))
    rds.CfnDBInstance(
        stack,
        "Database",
        engine="postgres",
        engine_version="15.4",
        db_instance_class="db.t4g.medium",
        allocated_storage="20",
    )
    app.synth()
    passed, report = lint(tmp_path)
    assert not passed
    assert "15.4" in report


def test_every_ignored_rule_carries_a_reason() -> None:
    lines = (PROJECT_ROOT / ".cfnlintrc.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("- "):
            assert lines[i - 1].strip().startswith("#"), f"{line.strip()} has no reason above it"
