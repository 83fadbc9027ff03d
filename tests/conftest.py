"""Shared fixtures: the app of the fixture configuration is synthesized once per test session.

Tests build from configurations under `tests/fixtures/`, never from `config/environments.yaml`:
that file is the user's to edit, and `tests/test_shipped_config.py` proves whatever it names
is deployable.

The slow work outside the test process (the GovCloud app, `make synth` on the shipped configuration
and on its rewritten copy, cfn-lint over each assembly) starts before the first test and is awaited
by the last ones: see `BACKGROUND` and tests/background.py.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from config.jsii_environment import jsii_environment

# Before jsii starts (the first `import aws_cdk`): deprecated APIs fail, and Node.js comes from this venv.
os.environ.update(jsii_environment())

import aws_cdk as cdk
import pytest
import trustme
import yaml
from aws_cdk.assertions import Template

from app import build_app
from compliance import signoff
from compliance.assembly import CloudAssembly
from compliance.evaluation import evaluate
from compliance.model import ComplianceModel
from config import DEFAULT_CONFIG_PATH, PROJECT_ROOT, AppConfig, EnvironmentConfig, load_config
from pipeline import PipelineStack
from tests.background import Finished, Lanes
from tests.servers import KinesisStub, PostgresServer, ValkeyServer
from tests.synth_runs import RUN_DATE, hermetic_env, rewritten, synth_command

FIXTURES = Path(__file__).parent / "fixtures"
# Five environments: dev, qa (no approval), staging, and prod with prod-dr in one wave, in three regions.
LAYOUTS = FIXTURES / "layouts.yaml"
# Read at collection, to parametrize tests by stage; the session fixtures load the same file.
STAGES = tuple(env.stage_id for env in load_config(LAYOUTS).environments)


def env_of(stage: str) -> EnvironmentConfig:
    """The fixture environment whose stage id is `stage` ('ProdDr' -> prod-dr)."""
    return next(env for env in load_config(LAYOUTS).environments if env.stage_id == stage)


@dataclass(frozen=True)
class StackArtifact:
    """One synthesized stack: where it deploys and its template."""

    path: str  # construct path, e.g. "Pipeline/Prod/Data"
    stack_name: str
    account: str
    region: str
    termination_protection: bool
    template_json: dict[str, Any]

    @cached_property
    def template(self) -> Template:
        """The template for `aws_cdk.assertions` (made once: it crosses into jsii whole)."""
        return Template.from_json(self.template_json)


# --- work outside the test process (tests/background.py) -----------------------------------------

# Fixtures whose value is work running outside the test process. Before the first test, the session
# starts each one the selected tests use, in this order; the tests that await one run last.
BACKGROUND = ("govcloud_run", "govcloud_lint", "shipped_runs", "fixture_lint")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that await background work run last (a stable sort: each part keeps its order)."""
    items.sort(key=lambda item: any(name in getattr(item, "fixturenames", ()) for name in BACKGROUND))


@pytest.fixture(scope="session")
def lanes() -> Iterator[Lanes]:
    opened = Lanes.open()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session", autouse=True)
def _background_work_starts_first(request: pytest.FixtureRequest) -> None:
    used = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    for name in BACKGROUND:
        if name in used:
            request.getfixturevalue(name)


def lint_command(assembly: Path) -> list[str]:
    """`make synth`'s cfn-lint step over every template of `assembly`, each in its stack's region."""
    return [sys.executable, str(PROJECT_ROOT / "scripts" / "lint_templates.py"), str(assembly)]


# --- the fixture app --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fixture_config() -> AppConfig:
    return load_config(LAYOUTS)


@pytest.fixture(scope="session")
def fixture_app(fixture_config: AppConfig, tmp_path_factory: pytest.TempPathFactory) -> cdk.App:
    """The fixture app, synthesized once for the whole session."""
    app: cdk.App = build_app(fixture_config, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    app.synth()
    return app


@pytest.fixture(scope="session")
def assembly_dir(fixture_app: cdk.App) -> Path:
    return Path(fixture_app.outdir)


@pytest.fixture(scope="session")
def stacks(assembly_dir: Path) -> dict[str, StackArtifact]:
    """Every stack of the assembly (nested stages included), keyed by construct path."""
    found = {
        stack.path: StackArtifact(
            path=stack.path,
            stack_name=stack.stack_name,
            account=stack.account,
            region=stack.region,
            termination_protection=stack.termination_protection,
            template_json=stack.template,
        )
        for stack in CloudAssembly(assembly_dir).stacks
    }
    return found


@pytest.fixture(scope="session")
def stack(stacks: dict[str, StackArtifact]) -> Callable[[str, str], StackArtifact]:
    """`stack("Prod", "Data")` -> the Prod stage's data stack; `stack("", "Pipeline")` -> the pipeline."""

    def lookup(stage: str, name: str) -> StackArtifact:
        return stacks["/".join(p for p in ("Pipeline", stage, name) if p)] if stage else stacks["Pipeline"]

    return lookup


@pytest.fixture(scope="session")
def fixture_lint(assembly_dir: Path, lanes: Lanes) -> Future[Finished]:
    """cfn-lint over the fixture app's assembly, in the lint lane."""
    return lanes.lints.run(lint_command(assembly_dir), cwd=PROJECT_ROOT)


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


@pytest.fixture(scope="session")
def compliance_model(fixture_app: cdk.App, assembly_dir: Path, fixture_config: AppConfig) -> ComplianceModel:
    """The fixture app's compliance evaluation, as every synth writes it (computed once)."""
    pipeline = fixture_app.node.find_child("Pipeline")
    assert isinstance(pipeline, PipelineStack)
    baselines = {s.node.id: s.baseline for s in pipeline.stages}
    return evaluate(
        fixture_app,
        assembly_dir,
        stages=[e.stage_id for e in fixture_config.environments],
        runtime_services={stage: set(b.deployed) for stage, b in baselines.items() if b is not None},
        inherited={e.stage_id: e.account_baseline.inherited for e in fixture_config.environments},
    )


@pytest.fixture(scope="session")
def approved_model(compliance_model: ComplianceModel) -> ComplianceModel:
    """The fixture app's evaluation as it reads once a baseline recorded from it approves its acknowledgments."""
    approved = copy.deepcopy(compliance_model)
    signoff.approve(approved, signoff.snapshot(approved), today=RUN_DATE)
    return approved


# --- the GovCloud app -------------------------------------------------------------------------------

GOVCLOUD = FIXTURES / "govcloud.yaml"

# Each layout a team may commit, with the compliance baseline recorded from it (`make baseline CONFIG=<file>
# BASELINE=<baseline>`): the shipped file (whatever it names), the fixture (stages outside the pipeline's
# region, a wave across regions, shared accounts) and GovCloud (both of its regions).
COMMITTED_LAYOUTS = {
    "shipped": (DEFAULT_CONFIG_PATH, PROJECT_ROOT / "compliance" / "baseline.json"),
    "fixture": (LAYOUTS, FIXTURES / "layouts.baseline.json"),
    "govcloud": (GOVCLOUD, FIXTURES / "govcloud.baseline.json"),
}


@dataclass(frozen=True)
class AppRun:
    """app.py on a configuration in a subprocess: the file, where it wrote the assembly, how it finished."""

    config: Path
    assembly: Path
    finished: Future[Finished]


@pytest.fixture(scope="session")
def govcloud_run(lanes: Lanes, tmp_path_factory: pytest.TempPathFactory) -> AppRun:
    """The app of the GovCloud layout, synthesized and evaluated by app.py, in the synth lane.

    It is built from the rewritten copy of tests/fixtures/govcloud.yaml (tests/synth_runs.py: other
    accounts, and the two GovCloud regions trade places) and compared with the baseline recorded from
    the layout itself: one run proves the app in GovCloud and that the copy keeps the recorded baseline.
    """
    root = tmp_path_factory.mktemp("govcloud")
    config = root / "govcloud-rewritten.yaml"
    config.write_text(yaml.safe_dump(rewritten(yaml.safe_load(GOVCLOUD.read_text())), sort_keys=False))
    env = {
        **os.environ,
        "CDK_OUTDIR": str(root / "cdk.out"),
        "MONITORING_CONFIG": str(config),
        "MONITORING_BASELINE": str(COMMITTED_LAYOUTS["govcloud"][1]),
        "MONITORING_TODAY": RUN_DATE.isoformat(),
    }
    env.pop("CDK_CONTEXT_JSON", None)
    finished = lanes.synths.run([sys.executable, str(PROJECT_ROOT / "app.py")], cwd=PROJECT_ROOT, env=env)
    return AppRun(config=config, assembly=root / "cdk.out", finished=finished)


@pytest.fixture(scope="session")
def govcloud_assembly(govcloud_run: AppRun) -> Path:
    finished = govcloud_run.finished.result()
    assert (govcloud_run.assembly / "manifest.json").is_file(), finished.output[-4000:]
    return govcloud_run.assembly


@pytest.fixture(scope="session")
def govcloud_model(govcloud_assembly: Path) -> ComplianceModel:
    """The GovCloud app's compliance evaluation, as app.py wrote it (its Control Tower acknowledgments included)."""
    return ComplianceModel.from_json(json.loads((govcloud_assembly / "compliance" / "findings.json").read_text()))


@pytest.fixture(scope="session")
def govcloud_lint(govcloud_run: AppRun, lanes: Lanes) -> Future[Finished]:
    """cfn-lint over the GovCloud assembly, in the lint lane once the synth lane has written it."""
    return lanes.lints.run(lint_command(govcloud_run.assembly), cwd=PROJECT_ROOT, after=govcloud_run.finished)


# --- make synth on committed layouts and on their rewritten copies (tests/test_shipped_config.py) ----


@dataclass(frozen=True)
class ShippedRun:
    """`make synth`'s driver on one configuration: the file, its baseline, where it writes, how it finished."""

    config: Path
    baseline: Path
    assembly: Path
    finished: Future[Finished]


@pytest.fixture(scope="session")
def shipped_runs(lanes: Lanes, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ShippedRun]:
    """The driver on the shipped configuration and on the rewritten copies of it and of the fixture, in the synth lane.

    Each is compared with the layout's recorded baseline, as `make synth` compares every run. The
    fixture layout itself is synthesized by the session already (`fixture_app`) and linted
    (`fixture_lint`): its copy skips cfn-lint; the shipped file's copy does not. GovCloud's copy is
    `govcloud_run`.
    """
    root = tmp_path_factory.mktemp("shipped")
    (root / "home").mkdir()
    configs: dict[str, tuple[Path, Path, tuple[str, ...]]] = {
        "shipped": (DEFAULT_CONFIG_PATH, COMMITTED_LAYOUTS["shipped"][1], ())
    }
    for layout, (config, baseline) in COMMITTED_LAYOUTS.items():
        if layout == "govcloud":
            continue  # govcloud_run is its copy
        copy_path = root / f"{layout}-rewritten.yaml"
        copy_path.write_text(yaml.safe_dump(rewritten(yaml.safe_load(config.read_text())), sort_keys=False))
        configs[f"{layout}/rewritten"] = (copy_path, baseline, () if layout == "shipped" else ("--no-lint",))
    runs = {}
    for name, (config, baseline, extra) in configs.items():
        assembly = root / f"{name.replace('/', '-')}.out"
        command = synth_command(config, assembly, "--baseline", str(baseline), *extra)
        finished = lanes.synths.run(command, cwd=PROJECT_ROOT, env=hermetic_env(root / "home"))
        runs[name] = ShippedRun(config=config, baseline=baseline, assembly=assembly, finished=finished)
    return runs


# --- real servers for the service's readiness tests (see tests/servers.py) ---------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def valkey_server() -> Iterator[ValkeyServer]:
    server = ValkeyServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kinesis_stub() -> Iterator[KinesisStub]:
    stub = KinesisStub()
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    """The CA the clients under test trust (standing in for the RDS CA bundle and the system store)."""
    return trustme.CA()


@pytest.fixture(scope="session")
def untrusted_ca() -> trustme.CA:
    """A CA no client trusts: a server presenting its certificate cannot be verified."""
    return trustme.CA()
