"""The benchmark's own arithmetic, its scaled configurations and its memory sampler (no synth)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

from config import AppConfig
from scripts import bench


def _result(name: str, *wall_s: float, peak_mib: float = 100.0) -> bench.CaseResult:
    return bench.CaseResult(name, wall_s=list(wall_s), peak_rss_bytes=[int(peak_mib * bench.MIB)] * len(wall_s))


def _by_name(goals: list[bench.Target]) -> dict[str, bench.Target]:
    return {goal.name: goal for goal in goals}


# --- statistics ---------------------------------------------------------------------------------


def test_spread_is_median_min_max() -> None:
    assert bench.spread([3.0, 1.0, 2.0]) == bench.Spread(median=2.0, minimum=1.0, maximum=3.0)
    assert bench.spread([4.0, 1.0, 2.0, 3.0]).median == 2.5
    assert bench.spread([5.0]) == bench.Spread(5.0, 5.0, 5.0)


def test_spread_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        bench.spread([])


def test_a_failed_case_has_no_figures() -> None:
    failed = bench.CaseResult("full", wall_s=[10.0], peak_rss_bytes=[bench.GIB], error="exit status 1")
    assert not failed.ok
    assert failed.wall is None
    assert failed.peak_rss is None


def test_peak_rss_is_the_worst_run() -> None:
    result = bench.CaseResult("full", wall_s=[1.0, 1.0, 1.0], peak_rss_bytes=[3, 9, 5])
    assert result.peak_rss == 9


def test_ratio_needs_both_figures_and_a_positive_base() -> None:
    assert bench.ratio(6.0, 2.0) == 3.0
    assert bench.ratio(None, 2.0) is None
    assert bench.ratio(6.0, None) is None
    assert bench.ratio(6.0, 0.0) is None


# --- targets ------------------------------------------------------------------------------------


def test_targets_from_medians_and_peak() -> None:
    results = {
        "floor": _result("floor", 2.0, 1.0, 3.0),  # median 2
        "full": _result("full", 6.0, 5.0, 9.0),  # median 6: exactly 3 floors
        "stages-3": _result("stages-3", 6.0),
        "stages-12": _result("stages-12", 15.0, peak_mib=1600.0),  # 1 s per extra stage: 0.5 floor
        "tests": _result("tests", 18.5),  # just over 3 full synths
    }
    goals = _by_name(bench.targets(results))
    assert goals["full / floor"].value == pytest.approx(3.0)
    assert goals["full / floor"].status == "PASS"  # the limit itself passes
    assert goals["extra stage / floor"].value == pytest.approx(0.5)
    assert goals["extra stage / floor"].status == "PASS"
    assert goals["peak RSS at 12 stages"].value == pytest.approx(1600 / 1024)
    assert goals["peak RSS at 12 stages"].status == "MISS"
    assert goals["tests / full"].value == pytest.approx(18.5 / 6)
    assert goals["tests / full"].status == "MISS"


def test_targets_without_their_cases_are_not_applicable() -> None:
    results = {
        "floor": _result("floor", 2.0),
        "full": bench.CaseResult("full", error="exit status 1"),
        "stages-12": _result("stages-12", 20.0, peak_mib=900.0),
    }
    goals = _by_name(bench.targets(results))
    assert goals["full / floor"].status == "n/a"
    assert goals["extra stage / floor"].status == "n/a"  # stages-3 was not run
    assert goals["tests / full"].status == "n/a"
    assert goals["peak RSS at 12 stages"].status == "PASS"


def test_target_status() -> None:
    assert bench.Target("t", "t", 0.9, 1.0, "x").status == "PASS"
    assert bench.Target("t", "t", 1.1, 1.0, "x").status == "MISS"
    assert bench.Target("t", "t", None, 1.0, "x").status == "n/a"


def test_render_and_json_show_every_case_and_target() -> None:
    results = {"floor": _result("floor", 2.0), "full": bench.CaseResult("full", error="exit status 1\nboom")}
    goals = bench.targets(results)
    table = bench.render(results, goals)
    assert "FAILED" in table
    assert "n/a" in table
    data = bench.to_json(results, goals, runs=1, test_runs=1)
    assert data["cases"]["floor"]["ratio_to_floor"] == 1.0
    assert data["cases"]["full"]["ok"] is False
    assert [t["status"] for t in data["targets"]] == ["n/a"] * 4


def test_cases_option_keeps_table_order_and_rejects_unknown_names() -> None:
    assert bench._parse_cases("stages-12,floor") == ["floor", "stages-12"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown case"):
        bench._parse_cases("floor,nope")


# --- configurations with more stages ------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 6, 12])
def test_scaled_config_has_unique_valid_stages(fixture_config: AppConfig, count: int) -> None:
    config = bench.scaled_config(fixture_config, count)
    names = [env.name for env in config.environments]
    stage_ids = [env.stage_id for env in config.environments]
    assert len(names) == count
    originals = [env.name for env in fixture_config.environments]
    assert names[: min(count, len(originals))] == originals[:count]
    assert len(set(names)) == count
    assert len(set(stage_ids)) == count
    # Validated by the model, not only built by hand.
    assert AppConfig.model_validate(config.model_dump(mode="json")) == config


def test_scaled_copies_keep_their_template_settings(fixture_config: AppConfig) -> None:
    originals = fixture_config.environments
    config = bench.scaled_config(fixture_config, 3 * len(originals))
    copies = config.environments[len(originals) : 2 * len(originals)]
    assert [env.name for env in copies] == [f"{env.name}2" for env in originals]
    for original, copy in zip(originals, copies, strict=True):
        assert copy.model_copy(update={"name": original.name}) == original
    assert bench.scaled_config(fixture_config, len(originals)) == fixture_config


# --- the memory sampler -------------------------------------------------------------------------


def test_tree_rss_sums_descendants_only() -> None:
    table = {1: (0, 10), 2: (1, 20), 3: (2, 30), 4: (0, 1000)}
    assert bench.tree_rss(1, table) == 60
    assert bench.tree_rss(2, table) == 50
    assert bench.tree_rss(99, table) == 0


def test_measure_sees_a_subprocess_peak() -> None:
    script = "x = bytearray(50_000_000); import time; time.sleep(0.3)"
    run = bench.measure([sys.executable, "-c", script], env=os.environ, cwd=Path.cwd())
    assert run.returncode == 0
    assert run.peak_rss_bytes > 40 * bench.MIB
    assert run.wall_s >= 0.3


def test_measure_counts_grandchildren() -> None:
    # The allocation happens two levels down, as jsii's Node.js process sits under Python.
    inner = "x = bytearray(50_000_000); import time; time.sleep(0.2)"
    outer = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {inner!r}], check=True)"
    run = bench.measure([sys.executable, "-c", outer], env=os.environ, cwd=Path.cwd())
    assert run.returncode == 0
    assert run.peak_rss_bytes > 40 * bench.MIB


def test_measure_reports_a_failure_and_its_output() -> None:
    run = bench.measure(
        [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], env=os.environ, cwd=Path.cwd()
    )
    assert run.returncode == 3
    assert "boom" in run.output
