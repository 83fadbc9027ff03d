"""Shared fixtures: the default app is synthesized once per test session."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before jsii starts: deprecated APIs fail, and Node.js comes from this venv.
os.environ["JSII_DEPRECATED"] = "fail"
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

import aws_cdk as cdk
import pytest
import trustme
from aws_cdk.assertions import Template

from app import build_app
from compliance.evaluation import evaluate
from compliance.model import ComplianceModel
from config import DEFAULT_CONFIG_PATH, AppConfig, load_config
from pipeline import PipelineStack
from tests.servers import KinesisStub, PostgresServer, ValkeyServer


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
def default_config() -> AppConfig:
    return load_config(DEFAULT_CONFIG_PATH)


@pytest.fixture(scope="session")
def default_app(default_config: AppConfig, tmp_path_factory: pytest.TempPathFactory) -> cdk.App:
    """The default app, synthesized once for the whole session."""
    app: cdk.App = build_app(default_config, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    app.synth()
    return app


@pytest.fixture(scope="session")
def assembly_dir(default_app: cdk.App) -> Path:
    return Path(default_app.outdir)


@pytest.fixture(scope="session")
def stacks(assembly_dir: Path) -> dict[str, StackArtifact]:
    """Every stack of the assembly (nested stages included), keyed by construct path."""
    found: dict[str, StackArtifact] = {}
    for manifest_path in [assembly_dir / "manifest.json", *assembly_dir.glob("assembly-*/manifest.json")]:
        manifest = json.loads(manifest_path.read_text())
        for artifact in manifest["artifacts"].values():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            props = artifact["properties"]
            account, region = artifact["environment"].removeprefix("aws://").split("/")
            template = json.loads((manifest_path.parent / props["templateFile"]).read_text())
            found[artifact["displayName"]] = StackArtifact(
                path=artifact["displayName"],
                stack_name=props.get("stackName", artifact["displayName"]),
                account=account,
                region=region,
                termination_protection=bool(props.get("terminationProtection")),
                template_json=template,
            )
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
def compliance_model(default_app: cdk.App, assembly_dir: Path, default_config: AppConfig) -> ComplianceModel:
    """The default app's compliance evaluation, as every synth writes it (computed once)."""
    pipeline = default_app.node.find_child("Pipeline")
    assert isinstance(pipeline, PipelineStack)
    baselines = {s.node.id: s.baseline for s in pipeline.stages}
    return evaluate(
        default_app,
        assembly_dir,
        stages=[e.stage_id for e in default_config.environments],
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
