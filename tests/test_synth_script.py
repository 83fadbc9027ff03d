"""`make synth`'s summary: its Result line agrees with the exit status, and it says why cfn-lint did not run.

Its progress: a line per phase, in order, nothing rewritten under CI.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance import plugin_time
from scripts.progress import ENVIRONMENT, Progress
from scripts.synth import main, summary
from tests.conftest import ShippedRun


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


# --- progress -----------------------------------------------------------------------------------------------

# The validation plugins run within the synth: their lines follow it, one per kind.
PHASES = ["config", "constructs", "synth", "packs", "Control Tower", "reports", "cfn-lint", "assembly"]
_PHASE_LINE = re.compile(r"^\[([\w -]+?) \d+\.\d s\] \S", flags=re.M)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _clock() -> Iterator[float]:
    yield from (0.0, 1.2, 1.3, 3.5)


def _two_phases(environ: dict[str, str], stream: io.StringIO | None = None) -> str:
    stream = stream if stream is not None else _Terminal()
    ticks = _clock()
    progress = Progress(stream, environ=environ, clock=lambda: next(ticks))
    with progress.phase("synth", "writing the templates") as phase:
        phase.result = "19 templates"
    with progress.phase("cfn-lint", "linting 19 templates"):
        pass
    return stream.getvalue()


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_each_phase_is_one_finished_line_even_on_a_terminal(ci: str) -> None:
    written = _two_phases({"CI": ci})

    assert written == "[synth 1.2 s] 19 templates\n[cfn-lint 2.2 s] linting 19 templates\n"


def test_into_a_file_or_pipe_each_phase_is_one_finished_line() -> None:
    assert _two_phases({}, io.StringIO()) == "[synth 1.2 s] 19 templates\n[cfn-lint 2.2 s] linting 19 templates\n"


def test_on_a_terminal_a_phase_shows_what_it_does_until_its_line_replaces_that() -> None:
    written = _two_phases({"CI": "false"})

    assert written.split("\n") == [
        "[synth ...] writing the templates\r[synth 1.2 s] 19 templates\x1b[K",
        "[cfn-lint ...] linting 19 templates\r[cfn-lint 2.2 s] linting 19 templates\x1b[K",
        "",
    ]


def test_a_phase_that_raises_says_it_failed() -> None:
    stream = io.StringIO()
    ticks = iter((0.0, 0.5))
    progress = Progress(stream, environ={}, clock=lambda: next(ticks))

    with pytest.raises(RuntimeError), progress.phase("synth", "writing the templates"):
        raise RuntimeError("a construct refused its input")

    assert stream.getvalue() == "[synth 0.5 s] failed\n"


def test_a_plugin_timed_within_the_synth_gets_its_own_line_with_its_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    app = type("App", (), {})()  # any object the plugins key their figures by, as they key the CDK app
    ticks = iter((10.0, 10.75, 20.0, 20.5))
    monkeypatch.setattr("compliance.plugin_time.time.monotonic", lambda: next(ticks))
    with plugin_time.timed(app, plugin_time.PACKS):
        pass
    with plugin_time.timed(app, plugin_time.PACKS):  # a second pack of the same kind adds to the first
        pass
    monkeypatch.undo()
    assert plugin_time.spent(app) == {plugin_time.PACKS: 1.25}
    with plugin_time.timed(None, plugin_time.CONTROL_TOWER):  # no app: nothing recorded, nothing raised
        pass
    stream = io.StringIO()
    Progress(stream, environ={"CI": "true"}).finished("packs", 1.25, "within the synth")
    Progress(stream, enabled=False).finished("packs", 1.25, "within the synth")
    assert stream.getvalue() == "[packs 1.2 s] within the synth\n"


def test_the_app_shows_its_phases_only_when_the_driver_runs_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    with Progress.for_app().phase("synth", "writing the templates"):
        pass
    monkeypatch.setenv(ENVIRONMENT, "1")
    with Progress.for_app().phase("reports", "writing the reports"):
        pass

    assert _PHASE_LINE.findall(capsys.readouterr().out) == ["reports"]


@pytest.mark.parametrize(
    ("name", "phases"), [("shipped", PHASES), ("fixture/rewritten", [p for p in PHASES if p != "cfn-lint"])]
)
def test_make_synth_under_ci_prints_one_line_per_phase_in_order_before_the_summary(
    shipped_runs: dict[str, ShippedRun], name: str, phases: list[str]
) -> None:
    # The driver runs with CI=true (tests/synth_runs.py), as the pipeline's Synth step does; the fixture
    # layout's copy runs with --no-lint.
    output = shipped_runs[name].finished.result().output

    assert _PHASE_LINE.findall(output) == phases
    assert output.index("[assembly ") < output.index("Cloud assembly summary")
    assert "\r" not in output
