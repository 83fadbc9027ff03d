"""`make bench`: how long a synth and the test suite take and how much memory they need, against fixed targets.

Reproduce the figures with

    make bench                          # quick: a few minutes
    make bench BENCH_ARGS=--full        # everything, three rounds (make bench-full is the same)
    make bench CONFIG=path/to/file.yaml # on another configuration (either mode)
    # or, with the venv's Node.js and the pinned CDK CLI on PATH as the Makefile puts them:
    PATH=$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH .venv/bin/python scripts/bench.py [--full]
        [--config FILE] [--runs N] [--test-runs N] [--cases floor,full,...] [--skip-tests] [--json FILE]

The modes:

  quick (default)  floor, full, stages-3 and stages-12, one run each, no test suite: the synth targets
                   (full / floor, the extra stage, the memory at 12 stages); the test suite's two
                   targets are reported as skipped. 2 to 4 minutes on the shared 2-core machine.
  --full           every case below, three rounds, the test suite in each: every target. About 15
                   minutes on a quiet 2-core machine (a round is about 5), far longer on a busy one.

`--cases`, `--runs` and `--test-runs` replace the mode's choice; a target whose cases were not run
is skipped, never checked.

The configuration is `--config` (the Makefile's CONFIG; default config/environments.yaml). Before
anything is timed it is loaded by the app's own loader (config.load_config), and so is every
configuration with more stages the run synthesizes; a configuration the loader refuses, or whose
pipeline would have two waves or stages with one id, stops the run with one line naming the
problems (exit status 2).

Every synth case is `cdk synth` through the pinned CLI (node_modules/.bin/cdk) on the venv's Python
and Node.js, as a user runs it, into a fresh output directory: the CLI starts the app in a new
process, so no run reuses a warm jsii runtime or imported modules. A run's wall time is the CLI's,
from start to exit. Its memory is the peak of the summed VmRSS of the process tree, sampled from
/proc every 50 ms: the CLI, the Python app, and the Node.js processes of the jsii runtime under it.

The cases:

  floor          `cdk synth` of an empty CDK app with one empty stack: the fixed cost of any CDK app here
  full           `cdk synth` of the app (cdk.json's app command, app.py, `-c config=FILE`): the
                 configuration with every validation pack, synthesized, its compliance reports written
                 and the gate applied. The gate compares with a compliance baseline the run records
                 itself: the committed one belongs to the shipped configuration and would fail any other
  no-validation  the same app without the validation packs and without the reports: what the
                 compliance layer costs is full minus this
  stages-N       `full` with N environments (3, 6, 12): the file's first N, then copies of them
                 (dev2, staging2, prod2, dev3, ...) with their own names, waves, accounts and networks,
                 validated by the loader (scripts/scaled_config.py); shows how the cost grows per stage
  tests          `make test`: ruff, mypy and the whole test suite; `--test-runs` times (default: as
                 many as `--runs`); `--skip-tests` leaves it out

Runs go round-robin: each round runs every case once (the test suite in the first `--test-runs`
rounds), so a slow spell on a shared machine spreads over every case instead of inflating one.

The targets:

  full / floor                             <= 4
  (stages-12 - stages-3) / 9 / floor       <= 0.5   (the cost of each extra stage)
  peak RSS of stages-12                    <= 1.5 GiB
  median wall time of tests                <= 150 s
  peak RSS of tests                        <= 3 GiB

A timing ratio is the median over rounds of the ratio within each round (the full synth and the
floor of the same round, say), which cancels most of a slow spell on a shared machine. On the
shared 2-core machine one case still varies by a fifth or more from run to run, and the paired
ratio by about a tenth, so a timing target up to 10 % over its limit (TIME_TOLERANCE) is reported as
NOISE and passes; beyond that it is a MISS. The test suite's time is its own median, not a ratio,
and has the same tolerance. Memory targets have no tolerance: the sampled peak can only under-read.
The table's peak RSS is the highest of the runs, since a memory budget is about the worst run. The
JSON file (`--json`, default bench-results.json in the current directory) holds every run's figures
as well. The exit status is 1 when a target is missed or a case fails (a synth failed, or the test
suite did not pass), 0 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import operator
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as `python scripts/bench.py`, the project's packages are not on the path yet.
    sys.path.insert(0, str(ROOT))

from config import DEFAULT_CONFIG_PATH, AppConfig, ConfigError, load_config  # noqa: E402
from scripts.processes import output_of  # noqa: E402
from scripts.scaled_config import pipeline_ids, scaled_config  # noqa: E402

CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"  # the CLI version package.json pins

MIB = 2**20
GIB = 2**30
SAMPLE_INTERVAL_S = 0.05
# A run that takes this long has hung (a full synth takes a minute at most), so it counts as a failure.
RUN_TIMEOUT_S = 900.0

STAGE_COUNTS = (3, 6, 12)
SYNTH_CASES = ("floor", "full", "no-validation", *(f"stages-{n}" for n in STAGE_COUNTS))
TEST_CASE = "tests"
ALL_CASES = (*SYNTH_CASES, TEST_CASE)

# The quick default: what the headline synth targets need, once each; `--full` runs every case, three rounds.
QUICK_CASES = ("floor", "full", f"stages-{min(STAGE_COUNTS)}", f"stages-{max(STAGE_COUNTS)}")
QUICK_RUNS = 1
FULL_RUNS = 3

FULL_LIMIT = 4.0  # full synth, in floors
EXTRA_STAGE_LIMIT = 0.5  # each stage beyond three, in floors
PEAK_RSS_LIMIT_GIB = 1.5  # the whole process tree at 12 stages
TESTS_LIMIT_S = 150.0  # `make test`, wall time
TESTS_PEAK_RSS_LIMIT_GIB = 3.0  # `make test`'s whole process tree, its parallel work included
# How far over its limit a timing target may be before it counts as missed: about the run-to-run
# spread of one case on the shared 2-core machine (README, "Performance").
TIME_TOLERANCE = 0.10


# --- statistics and targets (pure) --------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Median and range of a case's runs."""

    median: float
    minimum: float
    maximum: float


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("no values to summarise")
    return Spread(median=statistics.median(values), minimum=min(values), maximum=max(values))


@dataclass
class CaseResult:
    """The runs of one case: wall time and peak tree RSS of each, or why it failed."""

    name: str
    wall_s: list[float] = field(default_factory=list)
    peak_rss_bytes: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.wall_s)

    @property
    def wall(self) -> Spread | None:
        return spread(self.wall_s) if self.ok else None

    @property
    def peak_rss(self) -> int | None:
        return max(self.peak_rss_bytes) if self.ok and self.peak_rss_bytes else None


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0:
        return None
    return value / base


@dataclass(frozen=True)
class Target:
    """One headline figure, the limit it should stay within, and how far over it noise may take it."""

    name: str
    formula: str
    value: float | None  # None: a case it needs was not run or failed
    limit: float
    unit: str
    tolerance: float = 0.0  # a fraction of the limit
    needs: tuple[str, ...] = ()  # the cases it is measured from
    skipped: bool = False  # a case it needs was not part of the run: not checked

    @property
    def status(self) -> str:
        """PASS within the limit, NOISE over it by no more than the tolerance, MISS beyond that.

        `skipped` when a case it needs was not run, `n/a` when one failed (the failure fails the run).
        """
        if self.skipped:
            return "skipped"
        if self.value is None:
            return "n/a"
        if self.value <= self.limit:
            return "PASS"
        return "NOISE" if self.value <= self.limit * (1 + self.tolerance) else "MISS"

    @property
    def missed(self) -> bool:
        return self.status == "MISS"


def paired(results: Mapping[str, CaseResult], *names: str, formula: Callable[..., float]) -> float | None:
    """The median over rounds of `formula` applied to the named cases' runs of the same round.

    A case runs once per round (`schedule`), so its n-th run and another case's n-th run were
    taken minutes apart: a ratio within a round cancels most of a slow spell on a shared machine,
    where a ratio of medians taken across rounds would not. None when a case is missing or failed.
    """
    walls = []
    for name in names:
        result = results.get(name)
        if result is None or not result.ok:
            return None
        walls.append(result.wall_s)
    per_round = [formula(*round_) for round_ in zip(*walls, strict=False)]
    return statistics.median(per_round) if per_round else None


def targets(results: Mapping[str, CaseResult]) -> list[Target]:
    """The headline figures: timing ratios paired round by round (`paired`), the test suite's median wall
    time, and the peak RSS of the cases; a target whose cases are not all in `results` is skipped."""
    few, many = min(STAGE_COUNTS), max(STAGE_COUNTS)

    def per_stage(few_s: float, many_s: float, floor_s: float) -> float:
        # The slope between the smallest and the largest app: the fixed costs cancel out.
        return (many_s - few_s) / (many - few) / floor_s

    stages = (f"stages-{few}", f"stages-{many}")
    goals = [
        Target(
            "full / floor",
            "full / floor",
            paired(results, "full", "floor", formula=operator.truediv),
            FULL_LIMIT,
            "x",
            TIME_TOLERANCE,
            needs=("full", "floor"),
        ),
        Target(
            "extra stage / floor",
            f"(stages-{many} - stages-{few}) / {many - few} / floor",
            paired(results, *stages, "floor", formula=per_stage),
            EXTRA_STAGE_LIMIT,
            "x",
            TIME_TOLERANCE,
            needs=(*stages, "floor"),
        ),
        Target(
            f"peak RSS at {many} stages",
            f"max peak RSS of stages-{many}",
            _peak_gib(results, f"stages-{many}"),
            PEAK_RSS_LIMIT_GIB,
            "GiB",
            needs=(f"stages-{many}",),
        ),
        Target(
            "make test",
            "median wall time of tests",
            _median_s(results, TEST_CASE),
            TESTS_LIMIT_S,
            "s",
            TIME_TOLERANCE,
            needs=(TEST_CASE,),
        ),
        Target(
            "peak RSS of tests",
            "max peak RSS of tests",
            _peak_gib(results, TEST_CASE),
            TESTS_PEAK_RSS_LIMIT_GIB,
            "GiB",
            needs=(TEST_CASE,),
        ),
    ]
    return [replace(goal, skipped=not set(goal.needs) <= results.keys()) for goal in goals]


def _median_s(results: Mapping[str, CaseResult], name: str) -> float | None:
    result = results.get(name)
    wall = result.wall if result else None
    return wall.median if wall else None


def _peak_gib(results: Mapping[str, CaseResult], name: str) -> float | None:
    result = results.get(name)
    peak = result.peak_rss if result else None
    return peak / GIB if peak is not None else None


# --- measuring a process tree -------------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, VmRSS in bytes) of every process visible in /proc."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        parent, rss = -1, 0
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as status:
                for line in status:
                    if line.startswith("PPid:"):
                        parent = int(line.split()[1])
                    elif line.startswith("VmRSS:"):  # absent for kernel threads and zombies
                        rss = int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue  # the process exited while we read it
        table[int(entry.name)] = (parent, rss)
    return table


def tree_rss(root: int, table: Mapping[int, tuple[int, int]]) -> int:
    """The summed RSS of `root` and all its descendants in `table`.

    Pages two processes share count twice; Python and Node.js share little beyond libc.
    """
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        if pid in table:
            total += table[pid][1]
        pending.extend(children.get(pid, ()))
    return total


class TreeRssSampler:
    """Samples the RSS of a process tree from a background thread and keeps the highest sum.

    The kernel here does not offer /proc/<pid>/task/<tid>/children, so each sample reads every
    process's status once and builds the tree from the parent pids: a new jsii child is found
    at the next sample without any bookkeeping.
    """

    def __init__(self, pid: int, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.peak_bytes = max(self.peak_bytes, tree_rss(self.pid, _process_table()))
            if self._stop.wait(self.interval_s):
                return


@dataclass(frozen=True)
class Run:
    wall_s: float
    peak_rss_bytes: int
    returncode: int
    output: str


def measure(command: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> Run:
    """Run `command` to completion: its wall time, the peak RSS of its process tree, its output."""
    start = time.perf_counter()
    process = subprocess.Popen(
        list(command), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    with TreeRssSampler(process.pid) as sampler:
        output = output_of(process, RUN_TIMEOUT_S)
    wall = time.perf_counter() - start
    return Run(wall_s=wall, peak_rss_bytes=sampler.peak_bytes, returncode=process.returncode, output=output)


def child_env() -> dict[str, str]:
    """The environment of every measured process: the one `make synth` gives the app."""
    from config.jsii_environment import jsii_environment

    # jsii runs on the Node.js installed into the venv; a deprecated CDK API fails the synth.
    env = jsii_environment()
    # Set when the CDK CLI runs the app: they would change the app measured, or where it writes.
    for name in ("CDK_CONTEXT_JSON", "CDK_OUTDIR", "MONITORING_CONFIG"):
        env.pop(name, None)
    return env


# --- the cases' apps, as the CDK CLI runs them ---------------------------------------------------


def _synth_floor(outdir: str) -> None:
    import aws_cdk as cdk

    app = cdk.App(outdir=outdir)
    cdk.Stack(app, "Empty")
    app.synth()


def _synth_full(outdir: str, config: AppConfig) -> None:
    # The same steps, in the same order, as app.main(), without its gate's verdict (the CLI's `full` case has it).
    from app import build_app, report_and_gate

    app = build_app(config, outdir=outdir)
    assembly = app.synth()
    report_and_gate(
        app,
        Path(assembly.directory),
        stages=[env.stage_id for env in config.environments],
        external_prerequisites={env.stage_id: frozenset(env.external_prerequisites) for env in config.environments},
        disabled_controls=config.control_tower.disabled_controls,
    )


def _synth_unvalidated(outdir: str, config: AppConfig) -> None:
    from app import build_app

    build_app(config, outdir=outdir, validate=False).synth()


# Synth cases whose app is not cdk.json's: the CLI runs this script as the app (`--app NAME`).
BENCH_APPS = tuple(name for name in SYNTH_CASES if name != "full")


def stage_count(name: str) -> int | None:
    """N of case `stages-N`, None for any other case."""
    return int(name.removeprefix("stages-")) if name.startswith("stages-") else None


def run_app(name: str, outdir: str, config_path: Path) -> None:
    """The app of case `name`, synthesized into `outdir` (the CLI's CDK_OUTDIR), in this process."""
    count = stage_count(name)
    if name == "floor":
        _synth_floor(outdir)
    elif name == "no-validation":
        _synth_unvalidated(outdir, load_config(config_path))
    elif name in BENCH_APPS and count is not None:
        _synth_full(outdir, scaled_config(load_config(config_path), count, source=str(config_path)))
    else:
        raise SystemExit(f"unknown app {name!r}; choose from {', '.join(BENCH_APPS)}")


def synth_command(name: str, outdir: str, config_path: Path = DEFAULT_CONFIG_PATH) -> list[str]:
    """`cdk synth` of case `name` through the pinned CLI: cdk.json's app for `full`, this script's for the others.

    Every case but the floor synthesizes the configuration at `config_path`: `full` as `make cdk CONFIG=...`
    passes it (`-c config=...`), the others as an argument of this script.
    """
    command = [str(CDK_CLI), "synth", "--quiet", "--no-notices", "--output", outdir]
    if name == "full":
        return [*command, "--context", f"config={config_path}"]
    app = [sys.executable, str(Path(__file__).resolve()), "--app", name]
    if name != "floor":
        app += ["--config", str(config_path)]
    return [*command, "--app", shlex.join(app)]


def case_env(name: str, env: Mapping[str, str], workdir: str) -> dict[str, str]:
    """The environment of case `name`: `full` compares the compliance baseline with one it records in `workdir`.

    The committed baseline belongs to the shipped configuration: compared with any other, it fails the
    gate on every environment it does not know. A baseline recorded by the same run keeps the gate's
    work and its verdict on the run's own findings, and leaves out its verdict on the configuration.
    """
    if name != "full":
        return dict(env)
    return {**env, "MONITORING_BASELINE": str(Path(workdir) / "baseline.json"), "MONITORING_WRITE_BASELINE": "1"}


def tests_command() -> list[str]:
    return ["make", "--no-print-directory", "test"]


# --- the benchmark, as the parent process runs it -----------------------------------------------


def _fail_message(run: Run) -> str:
    tail = "\n".join(run.output.strip().splitlines()[-15:])
    return f"exit status {run.returncode}\n{tail}"


def _record(result: CaseResult, run: Run, label: str) -> None:
    if run.returncode != 0:
        result.error = _fail_message(run)
        print(f"  {label}: FAILED ({run.wall_s:.2f} s)\n{_indent(result.error)}", file=sys.stderr, flush=True)
        return
    result.wall_s.append(run.wall_s)
    result.peak_rss_bytes.append(run.peak_rss_bytes)
    print(f"  {label}: {run.wall_s:.2f} s, {run.peak_rss_bytes / MIB:.0f} MiB", file=sys.stderr, flush=True)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def schedule(cases: Sequence[str], *, runs: int, test_runs: int) -> list[tuple[str, int]]:
    """(case, run number) in the order they run: round-robin, the test suite last in each of its rounds.

    Round-robin rather than case after case: a slow spell on the machine (another build, a
    thermal throttle) then spreads over every case instead of inflating one of them.
    """
    order = []
    for index in range(max(runs, test_runs if TEST_CASE in cases else 0)):
        order += [(name, index + 1) for name in cases if name in SYNTH_CASES and index < runs]
        if TEST_CASE in cases and index < test_runs:
            order.append((TEST_CASE, index + 1))
    return order


def run_benchmark(
    cases: Sequence[str], *, runs: int, test_runs: int, config_path: Path = DEFAULT_CONFIG_PATH
) -> dict[str, CaseResult]:
    env = child_env()
    results = {name: CaseResult(name) for name in cases}
    for name, number in schedule(cases, runs=runs, test_runs=test_runs):
        result = results[name]
        if result.error is not None:
            continue  # once a case has failed its later runs would only fail again
        total = test_runs if name == TEST_CASE else runs
        if name == TEST_CASE:
            run = measure(tests_command(), env=env, cwd=ROOT)
        else:
            with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir:
                command = synth_command(name, str(Path(workdir) / "cdk.out"), config_path)
                run = measure(command, env=case_env(name, env, workdir), cwd=ROOT)
        _record(result, run, f"{name} run {number}/{total}")
    return results


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _with_unit(number: float, unit: str, digits: int = 2) -> str:
    return f"{number:.{digits}f}x" if unit == "x" else f"{number:.{digits}f} {unit}"


def render(results: Mapping[str, CaseResult], goals: Sequence[Target]) -> str:
    floor = results.get("floor")
    floor_s = floor.wall.median if floor and floor.wall else None
    header = f"{'case':<14} {'runs':>4} {'median s':>9} {'min s':>8} {'max s':>8} {'x floor':>8} {'peak RSS MiB':>13}"
    lines = [header, "-" * len(header)]
    for result in results.values():
        wall, peak = result.wall, result.peak_rss
        if wall is None:
            lines.append(f"{result.name:<14} {len(result.wall_s):>4} {'FAILED' if result.error else '-':>9}")
            continue
        lines.append(
            f"{result.name:<14} {len(result.wall_s):>4} {wall.median:>9.2f} {wall.minimum:>8.2f} "
            f"{wall.maximum:>8.2f} {_number(ratio(wall.median, floor_s)):>8} "
            f"{_number(peak / MIB if peak is not None else None, 0):>13}"
        )
    lines += ["", f"{'target':<24} {'value':>9} {'limit':>11} {'noise':>6}  {'result':<7} formula"]
    for goal in goals:
        value = _with_unit(goal.value, goal.unit) if goal.value is not None else "-"
        limit = "<= " + _with_unit(goal.limit, goal.unit, digits=1)
        noise = f"+{goal.tolerance:.0%}" if goal.tolerance else "-"
        lines.append(f"{goal.name:<24} {value:>9} {limit:>11} {noise:>6}  {goal.status:<7} {goal.formula}")
    skipped = [goal.name for goal in goals if goal.skipped]
    if skipped:
        lines += ["", f"skipped, not measured by this run's cases (--full measures them): {', '.join(skipped)}"]
    return "\n".join(lines)


def _total_memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def to_json(results: Mapping[str, CaseResult], goals: Sequence[Target], *, plan: Plan) -> dict[str, Any]:
    floor = results.get("floor")
    floor_s = floor.wall.median if floor and floor.wall else None
    cases: dict[str, Any] = {}
    for result in results.values():
        wall, peak = result.wall, result.peak_rss
        cases[result.name] = {
            "ok": result.ok,
            "error": result.error,
            "wall_s": result.wall_s,
            "peak_rss_mib": [round(b / MIB, 1) for b in result.peak_rss_bytes],
            "median_s": wall.median if wall else None,
            "min_s": wall.minimum if wall else None,
            "max_s": wall.maximum if wall else None,
            "ratio_to_floor": ratio(wall.median, floor_s) if wall else None,
            "max_peak_rss_mib": round(peak / MIB, 1) if peak is not None else None,
        }
    return {
        "mode": plan.mode,
        "config": str(plan.config_path),
        "runs": plan.runs,
        "test_runs": plan.test_runs,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(total / GIB, 1) if (total := _total_memory_bytes()) else None,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "aws_cdk_lib": _version("aws-cdk-lib"),
            "node": shutil.which("node", path=child_env()["PATH"]),
        },
        "cases": cases,
        "targets": [
            {
                "name": g.name,
                "formula": g.formula,
                "value": g.value,
                "limit": g.limit,
                "tolerance": g.tolerance,
                "unit": g.unit,
                "status": g.status,
            }
            for g in goals
        ],
    }


def _parse_cases(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALL_CASES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown case(s) {', '.join(unknown) or '(none)'}; known: {', '.join(ALL_CASES)}"
        )
    # Table order, whatever order they were asked in.
    return [name for name in ALL_CASES if name in names]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


@dataclass(frozen=True)
class Plan:
    """What one benchmark runs: its mode's cases and rounds, unless the options name others, on one configuration."""

    mode: str  # "quick" (the default) or "full"
    cases: tuple[str, ...]
    runs: int
    test_runs: int
    config_path: Path


def plan_of(args: argparse.Namespace) -> Plan:
    """The quick default (QUICK_CASES once, no test suite) or `--full` (every case, FULL_RUNS rounds)."""
    cases = args.cases or (ALL_CASES if args.full else QUICK_CASES)
    runs = args.runs or (FULL_RUNS if args.full else QUICK_RUNS)
    return Plan(
        mode="full" if args.full else "quick",
        cases=tuple(name for name in cases if not (args.skip_tests and name == TEST_CASE)),
        runs=runs,
        test_runs=args.test_runs or runs,
        config_path=Path(args.config).resolve(),
    )


def check_configs(plan: Plan) -> None:
    """Load the configuration and every scaled copy the plan synthesizes, as the loader does, before timing anything.

    Raises `ConfigError` for a configuration the loader refuses, ValueError for one the pipeline could not
    build (two waves or stages with one id) or that cannot be copied.
    """
    base = load_config(plan.config_path)
    counts = sorted({count for name in plan.cases if (count := stage_count(name)) is not None})
    for config in [base, *(scaled_config(base, count, source=str(plan.config_path)) for count in counts)]:
        ids = pipeline_ids(config)
        duplicates = sorted({stage_id for stage_id in ids if ids.count(stage_id) > 1})
        if duplicates:
            raise ValueError(
                f"{plan.config_path} with {len(config.environments)} environment(s): the pipeline would have "
                f"two waves or stages named {', '.join(duplicates)}"
            )


def config_problem(error: ConfigError | ValueError) -> str:
    """A configuration `check_configs` refused, in one line."""
    if isinstance(error, ConfigError):
        return f"bench: {error.source}: {len(error.problems)} configuration problem(s): {'; '.join(error.problems)}"
    return f"bench: {error}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--full", action="store_true", help=f"every case, {FULL_RUNS} rounds, the test suite included")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG_PATH), help="the configuration file to synthesize")
    parser.add_argument(
        "--runs", type=_positive, help=f"runs of each synth case (default {QUICK_RUNS}, with --full {FULL_RUNS})"
    )
    parser.add_argument("--test-runs", type=_positive, help="runs of the test suite (default: as many as --runs)")
    parser.add_argument("--skip-tests", action="store_true", help="leave out the test suite")
    parser.add_argument("--cases", type=_parse_cases, help="comma-separated cases instead of the mode's")
    parser.add_argument("--json", default="bench-results.json", help="where to write the results")
    # The app's side: the CLI runs this script as the app of a case, with CDK_OUTDIR set.
    parser.add_argument("--app", choices=BENCH_APPS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.app:
        outdir = os.environ.get("CDK_OUTDIR") or parser.error("--app runs under the CDK CLI (no CDK_OUTDIR)")
        run_app(args.app, outdir, Path(args.config))
        return 0
    plan = plan_of(args)
    try:
        check_configs(plan)
    except (ConfigError, ValueError) as error:
        print(config_problem(error), file=sys.stderr)
        return 2
    print(
        f"benchmark ({plan.mode}): {', '.join(plan.cases)}; {plan.runs} run(s) per synth case; {plan.config_path}",
        file=sys.stderr,
        flush=True,
    )
    results = run_benchmark(plan.cases, runs=plan.runs, test_runs=plan.test_runs, config_path=plan.config_path)
    goals = targets(results)
    print(render(results, goals))
    Path(args.json).write_text(json.dumps(to_json(results, goals, plan=plan), indent=2) + "\n", encoding="utf-8")
    print(f"\nresults: {Path(args.json).resolve()}")
    return exit_status(results, goals)


def exit_status(results: Mapping[str, CaseResult], goals: Sequence[Target]) -> int:
    """1 when a case failed or a target was missed beyond its tolerance, saying which; 0 otherwise."""
    failed = [result.name for result in results.values() if result.error is not None]
    missed = [goal for goal in goals if goal.missed]
    if failed:
        print(f"failed case(s): {', '.join(failed)}", file=sys.stderr)
    for goal in missed:
        print(
            f"missed: {goal.name} is {_with_unit(goal.value or 0.0, goal.unit)}, over its limit of "
            f"{_with_unit(goal.limit, goal.unit, digits=1)} by more than {goal.tolerance:.0%}",
            file=sys.stderr,
        )
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
