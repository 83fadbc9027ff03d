"""`make destroy ENV=<name>`: a stage without protect_data is deleted whole; a protected one is refused."""

from __future__ import annotations

from typing import Any

import pytest

from config import AppConfig
from scripts.destroy import WORKLOAD_STACKS, RefusedError, command, main, stacks_to_destroy
from tests.conftest import LAYOUTS


def test_an_unprotected_stage_is_deleted_without_its_baseline_by_default(fixture_config: AppConfig) -> None:
    env = next(e for e in fixture_config.environments if not e.protect_data and e.account_baseline.services)
    paths = stacks_to_destroy(fixture_config, env.name, with_baseline=False, source="f.yaml")
    assert paths == [f"Pipeline/{env.stage_id}/{stack}" for stack in WORKLOAD_STACKS]
    assert all(not path.endswith("/Baseline") for path in paths)


@pytest.mark.parametrize("protected", [True, False])
def test_a_protected_stage_is_refused(fixture_config: AppConfig, protected: bool) -> None:
    env = next(e for e in fixture_config.environments if e.protect_data == protected)
    if protected:
        with pytest.raises(RefusedError, match=r"keeps its data .* torn down by hand"):
            stacks_to_destroy(fixture_config, env.name, with_baseline=False, source="f.yaml")
    else:
        assert stacks_to_destroy(fixture_config, env.name, with_baseline=False, source="f.yaml")


def test_a_baseline_its_account_shares_is_refused(fixture_config: AppConfig) -> None:
    # The fixture's dev runs the trail and recorder of an account that qa shares.
    env = next(
        e
        for e in fixture_config.environments
        if not e.protect_data
        and e.account_baseline.services
        and any(o.account == e.account and o is not e for o in fixture_config.environments)
    )
    with pytest.raises(RefusedError, match=f"Baseline stack serves its account {env.account}"):
        stacks_to_destroy(fixture_config, env.name, with_baseline=True, source="f.yaml")


def test_an_unknown_environment_is_named_with_the_closest(fixture_config: AppConfig) -> None:
    name = fixture_config.environments[0].name
    with pytest.raises(RefusedError, match=f"did you mean {name!r}"):
        stacks_to_destroy(fixture_config, name + "x", with_baseline=False, source="f.yaml")


def test_the_command_is_the_pinned_cli_on_the_same_configuration(
    fixture_config: AppConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    env = next(e for e in fixture_config.environments if not e.protect_data)
    assert main(["--config", str(LAYOUTS), "--env", env.name, "--dry-run"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == command(str(LAYOUTS), stacks_to_destroy(fixture_config, env.name, with_baseline=False, source=""))
    assert printed[1:5] == ["-c", f"config={LAYOUTS}", "destroy", "--force"]
    assert printed[0].endswith("cdk")


def test_a_refusal_is_one_line_and_exit_2(fixture_config: AppConfig, capsys: pytest.CaptureFixture[str]) -> None:
    env = next(e for e in fixture_config.environments if e.protect_data)
    assert main(["--config", str(LAYOUTS), "--env", env.name]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"destroy: {env.name} keeps its data")


def test_the_stacks_it_deletes_are_a_stages_stacks_but_its_baseline(
    fixture_config: AppConfig, stacks: dict[str, Any]
) -> None:
    # The fixture app's stages: what `make destroy` names must be what a stage has, so none is left behind.
    for env in fixture_config.environments:
        names = {path.rsplit("/", 1)[-1] for path in stacks if path.startswith(f"Pipeline/{env.stage_id}/")}
        assert names - {"Baseline"} == set(WORKLOAD_STACKS), env.name
