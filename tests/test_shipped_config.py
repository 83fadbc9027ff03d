"""The committed configuration is deployable whatever it names, and so is a rewritten copy of it.

`config/environments.yaml` is the user's file and what the pipeline deploys: no test asserts its
values. Instead `make synth`'s own driver runs on it, and on a copy with everything a team is told
to edit changed (other accounts, one other region for everything, other zones, e-mails, repository,
branch and sizes), exactly as a user runs it (tests/synth_runs.py): no AWS account, credentials or
network. Both must synthesize, pass the compliance gate (the committed compliance baseline
included: such edits must never trip it) and cfn-lint. The two runs start before the first test
and go one after the other in the session's synth lane (tests/background.py) while the other
tests run.
"""

from __future__ import annotations

import json

import pytest

from compliance.model import ComplianceModel
from config import PROJECT_ROOT, load_config
from tests.conftest import ShippedRun


def _report(run: ShippedRun) -> ComplianceModel:
    return ComplianceModel.from_json(json.loads((run.assembly / "compliance" / "findings.json").read_text()))


@pytest.mark.parametrize("name", ["shipped", "rewritten"])
def test_configuration_synthesizes_and_passes_the_gate_and_cfn_lint(
    shipped_runs: dict[str, ShippedRun], name: str
) -> None:
    run = shipped_runs[name]
    finished = run.finished.result()
    assert finished.returncode == 0, finished.output[-4000:]
    assert "cfn-lint: pass" in finished.output
    assert "Result: PASS (0 open findings)" in finished.output
    manifest = json.loads((run.assembly / "manifest.json").read_text())
    stages = {f"assembly-Pipeline-{env.stage_id}" for env in load_config(run.config).environments}
    assert stages <= set(manifest["artifacts"])
    # No context lookup was needed: the CLI would otherwise have to call AWS to fill it in.
    assert "missing" not in json.dumps(manifest)
    assert not (PROJECT_ROOT / "cdk.context.json").exists()


def test_editing_what_a_team_edits_never_trips_the_committed_baseline(shipped_runs: dict[str, ShippedRun]) -> None:
    shipped, copy_ = (_report(shipped_runs[name]) for name in ("shipped", "rewritten"))
    assert shipped.baseline_file == copy_.baseline_file == "compliance/baseline.json"
    assert copy_.baseline_differences == []
    # What the committed file does not record yet is the same whatever the configuration names.
    assert copy_.baseline_improvements == shipped.baseline_improvements


def test_the_rewritten_copy_differs_where_a_user_edits(shipped_runs: dict[str, ShippedRun]) -> None:
    shipped, copy_ = (load_config(shipped_runs[name].config) for name in ("shipped", "rewritten"))
    assert {e.account for e in shipped.environments}.isdisjoint({e.account for e in copy_.environments})
    assert len({e.region for e in copy_.environments} | {copy_.pipeline.region}) == 1
    assert copy_.pipeline.region != shipped.pipeline.region
    assert (copy_.pipeline.branch, copy_.pipeline.repository) != (shipped.pipeline.branch, shipped.pipeline.repository)
    assert [e.name for e in copy_.environments] == [e.name for e in shipped.environments]
    for before, after in zip(shipped.environments, copy_.environments, strict=True):
        assert set(after.availability_zones).isdisjoint(before.availability_zones)
        assert after.database.allocated_storage_gib > before.database.allocated_storage_gib
        assert after.service.desired_count > before.service.desired_count
