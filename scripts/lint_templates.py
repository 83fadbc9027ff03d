"""Lint every template of a cloud assembly with cfn-lint, in each stack's own region.

cfn-lint's exit code is a bit mask (2 errors, 4 warnings, 8 informational); both
errors and warnings fail the build. Ignored rules live in `.cfnlintrc.yaml` only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY, CloudAssembly  # noqa: E402

FAILING = 1 | 2 | 4  # cfn-lint crashed, errors, warnings
# cfn-lint takes about 150 MiB a process: no more than this many at once, whatever the machine lets us use.
MAX_JOBS = 4


def templates_by_region(assembly: Path) -> dict[str, list[Path]]:
    """Each stack template of the assembly (nested stages included), grouped by its region."""
    grouped: dict[str, list[Path]] = defaultdict(list)
    for stack in CloudAssembly(assembly).stacks:
        if stack.template_file is not None:
            grouped[stack.region].append(stack.template_file)
    return dict(grouped)


def lint(assembly: Path, *, jobs: int | None = None) -> tuple[bool, str]:
    """(passed, cfn-lint's report) for every template of `assembly`, in `jobs` processes (default: one per core
    this process may use, at most `MAX_JOBS`).

    cfn-lint checks one template after another on one core; the templates of a region are split
    into that many batches of about the same size, so the lint takes about the time of the largest.
    """
    jobs = max(1, jobs or min(_usable_cores(), MAX_JOBS))
    batches = [
        (region, batch)
        for region, templates in sorted(templates_by_region(assembly).items())
        for batch in _batches(templates, jobs)
    ]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda item: _cfn_lint(*item), batches))
    failed = [result.stdout + result.stderr for result in results if result.returncode & FAILING]
    return not failed, "\n".join(failed)


def _usable_cores() -> int:
    """The cores this process may run on (on Linux, a container's CPU set), else the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _cfn_lint(region: str, templates: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--regions", region, "--", *map(str, templates)],
        cwd=ROOT,  # picks up .cfnlintrc.yaml
        capture_output=True,
        text=True,
        check=False,
    )


def _batches(templates: list[Path], count: int) -> list[list[Path]]:
    """`templates` in at most `count` batches of about the same total size, largest first."""
    batches: list[list[Path]] = [[] for _ in range(min(count, len(templates)))]
    sizes = [0] * len(batches)
    for template in sorted(templates, key=lambda t: t.stat().st_size, reverse=True):
        smallest = sizes.index(min(sizes))
        batches[smallest].append(template)
        sizes[smallest] += template.stat().st_size
    return batches


def main() -> int:
    assembly = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / OUTPUT_DIRECTORY
    passed, report = lint(assembly)
    print(report or f"cfn-lint: every template in {assembly} passes")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
