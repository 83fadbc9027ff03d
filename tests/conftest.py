"""Shared fixtures: the app of the fixture configuration is synthesized once per test session.

Tests build from configurations under `tests/fixtures/`, never from `config/environments.yaml`:
that file is the user's to edit, and `tests/test_shipped_config.py` proves whatever it names
is deployable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.jsii_environment import jsii_environment

# Before jsii starts (the first `import aws_cdk`): deprecated APIs fail, and Node.js comes from this venv.
os.environ.update(jsii_environment())

import aws_cdk as cdk
import pytest
import trustme
from aws_cdk.assertions import Template

from app import build_app
from compliance.assembly import CloudAssembly
from compliance.evaluation import evaluate
from compliance.model import ComplianceModel
from config import AppConfig, EnvironmentConfig, load_config
from pipeline import PipelineStack
from tests.servers import KinesisStub, PostgresServer, ValkeyServer

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

    @property
    def template(self) -> Template:
        return Template.from_json(self.template_json)


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
    )


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
