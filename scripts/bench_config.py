"""`make bench-config`: how long the configuration check takes, and how much memory, on good and hostile files.

Reproduce the figures with

    make bench-config
    # or
    .venv/bin/python scripts/bench_config.py [--runs 5] [--json bench-config.json]

Each case is `load_config` on one file, written to a temporary directory first. Its time is the
median of `--runs` runs in this process, after one run that is not counted (it imports what the
check needs and reads cfn-lint's data once, as every synth does before it checks anything). Its
memory is the peak that tracemalloc traces during one more run: what the check allocates, not the
interpreter's own.

The cases (`hostile_documents`, which the tests refuse one by one):

  shipped          config/environments.yaml, accepted
  alias-bomb       a "billion laughs": nine levels of nine aliases, 1 KB standing for 9^9 strings
  many-aliases     one more alias than the budget, each of one scalar
  deep-nesting     100,000 nested flow lists
  megabyte-value   the shipped file with a 1 MiB repository name: refused in one short line
  problems         the shipped file with a thousand numbers for e-mail addresses: a thousand problems

The targets: each case within TIME_LIMIT_S (MEGABYTE_TIME_LIMIT_S for the megabyte value, which
PyYAML's pure-Python scanner reads at about 3 MB/s) and PEAK_LIMIT_MIB. Before the loader's
budgets, an alias bomb of eight levels as pipeline.approval_emails took 4.5 s to report (each
level multiplies that by nine). The exit status is 1 when a case misses a target or is accepted
or refused other than as expected, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as `python scripts/bench_config.py`, the project's packages are not on the path yet.
    sys.path.insert(0, str(ROOT))

from config import DEFAULT_CONFIG_PATH, ConfigError, load_config  # noqa: E402
from config.yaml_reader import MAX_ALIASES  # noqa: E402

MIB = 2**20
TIME_LIMIT_S = 0.25
MEGABYTE_TIME_LIMIT_S = 2.0
PEAK_LIMIT_MIB = 16.0


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs": each level a list of `width` aliases of the level before it."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def many_aliases(count: int = MAX_ALIASES + 1) -> str:
    return "value: &value 1\n" + "".join(f"key{index}: *value\n" for index in range(count))


def deep_nesting(levels: int = 100_000) -> str:
    return "pipeline: " + "[" * levels + "]" * levels + "\n"


def shipped_with(old: str, new: str) -> str:
    """The shipped file with its first `old` replaced by `new`."""
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


def hostile_documents() -> dict[str, str]:
    """Every hostile case, by name: the text of its file."""
    numbers = ", ".join(str(index) for index in range(1000))
    return {
        "alias-bomb": alias_bomb(),
        "many-aliases": many_aliases(),
        "deep-nesting": deep_nesting(),
        "megabyte-value": shipped_with("repository: example-org/", "repository: " + "x" * MIB),
        "problems": shipped_with("approval_emails: []", f"approval_emails: [{numbers}]"),
    }


@dataclass
class CaseResult:
    name: str
    accepted: bool
    problems: int
    median_s: float
    peak_mib: float
    time_limit_s: float

    @property
    def missed(self) -> bool:
        return self.median_s > self.time_limit_s or self.peak_mib > PEAK_LIMIT_MIB

    @property
    def expected(self) -> bool:
        """The shipped file is accepted, every hostile one refused."""
        return self.accepted == (self.name == "shipped")


def _outcome(path: Path) -> tuple[bool, int]:
    try:
        load_config(path)
    except ConfigError as error:
        return False, len(error.problems)
    return True, 0


def measure(name: str, path: Path, runs: int) -> CaseResult:
    _outcome(path)  # imports and cfn-lint's data, once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        accepted, problems = _outcome(path)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    try:
        _outcome(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    limit = MEGABYTE_TIME_LIMIT_S if name == "megabyte-value" else TIME_LIMIT_S
    return CaseResult(name, accepted, problems, statistics.median(times), peak / MIB, limit)


def render(results: list[CaseResult]) -> str:
    header = f"{'case':<16} {'outcome':<12} {'problems':>8} {'median s':>9} {'limit s':>8} {'peak MiB':>9}  result"
    lines = [header, "-" * len(header)]
    for result in results:
        outcome = "accepted" if result.accepted else "refused"
        verdict = "MISS" if result.missed else "PASS" if result.expected else "WRONG"
        lines.append(
            f"{result.name:<16} {outcome:<12} {result.problems:>8} {result.median_s:>9.4f} "
            f"{result.time_limit_s:>8.2f} {result.peak_mib:>9.1f}  {verdict}"
        )
    lines.append(f"(peak limit {PEAK_LIMIT_MIB:.0f} MiB)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    results = [measure("shipped", DEFAULT_CONFIG_PATH, args.runs)]
    with tempfile.TemporaryDirectory(prefix="bench-config-") as directory:
        for name, text in hostile_documents().items():
            path = Path(directory) / f"{name}.yaml"
            path.write_text(text, encoding="utf-8")
            results.append(measure(name, path, args.runs))
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8")
    return 1 if any(r.missed or not r.expected for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
