#!/usr/bin/env python3
"""Entry point: validate the configuration, build the pipeline and its stages, synthesize, gate.

`make synth` and `npx cdk synth [-c config=path]` run this file. Exit codes:
0 synthesized with no open findings; 1 compliance findings (the assembly and its
validation report are kept for inspection); 2 bad configuration or a construct
error (nothing is written).
"""

from __future__ import annotations

import gc
import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from config import PROJECT_ROOT, AppConfig, ConfigError, load_config, permissions_boundary
from config.jsii_environment import jsii_environment
from scripts.progress import Progress

# Before the first `import aws_cdk` (in `build_app`): a deprecated CDK API fails the synth, and jsii runs on
# this venv's Node.js, whether make, the CDK CLI or a test runs the app.
os.environ.update(jsii_environment())

IMAGE_DIRECTORY = PROJECT_ROOT / "service"


def cdk_context() -> dict[str, Any]:
    """The feature flags of cdk.json, applied the same way whether or not the CLI runs the app."""
    context: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return context


def cdk_assets_version() -> str:
    """The cdk-assets version package.json pins for the pipeline's asset-publishing steps (never `latest`)."""
    package = json.loads((PROJECT_ROOT / "package.json").read_text(encoding="utf-8"))
    version: str = package["pipelineTools"]["cdk-assets"]
    return version


def cli_version() -> str:
    """The CDK CLI version package.json pins, so the pipeline's self-mutation uses the same one."""
    package = json.loads((PROJECT_ROOT / "package.json").read_text(encoding="utf-8"))
    version: str = package["devDependencies"]["aws-cdk"]
    return version


def build_app(
    config: AppConfig,
    *,
    outdir: str | None = None,
    context: dict[str, Any] | None = None,
    validate: bool = True,
) -> Any:
    """The whole app: the pipeline stack, its stages, and the compliance packs over all of it.

    Every IAM role of every stack carries the account's permissions boundary (AC-6, AC-6(10), CM-5).
    `validate=False` leaves the packs out; only the benchmark uses it, to show what compliance costs.
    """
    import aws_cdk as cdk

    from compliance import register_packs
    from compliance.packs import CONTEXT as COMPLIANCE_CONTEXT
    from pipeline import PipelineStack

    # Path metadata as the CLI writes it: templates are the same whether or not the CLI runs the app,
    # and cfn-lint recognises them as CDK output. The permissions boundary goes on every role of every
    # stack (AC-6(10)): a template cannot give a role more than the boundary allows.
    defaults = {"aws:cdk:enable-path-metadata": True, **permissions_boundary.cdk_context()}
    app = cdk.App(outdir=outdir, context={**defaults, **cdk_context(), **COMPLIANCE_CONTEXT, **(context or {})})
    PipelineStack(
        app,
        "Pipeline",
        env=cdk.Environment(account=config.pipeline.account, region=config.pipeline.region),
        config=config.pipeline,
        environments=config.environments,
        waves=config.waves,
        cli_version=cli_version(),
        cdk_assets_version=cdk_assets_version(),
        image_directory=IMAGE_DIRECTORY,
    )
    if validate:
        register_packs(
            app,
            external_prerequisites={env.stage_id: env.external_prerequisites for env in config.environments},
            disabled_controls=config.control_tower.disabled_controls,
        )
    return app


def _config_path() -> Path:
    # The CLI passes `-c config=path` to the app in CDK_CONTEXT_JSON; `make synth CONFIG=...` does the same.
    context = json.loads(os.environ.get("CDK_CONTEXT_JSON", "{}") or "{}")
    return Path(
        context.get("config") or os.environ.get("MONITORING_CONFIG") or PROJECT_ROOT / "config" / "environments.yaml"
    )


def _remove_stale_assembly() -> None:
    """Remove an earlier run's assembly from the output directory, so it is not taken for this run's result."""
    outdir = os.environ.get("CDK_OUTDIR")
    from compliance.assembly import CloudAssembly

    if outdir and CloudAssembly(outdir).exists():
        import shutil

        shutil.rmtree(outdir, ignore_errors=True)


def _plugin_lines(progress: Progress, app: Any) -> None:
    """The synth's validation plugins, each kind on a line of its own: they run inside the synth, which times them."""
    from compliance.plugin_time import CONTROL_TOWER, PACKS, spent

    seconds = spent(app)
    if PACKS in seconds:
        progress.finished(PACKS, seconds[PACKS], "within the synth: NIST 800-53 R5, AWS Solutions and Preflight")
    if CONTROL_TOWER in seconds:
        progress.finished(CONTROL_TOWER, seconds[CONTROL_TOWER], "within the synth: the proactive controls, cfn-guard")


def main() -> int:
    try:
        config = load_config(_config_path())
    except ConfigError as error:
        print(error, file=sys.stderr)
        _remove_stale_assembly()
        return 2
    progress = Progress.for_app()
    try:
        with progress.phase("constructs", "building the pipeline and its stages") as phase:
            app = build_app(config)
            phase.result = f"the pipeline and {len(config.environments)} stage(s) built"
        # The constructs live until the process ends: the synth's full collections need not walk them again.
        gc.freeze()
        # The CDK runs the packs and Control Tower's controls as validation plugins within its synth.
        with progress.phase("synth", "writing the templates, validating them with the packs") as phase:
            assembly = app.synth()
            phase.result = f"{len(assembly.stacks_recursively)} templates, validated by {_packs()}"
        _plugin_lines(progress, app)
    except Exception as error:  # a construct refused its input: say what, not where in jsii
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"synth failed: {message}", file=sys.stderr)
        return 2

    from compliance import format_findings
    from compliance.assembly import CloudAssembly
    from compliance.identity import run_identity, system_description

    # The app, its constructs and the jsii objects behind them live until the process ends: the collector need not
    # walk them again at each full collection the reports' many new objects set off (half a second at 12 stages).
    gc.freeze()
    with progress.phase("reports", "evaluating the findings, writing the compliance reports") as phase:
        baselines = {stage.node.id: stage.baseline for stage in app.node.find_child("Pipeline").stages}
        identity = run_identity(
            project=PROJECT_ROOT,
            config_file=_config_path(),
            pipeline=(config.pipeline.account, config.pipeline.region),
            stages={env.stage_id: (env.account, env.region) for env in config.environments},
            system=system_description(config.system),
        )
        open_findings = report_and_gate(
            app,
            Path(assembly.directory),
            stages=[env.stage_id for env in config.environments],
            external_prerequisites={env.stage_id: frozenset(env.external_prerequisites) for env in config.environments},
            disabled_controls=config.control_tower.disabled_controls,
            runtime_services={stage: set(b.deployed) for stage, b in baselines.items() if b is not None},
            runtime_skipped={stage: set(b.skipped) for stage, b in baselines.items() if b is not None},
            inherited={env.stage_id: env.account_baseline.inherited for env in config.environments},
            run=identity,
            baseline=_baseline_path(),
            write_baseline=bool(os.environ.get("MONITORING_WRITE_BASELINE")),
        )
        reports = _shown(CloudAssembly(assembly.directory).report_directory)
        phase.result = f"{len(open_findings)} open finding(s); reports in {reports}"
    if open_findings:
        print(format_findings(open_findings), file=sys.stderr)
        return 1
    return 0


def report_and_gate(
    app: Any,
    assembly_dir: Path,
    *,
    stages: list[str],
    external_prerequisites: dict[str, frozenset[str]],
    disabled_controls: tuple[str, ...] = (),
    runtime_services: dict[str, set[str]] | None = None,
    runtime_skipped: dict[str, set[str]] | None = None,
    inherited: dict[str, dict[str, str]] | None = None,
    run: Any = None,
    baseline: Path | None = None,
    write_baseline: bool = False,
    today: date | None = None,
) -> list[Any]:
    """Write the compliance reports of a synthesized app, then return its open findings.

    Open findings are the packs' unacknowledged findings, every check of an acknowledgment's
    compensating control that does not hold, every acknowledgment past its review date on `today`
    (the run's date, `run_date()` when None), and every regression from the compliance baseline at
    `baseline` (none compared when it is None; `write_baseline` records this run there instead).
    The baseline also approves the deviations it records. The reports are written whether or not the
    gate passes: a failed run is evidence too.
    """
    from compliance import findings, signoff
    from compliance.assembly import CloudAssembly
    from compliance.evaluation import evaluate
    from compliance.evidence import write_evidence
    from compliance.gate import baseline_failures, claim_failures, review_failures, synth_errors
    from compliance.identity import baseline_approval
    from compliance.locations import resource_locations

    reader = CloudAssembly(assembly_dir)  # read once, for the evaluation and the resources' locations
    model = evaluate(
        app,
        reader,
        stages=stages,
        external_prerequisites=external_prerequisites,
        disabled_controls=disabled_controls,
        runtime_services=runtime_services,
        runtime_skipped=runtime_skipped,
        inherited=inherited,
        run=run,
    )
    model.locations = resource_locations(app, reader, (e.path for e in model.evaluations), root=PROJECT_ROOT)
    today = today or run_date()
    if baseline is not None:
        shown = _shown(baseline)
        if write_baseline:
            signoff.write(model, baseline)
            print(f"{shown}: compliance baseline recorded from this run; review and commit it", file=sys.stderr)
        signoff.apply(model, baseline, shown_as=shown, today=today)
        model.approval = baseline_approval(PROJECT_ROOT, baseline, shown_as=shown)
    else:
        signoff.approve(model, None, today=today)
    signoff.review(model, today=today)
    open_findings = findings(assembly_dir)
    # The reports' verdict is the gate's: what fails it outside the packs is in the evidence too.
    model.synth_errors = synth_errors(open_findings)
    write_evidence(model, reader.report_directory)
    return open_findings + claim_failures(model) + review_failures(model) + baseline_failures(model)


def run_date() -> date:
    """The date the gate judges review dates on: `MONITORING_TODAY` (an ISO date) where set, else today in UTC.

    The variable lets a test, or a re-run of an old commit, judge on a date of its choosing.
    """
    fixed = os.environ.get("MONITORING_TODAY", "").strip()
    return date.fromisoformat(fixed) if fixed else datetime.now(UTC).date()


def _packs() -> str:
    """The packs the CDK's synth runs, by name, for the synth phase's line."""
    from compliance.packs import PACKS

    return ", ".join(pack.name for pack in PACKS)


def _baseline_path() -> Path:
    """The committed compliance baseline, or the one `MONITORING_BASELINE` names (for another configuration)."""
    return Path(os.environ.get("MONITORING_BASELINE") or PROJECT_ROOT / "compliance" / "baseline.json")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
