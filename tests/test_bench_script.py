"""The benchmark's own arithmetic, its modes, its scaled configurations and its memory sampler (no synth)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import DEFAULT_CONFIG_PATH, AppConfig, ConfigError, load_config, parse_config
from scripts import bench
from scripts.scaled_config import PRIVATE_RANGES, _Taken, pipeline_ids, scaled_config, scaled_document
from tests.conftest import GOVCLOUD, LAYOUTS


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
        "full": _result("full", 8.0, 4.0, 12.0),  # exactly 4 floors in each round
        "stages-3": _result("stages-3", 6.0),
        "stages-12": _result("stages-12", 15.0, peak_mib=1600.0),  # 1 s per extra stage: 0.5 floor
        "tests": _result("tests", 170.0, 120.0, 140.0, peak_mib=2900.0),  # median 140 s
    }
    goals = _by_name(bench.targets(results))
    assert goals["full / floor"].value == pytest.approx(4.0)
    assert goals["full / floor"].status == "PASS"  # the limit itself passes
    assert goals["extra stage / floor"].value == pytest.approx(0.5)
    assert goals["extra stage / floor"].status == "PASS"
    assert goals["peak RSS at 12 stages"].value == pytest.approx(1600 / 1024)
    assert goals["peak RSS at 12 stages"].status == "MISS"  # memory has no tolerance
    assert goals["make test"].value == pytest.approx(140.0)
    assert goals["make test"].status == "PASS"
    assert goals["peak RSS of tests"].value == pytest.approx(2900 / 1024)
    assert goals["peak RSS of tests"].status == "PASS"


def test_the_targets_are_the_house_budgets() -> None:
    goals = _by_name(bench.targets({}))
    assert {name: (goal.limit, goal.unit) for name, goal in goals.items()} == {
        "full / floor": (4.0, "x"),
        "extra stage / floor": (0.5, "x"),
        "peak RSS at 12 stages": (1.5, "GiB"),
        "make test": (150.0, "s"),
        "peak RSS of tests": (3.0, "GiB"),
    }


def test_full_synth_over_four_floors_is_a_miss() -> None:
    results = {"floor": _result("floor", 2.0), "full": _result("full", 9.0)}  # 4.5 floors: over 4 by 12.5 %
    assert _by_name(bench.targets(results))["full / floor"].status == "MISS"
    results["full"] = _result("full", 8.6)  # 4.3 floors: within the noise tolerance
    assert _by_name(bench.targets(results))["full / floor"].status == "NOISE"


def test_timing_ratios_pair_the_runs_of_a_round() -> None:
    # The second round ran in a slow spell that doubled both: the ratio of medians would be 3.5.
    results = {"floor": _result("floor", 2.0, 4.0, 2.0), "full": _result("full", 6.0, 12.0, 7.0)}
    goal = _by_name(bench.targets(results))["full / floor"]
    assert goal.value == pytest.approx(3.0)  # the rounds' ratios are 3, 3 and 3.5
    assert goal.status == "PASS"
    # A case with fewer runs (the test suite) pairs with the rounds it ran in.
    assert bench.paired(
        {"tests": _result("tests", 30.0), "full": _result("full", 10.0, 99.0)},
        "tests",
        "full",
        formula=lambda t, f: t / f,
    ) == pytest.approx(3.0)


def test_targets_whose_cases_were_not_run_are_skipped_and_failed_ones_not_applicable() -> None:
    results = {
        "floor": _result("floor", 2.0),
        "full": bench.CaseResult("full", error="exit status 1"),
        "stages-12": _result("stages-12", 20.0, peak_mib=900.0),
    }
    goals = _by_name(bench.targets(results))
    assert goals["full / floor"].status == "n/a"  # run, and failed: the failure fails the run
    assert goals["extra stage / floor"].status == "skipped"  # stages-3 was not run
    assert goals["make test"].status == "skipped"
    assert goals["peak RSS of tests"].status == "skipped"
    assert goals["peak RSS at 12 stages"].status == "PASS"
    assert not any(goal.missed for goal in goals.values())


def test_target_status() -> None:
    assert bench.Target("t", "t", 0.9, 1.0, "x").status == "PASS"
    assert bench.Target("t", "t", 1.1, 1.0, "x").status == "MISS"
    assert bench.Target("t", "t", None, 1.0, "x").status == "n/a"
    assert bench.Target("t", "t", None, 1.0, "x", skipped=True).status == "skipped"


@pytest.mark.parametrize(
    ("value", "status"), [(3.0, "PASS"), (3.2, "NOISE"), (3.3, "NOISE"), (3.31, "MISS"), (None, "n/a")]
)
def test_a_timing_ratio_within_its_noise_tolerance_is_not_a_miss(value: float | None, status: str) -> None:
    goal = bench.Target("tests / full", "tests / full", value, 3.0, "x", tolerance=0.1)
    assert goal.status == status
    assert goal.missed == (status == "MISS")


def test_timing_targets_carry_the_stated_tolerance_and_memory_targets_none() -> None:
    goals = bench.targets({})
    assert {g.name: g.tolerance for g in goals if g.unit in ("x", "s")} == dict.fromkeys(
        ("full / floor", "extra stage / floor", "make test"), bench.TIME_TOLERANCE
    )
    assert all(g.tolerance == 0 for g in goals if g.unit == "GiB")
    assert 0 < bench.TIME_TOLERANCE < 0.5


def _goals(tests_s: float) -> list[bench.Target]:
    return bench.targets(
        {"floor": _result("floor", 2.0), "full": _result("full", 6.0), "tests": _result("tests", tests_s)}
    )


def test_exit_status_fails_on_a_miss_and_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    results = {"floor": _result("floor", 2.0)}
    assert bench.exit_status(results, _goals(150.0)) == 0  # the budget itself
    assert bench.exit_status(results, _goals(160.0)) == 0  # within the noise tolerance
    assert capsys.readouterr().err == ""
    assert bench.exit_status(results, _goals(170.0)) == 1
    assert "missed: make test is 170.00 s, over its limit of 150.0 s by more than 10%" in capsys.readouterr().err


def test_exit_status_fails_on_a_failed_case(capsys: pytest.CaptureFixture[str]) -> None:
    results = {"full": bench.CaseResult("full", error="exit status 1")}
    assert bench.exit_status(results, bench.targets(results)) == 1
    assert "failed case(s): full" in capsys.readouterr().err


def test_render_and_json_show_every_case_and_target() -> None:
    results = {"floor": _result("floor", 2.0), "full": bench.CaseResult("full", error="exit status 1\nboom")}
    goals = bench.targets(results)
    table = bench.render(results, goals)
    assert "FAILED" in table
    assert "n/a" in table
    assert (
        "skipped, not measured by this run's cases (--full measures them): extra stage / floor, "
        "peak RSS at 12 stages, make test, peak RSS of tests"
    ) in table
    plan = bench.Plan("quick", ("floor", "full"), runs=1, test_runs=1, config_path=LAYOUTS)
    data = bench.to_json(results, goals, plan=plan)
    assert (data["mode"], data["config"], data["runs"]) == ("quick", str(LAYOUTS), 1)
    assert data["cases"]["floor"]["ratio_to_floor"] == 1.0
    assert data["cases"]["full"]["ok"] is False
    assert [t["status"] for t in data["targets"]] == ["n/a"] + ["skipped"] * 4
    assert {t["name"]: t["tolerance"] for t in data["targets"]}["make test"] == bench.TIME_TOLERANCE


def test_runs_go_round_robin_with_the_test_suite_last_in_its_rounds() -> None:
    order = bench.schedule(["floor", "full", "tests"], runs=3, test_runs=2)
    assert order == [
        ("floor", 1),
        ("full", 1),
        ("tests", 1),
        ("floor", 2),
        ("full", 2),
        ("tests", 2),
        ("floor", 3),
        ("full", 3),
    ]
    assert bench.schedule(["full", "tests"], runs=1, test_runs=2) == [("full", 1), ("tests", 1), ("tests", 2)]
    assert bench.schedule(["floor"], runs=2, test_runs=5) == [("floor", 1), ("floor", 2)]


def test_every_synth_case_is_cdk_synth_through_the_pinned_cli() -> None:
    for name in bench.SYNTH_CASES:
        command = bench.synth_command(name, "/tmp/out", LAYOUTS)
        assert command[:2] == [str(bench.ROOT / "node_modules" / ".bin" / "cdk"), "synth"]
        assert command[command.index("--output") + 1] == "/tmp/out"
    # The full synth is the app as cdk.json names it, given the configuration as `make cdk CONFIG=...` gives it.
    full = bench.synth_command("full", "/tmp/out", LAYOUTS)
    assert "--app" not in full
    assert full[full.index("--context") + 1] == f"config={LAYOUTS}"
    # Every other case is an app of this script, on this venv; all but the floor read the configuration.
    floor = bench.synth_command("floor", "/tmp/out", LAYOUTS)
    app = floor[floor.index("--app") + 1].split()
    assert app[0] == sys.executable
    assert app[-2:] == ["--app", "floor"]
    stages = bench.synth_command("stages-12", "/tmp/out", LAYOUTS)
    assert stages[stages.index("--app") + 1].split()[-4:] == ["--app", "stages-12", "--config", str(LAYOUTS)]
    assert bench.tests_command() == ["make", "--no-print-directory", "test"]


def test_the_full_case_gates_on_a_baseline_of_its_own_run() -> None:
    env = {"PATH": "/bin"}
    assert bench.case_env("full", env, "/tmp/work") == {
        "PATH": "/bin",
        "MONITORING_BASELINE": "/tmp/work/baseline.json",
        "MONITORING_WRITE_BASELINE": "1",
    }
    assert bench.case_env("stages-3", env, "/tmp/work") == env


def test_a_stages_app_synthesizes_the_scaled_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    synthesized: list[AppConfig] = []
    monkeypatch.setattr(bench, "_synth_full", lambda outdir, config: synthesized.append(config))
    bench.run_app("stages-6", "/tmp/out", LAYOUTS)
    assert [env.name for env in synthesized[0].environments] == ["dev", "qa", "staging", "prod", "prod-dr", "dev2"]


def test_an_app_case_refuses_to_run_outside_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDK_OUTDIR", raising=False)
    with pytest.raises(SystemExit):
        bench.main(["--app", "floor"])


def test_cases_option_keeps_table_order_and_rejects_unknown_names() -> None:
    assert bench._parse_cases("stages-12,floor") == ["floor", "stages-12"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown case"):
        bench._parse_cases("floor,nope")


# --- the modes ----------------------------------------------------------------------------------


def _plan(*argv: str) -> bench.Plan:
    return bench.plan_of(bench._parser().parse_args(list(argv)))


def test_the_default_is_quick_the_synth_targets_once_without_the_test_suite() -> None:
    plan = _plan()
    assert plan.mode == "quick"
    assert plan.cases == ("floor", "full", "stages-3", "stages-12")
    assert plan.runs == 1
    assert bench.TEST_CASE not in plan.cases
    assert plan.config_path == DEFAULT_CONFIG_PATH
    # What the quick cases measure is checked; the test suite's targets are skipped, not failed.
    checked = [goal.name for goal in bench.targets(dict.fromkeys(plan.cases, _result("x", 1.0))) if not goal.skipped]
    assert checked == ["full / floor", "extra stage / floor", "peak RSS at 12 stages"]


def test_full_mode_runs_every_case_in_three_rounds() -> None:
    plan = _plan("--full")
    assert plan.mode == "full"
    assert plan.cases == bench.ALL_CASES
    assert (plan.runs, plan.test_runs) == (3, 3)
    assert _plan("--full", "--skip-tests").cases == bench.SYNTH_CASES


def test_options_replace_the_modes_choice() -> None:
    plan = _plan("--cases", "floor,full,tests", "--runs", "5", "--test-runs", "2", "--config", str(LAYOUTS))
    assert (plan.mode, plan.cases, plan.runs, plan.test_runs) == ("quick", ("floor", "full", "tests"), 5, 2)
    assert plan.config_path == LAYOUTS
    assert _plan("--full", "--runs", "2").test_runs == 2
    assert _plan("--config", "tests/fixtures/layouts.yaml").config_path.is_absolute()


def test_the_mode_runs_its_cases_and_reports_skipped_targets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[tuple[str, ...], int, Path]] = []

    def fake_benchmark(cases: tuple[str, ...], *, runs: int, test_runs: int, config_path: Path) -> Any:
        calls.append((cases, runs, config_path))
        walls = {"floor": 10.0, "full": 30.0, "stages-3": 25.0, "stages-12": 60.0}
        return {name: _result(name, walls[name]) for name in cases}

    monkeypatch.setattr(bench, "run_benchmark", fake_benchmark)
    report = tmp_path / "bench.json"
    assert bench.main(["--config", str(LAYOUTS), "--json", str(report)]) == 0
    assert calls == [(bench.QUICK_CASES, 1, LAYOUTS)]
    out = capsys.readouterr().out
    assert "skipped, not measured by this run's cases (--full measures them): make test, peak RSS of tests" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["mode"] == "quick"
    assert [t["status"] for t in data["targets"]] == ["PASS", "PASS", "PASS", "skipped", "skipped"]


# --- configurations with more stages ------------------------------------------------------------


def _document(config: AppConfig, **renamed: str) -> dict[str, Any]:
    """`config` as a file holds it, environments renamed old=new."""
    document = config.model_dump(mode="json")
    document["environments"] = {
        renamed.get(env["name"], env["name"]): {k: v for k, v in env.items() if k != "name"}
        for env in document["environments"]
    }
    return document


@pytest.mark.parametrize("path", [LAYOUTS, GOVCLOUD])
@pytest.mark.parametrize("count", [1, 3, 4, 6, 12])
def test_scaled_configs_pass_the_loader_and_give_the_pipeline_distinct_ids(path: Path, count: int) -> None:
    # The layout with a wave (prod and prod-dr): copies that kept `wave: production` failed the loader's
    # wave rule, and built two pipeline waves named Production (jsii's NodeDuplicate).
    base = load_config(path)
    document = scaled_document(base, count)
    config = parse_config(document, source=str(path))  # the loader, its cross-field rules included
    assert scaled_config(base, count) == config
    assert len(config.environments) == count
    ids = pipeline_ids(config)
    assert len(ids) == len(set(ids)), ids
    networks = [ipaddress.IPv4Network(env.vpc_cidr) for env in config.environments]
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])


def test_copies_of_a_wave_form_a_wave_of_their_own(fixture_config: AppConfig) -> None:
    config = scaled_config(fixture_config, 12)
    assert [env.name for env in config.environments] == [
        *("dev", "qa", "staging", "prod", "prod-dr"),
        *("dev2", "qa2", "staging2", "prod2", "prod-dr2"),
        *("dev3", "qa3"),
    ]
    assert [[env.name for env in wave] for wave in config.waves if len(wave) > 1] == [
        ["prod", "prod-dr"],
        ["prod2", "prod-dr2"],
    ]
    assert config.environment("prod2").wave == config.environment("prod-dr2").wave == "production2"
    assert "Production2" in pipeline_ids(config)


def test_copies_keep_their_template_settings_and_how_they_share_accounts(fixture_config: AppConfig) -> None:
    originals = fixture_config.environments
    config = scaled_config(fixture_config, 3 * len(originals))
    first, second = (config.environments[n * len(originals) : (n + 1) * len(originals)] for n in (1, 2))
    unique = ("name", "wave", "account", "vpc_cidr", "load_balancer_tls")
    for original, copy in zip(originals, first, strict=True):
        assert copy.model_copy(update={key: getattr(original, key) for key in unique}) == original
        assert ipaddress.IPv4Network(copy.vpc_cidr).prefixlen == ipaddress.IPv4Network(original.vpc_cidr).prefixlen
        # The same certificate id and name, in the copy's own account (a load balancer uses its account's).
        moved = original.load_balancer_tls.certificate_arn.replace(f":{original.account}:", f":{copy.account}:")
        assert copy.load_balancer_tls.certificate_arn == moved != original.load_balancer_tls.certificate_arn
        assert copy.load_balancer_tls.domain_name == original.load_balancer_tls.domain_name
    # qa shares dev's account and prod-dr prod's: so do their copies, in accounts no other environment uses.
    for block in (first, second):
        accounts = {env.name.rstrip("23"): env.account for env in block}
        assert accounts["qa"] == accounts["dev"]
        assert accounts["prod-dr"] == accounts["prod"]
        assert len(set(accounts.values())) == 3
    used = {fixture_config.pipeline.account, *(env.account for env in originals)}
    assert not used & {env.account for env in (*first, *second)}
    assert {env.account for env in first}.isdisjoint(env.account for env in second)
    assert scaled_config(fixture_config, len(originals)) == fixture_config


def test_copies_avoid_every_name_and_stage_id_in_the_file(fixture_config: AppConfig) -> None:
    # The file already has dev2, and prod-2, whose stage id is what prod2 would have (Prod2).
    base = parse_config(_document(fixture_config, qa="dev2", staging="prod-2"))
    config = scaled_config(base, 10)
    assert [env.name for env in config.environments[5:]] == ["dev3", "dev2-2", "prod-2-2", "prod3", "prod-dr2"]
    ids = pipeline_ids(config)
    assert len(ids) == len(set(ids)), ids


def test_a_copy_of_a_longest_name_stays_a_valid_name(fixture_config: AppConfig) -> None:
    longest = "a" * 19 + "b"
    base = parse_config(_document(fixture_config, dev=longest))
    config = scaled_config(base, 11)
    assert [env.name for env in config.environments if env.name.startswith("a")] == [
        longest,
        "a" * 19 + "2",
        "a" * 19 + "3",
    ]


def test_no_copy_without_a_free_network() -> None:
    taken = _Taken(ids=set(), accounts=set(), networks=list(PRIVATE_RANGES))
    with pytest.raises(ValueError, match=r"no private /16 network is left for a copy of 10\.10\.0\.0/16"):
        taken.network("10.10.0.0/16")


def test_at_least_one_environment() -> None:
    with pytest.raises(ValueError, match="at least one"):
        scaled_document(load_config(LAYOUTS), 0)


# --- the configuration, checked before anything is timed ---------------------------------------


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "environments.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_a_configuration_the_loader_refuses_stops_the_run_in_one_line(
    tmp_path: Path, fixture_config: AppConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _document(fixture_config)
    document["environments"]["staging"]["vpc_cidr"] = "10.0.0.0/8"
    path = _write(tmp_path, document)
    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: pytest.fail("timed a configuration that is refused"))
    assert bench.main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"bench: {path}: 1 configuration problem(s): environments.staging.vpc_cidr: '10.0.0.0/8' "
        "must be a /16 to /20 network\n"
    )


def test_a_pipeline_with_two_stages_of_one_id_stops_the_run(
    tmp_path: Path, fixture_config: AppConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    # prod-2 and prod2 are both the stage Prod2: the loader refuses the file before anything is timed.
    path = _write(tmp_path, _document(fixture_config, qa="prod-2", staging="prod2"))
    assert bench.main(["--config", str(path), "--cases", "floor"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"bench: {path}: 1 configuration problem(s): environments.prod2.name: 'prod2' is the stage")


def test_every_scaled_configuration_of_the_plan_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[int] = []

    def counting(base: AppConfig, count: int, *, source: str) -> AppConfig:
        checked.append(count)
        return scaled_config(base, count, source=source)

    monkeypatch.setattr(bench, "scaled_config", counting)
    bench.check_configs(_plan("--full", "--config", str(LAYOUTS)))
    assert checked == [3, 6, 12]
    with pytest.raises(ConfigError):
        bench.check_configs(_plan("--config", str(LAYOUTS.with_name("missing.yaml"))))


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
