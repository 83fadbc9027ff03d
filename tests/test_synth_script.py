"""`make synth`'s summary: its Result line agrees with the exit status, and it says why cfn-lint did not run."""

from __future__ import annotations

from pathlib import Path

from scripts.synth import main, summary


def test_the_result_line_counts_preflight_assembly_findings(assembly_dir: Path) -> None:
    # The assembly rules (the asset buildspecs) fail the script; the Result line must not say PASS.
    clean = summary(assembly_dir, lint_passed=True).splitlines()[-1]
    assert clean.startswith("Result: PASS (")
    failed = summary(assembly_dir, lint_passed=True, assembly_problems=2).splitlines()[-1]
    assert failed.startswith("Result: FAIL (")
    assert failed.endswith(", 2 Preflight assembly finding(s))")


def test_the_summary_says_why_cfn_lint_did_not_run(assembly_dir: Path) -> None:
    assert "cfn-lint: not run (the gate failed)" in summary(assembly_dir, lint_state="not run (the gate failed)")
    assert "cfn-lint: not run (--no-lint)" in summary(assembly_dir, lint_state="not run (--no-lint)")
    assert "cfn-lint: not run (synth failed)" in summary(assembly_dir)


def test_a_folder_that_is_not_an_assembly_is_never_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    assert main(["--output", str(folder)]) == 2
    assert (folder / "notes.txt").read_text() == "keep me"
