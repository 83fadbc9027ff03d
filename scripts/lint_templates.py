"""Lint every template of a cloud assembly with cfn-lint, in each stack's own region.

cfn-lint's exit code is a bit mask (2 errors, 4 warnings, 8 informational); both
errors and warnings fail the build. Ignored rules live in `.cfnlintrc.yaml` only.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY, CloudAssembly  # noqa: E402

FAILING = 1 | 2 | 4  # cfn-lint crashed, errors, warnings


def templates_by_region(assembly: Path) -> dict[str, list[Path]]:
    """Each stack template of the assembly (nested stages included), grouped by its region."""
    grouped: dict[str, list[Path]] = defaultdict(list)
    for stack in CloudAssembly(assembly).stacks:
        if stack.template_file is not None:
            grouped[stack.region].append(stack.template_file)
    return dict(grouped)


def lint(assembly: Path) -> tuple[bool, str]:
    """(passed, cfn-lint's report) for every template of `assembly`."""
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    passed, report = True, []
    for region, templates in sorted(templates_by_region(assembly).items()):
        result = subprocess.run(
            [str(cfn_lint), "--regions", region, "--", *map(str, templates)],
            cwd=ROOT,  # picks up .cfnlintrc.yaml
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode & FAILING:
            passed = False
            report.append(result.stdout + result.stderr)
    return passed, "\n".join(report)


def main() -> int:
    assembly = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / OUTPUT_DIRECTORY
    passed, report = lint(assembly)
    print(report or f"cfn-lint: every template in {assembly} passes")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
