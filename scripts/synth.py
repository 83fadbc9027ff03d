"""`make synth`: validate the configuration, synthesize, lint every template, summarise the assembly.

`app.py` synthesizes, writes the compliance reports and gates on open findings;
this script then runs cfn-lint over every template and prints what a person wants
to see at the end: which stages and stacks were synthesized, how many resources
each stage has, the findings per rule pack, and where the assembly and reports
are. It exits non-zero if the app or cfn-lint does. Before the summary, each phase (the configuration,
the app's constructs, its synth with the packs' validation, its reports, cfn-lint, the assembly rules)
prints a line with its seconds as it ends (`scripts/progress.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY, CloudAssembly  # noqa: E402
from compliance.gate import Finding, baseline_failures, claim_failures, counts, findings, review_failures  # noqa: E402
from compliance.model import ComplianceModel, Status  # noqa: E402
from compliance.outputs.findings_json import read_model  # noqa: E402
from compliance.outputs.securityhub_rules import DOCUMENT_FILE  # noqa: E402
from compliance.packs import PACKS  # noqa: E402
from config import ConfigError, load_config  # noqa: E402
from config.jsii_environment import jsii_environment  # noqa: E402
from scripts.lint_templates import lint, templates_by_region  # noqa: E402
from scripts.progress import ENVIRONMENT as PROGRESS_ENVIRONMENT  # noqa: E402
from scripts.progress import Progress  # noqa: E402

# The app must not reach for the instance metadata service (jsii's own settings: config/jsii_environment.py).
HERMETIC_ENV = {"AWS_EC2_METADATA_DISABLED": "true"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=str(ROOT / "config" / "environments.yaml"))
    parser.add_argument("--output", default=str(ROOT / OUTPUT_DIRECTORY))
    parser.add_argument("--baseline", help="the compliance baseline to compare with (default compliance/baseline.json)")
    parser.add_argument("--write-baseline", action="store_true", help="record this run as the compliance baseline")
    parser.add_argument(
        "--no-lint",
        action="store_true",
        help="skip cfn-lint (the test suite's copies of layouts whose own assemblies it lints already)",
    )
    args = parser.parse_args(argv)

    output = Path(args.output)
    # Never leave an earlier run's assembly behind to be mistaken for this run's result; but a folder that
    # holds anything else is not ours to delete.
    if output.exists() and not CloudAssembly(output).exists() and any(output.iterdir()):
        print(f"synth: {output} is not an assembly and not empty; give --output a folder of its own", file=sys.stderr)
        return 2
    shutil.rmtree(output, ignore_errors=True)
    progress = Progress()
    # Fail fast, before jsii starts.
    try:
        with progress.phase("config", "checking the configuration") as phase:
            config = load_config(args.config)
            phase.result = f"{args.config}: the pipeline and {len(config.environments)} environment(s)"
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2

    status = _run_app(args, output)
    lint_passed: bool | None = None
    # Why cfn-lint did not run, if it did not: the app's status says whether the synth or the gate failed.
    lint_state = "not run (--no-lint)" if args.no_lint else {1: "not run (the gate failed)"}.get(status)
    assembly_problems = 0
    if status == 0:
        if not args.no_lint:
            lint_passed = _lint(output, progress)
        with progress.phase("assembly", "running Preflight's assembly rules") as phase:
            problems = _assembly_rules(output)
            phase.result = f"Preflight's assembly rules: {len(problems)} problem(s)"
        for problem in problems:
            print(problem, file=sys.stderr)
        assembly_problems = len(problems)
        status = 1 if assembly_problems else 0
    if status != 0 and not CloudAssembly(output).exists():
        # The app failed before writing an assembly: leave nothing that looks like one.
        shutil.rmtree(output, ignore_errors=True)
        return status
    if output.is_dir():
        print(summary(output, lint_passed=lint_passed, lint_state=lint_state, assembly_problems=assembly_problems))
    return status or (1 if lint_passed is False else 0)


def _run_app(args: argparse.Namespace, output: Path) -> int:
    """Run the app, which synthesizes, gates and writes the reports, showing its phases; its exit status."""
    # The app itself writes the assembly, exactly as the CLI would have it run (app.py applies cdk.json's
    # context); run through the CLI, the CDK leaves CloudFormation's own template checks to the CLI,
    # and their acknowledged findings would be missing from the compliance report.
    env = jsii_environment(
        {
            **os.environ,
            **HERMETIC_ENV,
            "CDK_OUTDIR": str(output),
            "MONITORING_CONFIG": str(args.config),
            PROGRESS_ENVIRONMENT: "1",
        }
    )
    env.pop("CDK_CONTEXT_JSON", None)
    if args.baseline:
        env["MONITORING_BASELINE"] = str(Path(args.baseline).resolve())
    if args.write_baseline:
        env["MONITORING_WRITE_BASELINE"] = "1"
    return subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, check=False).returncode


def _lint(output: Path, progress: Progress) -> bool:
    """cfn-lint over every template, its verdict recorded in the evidence; whether it passed."""
    templates = sum(len(paths) for paths in templates_by_region(output).values())
    with progress.phase("cfn-lint", f"linting {templates} templates") as phase:
        passed, report = lint(output)
        record_lint(output, passed=passed)
        phase.result = f"{templates} templates: {'pass' if passed else 'FAIL'}"
    if not passed:
        print(report, file=sys.stderr)
    return passed


def _assembly_rules(assembly: Path) -> list[str]:
    """Preflight's assembly rules (what no resource shows, e.g. the asset buildspecs): the problems they find."""
    from compliance.preflight import ASSEMBLY_RULES

    return [f"Preflight-{rule.rule_id}: {line}" for rule in ASSEMBLY_RULES for line in rule.check(assembly)]


def record_lint(assembly: Path, *, passed: bool) -> None:
    """Put cfn-lint's verdict into the run's evidence: re-render the reports and the manifest from findings.json."""
    from compliance.evidence import write_evidence

    directory = CloudAssembly(assembly).report_directory
    model = read_model(directory)
    if model is not None:
        model.cfn_lint = "pass" if passed else "fail"
        write_evidence(model, directory, oscal=False)  # the OSCAL documents do not change


def summary(
    assembly: Path, *, lint_passed: bool | None = None, lint_state: str | None = None, assembly_problems: int = 0
) -> str:
    """A short account of the assembly: stages, stacks, resources, findings per pack."""
    lines = ["", "Cloud assembly summary", "======================"]
    reader = CloudAssembly(assembly)
    for stage, stacks in reader.stages().items():
        resources = sum(len(s.resources) for s in stacks)
        names = ", ".join(sorted(s.path.split("/")[-1] for s in stacks))
        lines.append(f"{stage or 'Pipeline':<10} {len(stacks)} stack(s), {resources:>4} resources: {names}")
    model = read_model(reader.report_directory)
    failed_claims, baseline, drifted = _from_report(model)
    open_findings = findings(reader)
    acknowledged = _acknowledged_per_pack(model)
    lines.append("")
    lines.append("Findings per pack (open / acknowledged):")
    registered = (pack.name for pack in PACKS if pack.registered)
    packs = sorted({*registered, *(_pack(f.rule) for f in open_findings), *acknowledged})
    for pack in packs:
        open_count = sum(1 for f in open_findings if _pack(f.rule) == pack)
        lines.append(f"  {pack:<25} {open_count:>4} open  {acknowledged.get(pack, 0):>4} acknowledged")
    if failed_claims:
        lines.append(f"  compensating controls that do not hold: {len(failed_claims)}")
    lines.append(f"Compliance baseline: {baseline}")
    lines.append(f"Security Hub automation rules: {_automation_rules(reader)}")
    lines.append("")
    state = {True: "pass (errors and warnings)", False: "FAIL", None: lint_state or "not run (synth failed)"}
    lines.append(f"cfn-lint: {state[lint_passed]}")
    lines.append(f"Assembly: {assembly}")
    lines.append(f"Validation report: {reader.validation_report_file}")
    lines.append(
        f"Compliance reports: {reader.report_directory} (report.md, report.html, controls.csv, findings.json, "
        "SARIF, JUnit, "
        "OSCAL, manifest.json)"
    )
    recorded = baseline_failures(model) + review_failures(model) if model is not None else []
    gate = open_findings + failed_claims + recorded
    failed = bool(gate) or lint_passed is False or drifted or assembly_problems > 0
    also = ", cfn-lint FAIL" if lint_passed is False else ""
    also += f", {assembly_problems} Preflight assembly finding(s)" if assembly_problems else ""
    lines.append("Result: " + ("FAIL" if failed else "PASS") + f" ({counts(gate)}{also})")
    return "\n".join(lines)


def _from_report(model: ComplianceModel | None) -> tuple[list[Finding], str, bool]:
    """From the synth's report: compensating checks that do not hold, the baseline comparison, whether it drifted."""
    if model is None:
        return [], "not compared", False
    if not model.baseline_file:
        state = "not compared"
    elif model.baseline_differences:
        state = f"{len(model.baseline_differences)} change(s) from {model.baseline_file} (see the report)"
    else:
        state = f"as committed ({model.baseline_file})"
    return claim_failures(model), state, bool(model.baseline_differences)


def _automation_rules(assembly: CloudAssembly) -> str:
    """How many Security Hub automation rules carry this run's acknowledgments, per region."""
    document = assembly.report_directory / DOCUMENT_FILE
    if not document.exists():
        return "not written"
    data = json.loads(document.read_text(encoding="utf-8"))
    regions = ", ".join(f"{region} {entry['count']}" for region, entry in data["regions"].items())
    over = f"; OVER THE QUOTA in {', '.join(data['over_quota'])}" if data["over_quota"] else ""
    return f"{data['count']} ({regions or 'none'}; at most 100 per region){over} (make securityhub-rules)"


def _acknowledged_per_pack(model: ComplianceModel | None) -> Counter[str]:
    """Acknowledged findings per pack, from the compliance report the synth wrote."""
    evaluations = model.evaluations if model is not None else []
    return Counter(_pack(e.rule) for e in evaluations if e.status is Status.ACKNOWLEDGED)


def _pack(rule_id: str) -> str:
    """The pack of a rule id: 'NIST.800.53.R5-X', 'AwsSolutions-IAM5[...]', 'CloudFormation-Validate::W3010'."""
    rule = rule_id.split("[")[0]
    if "::" in rule:
        return rule.split("::")[0]
    return rule.rsplit("-", 1)[0]


if __name__ == "__main__":
    sys.exit(main())
