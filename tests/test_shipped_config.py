"""Every committed layout is deployable whatever it names, and so is a rewritten copy of it.

`config/environments.yaml` is the user's file and what the pipeline deploys: no test asserts its
values. Instead `make synth`'s own driver runs on it, and on a copy with everything a team is told
to edit changed (other accounts, other regions, other zones, e-mails, repository, branch and sizes),
exactly as a user runs it (tests/synth_runs.py): no AWS account, credentials or network. Both must
synthesize, pass the compliance gate (the committed compliance baseline included: such edits must
never trip it) and cfn-lint.

A team's file may put stages in other regions than the pipeline, in waves across regions, in shared
accounts or in GovCloud: the same check runs on the fixture and GovCloud layouts, each with the
baseline recorded from it, so the copy's rewrite keeps the layout (which environments share a region
or an account) whatever it is. The runs start before the first test and go one after the other in
the session's synth lane (tests/background.py) while the other tests run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance import signoff
from compliance.model import ComplianceModel
from compliance.oscal.validation import problems
from config import PROJECT_ROOT, aws_facts, load_config, parse_config
from tests.conftest import COMMITTED_LAYOUTS, FIXTURES, AppRun, ShippedRun
from tests.synth_runs import rewritten


def _report(assembly: Path) -> ComplianceModel:
    return ComplianceModel.from_json(json.loads((assembly / "compliance" / "findings.json").read_text()))


def _document(layout: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMMITTED_LAYOUTS[layout][0].read_text())
    return loaded


@pytest.mark.parametrize("name", ["shipped", "shipped/rewritten", "fixture/rewritten"])
def test_layout_synthesizes_and_passes_the_gate_and_cfn_lint(shipped_runs: dict[str, ShippedRun], name: str) -> None:
    run = shipped_runs[name]
    finished = run.finished.result()
    assert finished.returncode == 0, finished.output[-4000:]
    lint = "cfn-lint: not run (--no-lint)" if name == "fixture/rewritten" else "cfn-lint: pass"
    assert lint in finished.output
    assert (
        "Result: PASS (0 open findings, 0 compensating controls that do not hold, 0 acknowledgments due for review, "
        "0 baseline differences)" in finished.output
    )
    manifest = json.loads((run.assembly / "manifest.json").read_text())
    stages = {f"assembly-Pipeline-{env.stage_id}" for env in load_config(run.config).environments}
    assert stages <= set(manifest["artifacts"])
    # No context lookup was needed: the CLI would otherwise have to call AWS to fill it in.
    assert "missing" not in json.dumps(manifest)
    assert not (PROJECT_ROOT / "cdk.context.json").exists()


@pytest.mark.parametrize("name", ["shipped", "shipped/rewritten", "fixture/rewritten", "govcloud/rewritten"])
def test_every_oscal_document_of_a_layouts_synth_is_valid_and_as_compliance_trestle_writes_it(
    shipped_runs: dict[str, ShippedRun], govcloud_run: AppRun, name: str
) -> None:
    # The synth writes the OSCAL documents without trestle's models: here each kind is read with them.
    if name == "govcloud/rewritten":
        finished, assembly = govcloud_run.finished.result(), govcloud_run.assembly
    else:
        finished, assembly = shipped_runs[name].finished.result(), shipped_runs[name].assembly
    assert (assembly / "compliance" / "findings.json").is_file(), finished.output[-4000:]
    assert problems(assembly / "compliance") == []


def test_editing_what_a_team_edits_never_trips_the_committed_baseline(shipped_runs: dict[str, ShippedRun]) -> None:
    shipped, copy_ = (_report(shipped_runs[name].assembly) for name in ("shipped", "shipped/rewritten"))
    assert shipped.baseline_file == copy_.baseline_file == "compliance/baseline.json"
    assert copy_.baseline_differences == []
    # What the committed file does not record yet is the same whatever the configuration names.
    assert copy_.baseline_improvements == shipped.baseline_improvements


def test_the_fixture_layout_matches_its_recorded_baseline(compliance_model: ComplianceModel) -> None:
    # Stages in three regions, a wave across two of them, shared accounts: the fixture app of this
    # session, compared with the baseline recorded from the same file.
    recorded = json.loads(COMMITTED_LAYOUTS["fixture"][1].read_text())
    comparison = signoff.compare(recorded, signoff.snapshot(compliance_model))
    assert (comparison.regressions, comparison.improvements) == ([], [])


def test_the_fixture_layouts_copy_keeps_its_recorded_baseline(shipped_runs: dict[str, ShippedRun]) -> None:
    copy_ = _report(shipped_runs["fixture/rewritten"].assembly)
    assert copy_.baseline_file.endswith("layouts.baseline.json")
    assert (copy_.baseline_differences, copy_.baseline_improvements) == ([], [])


def test_the_govcloud_layouts_copy_keeps_its_recorded_baseline(govcloud_run: AppRun) -> None:
    # Both GovCloud regions are used, so the copy's regions trade places. The gate fails until GovCloud's
    # RDS CA bundle is committed (tests/pipeline/test_govcloud.py); the baseline holds regardless.
    finished = govcloud_run.finished.result()
    model = _report(govcloud_run.assembly)
    assert model.baseline_file.endswith("govcloud.baseline.json"), finished.output[-4000:]
    assert (model.baseline_differences, model.baseline_improvements) == ([], [])
    assert _topology(yaml.safe_load(govcloud_run.config.read_text())) == _topology(_document("govcloud"))


def _topology(document: dict[str, Any]) -> list[tuple[str, ...]]:
    """Which environments share a region or an account with each other or with the pipeline, and the partition."""
    pipeline, environments = document["pipeline"], document["environments"]
    places = [("pipeline", pipeline["region"], pipeline["account"])] + [
        (name, env["region"], env["account"]) for name, env in environments.items()
    ]
    shared = [(a[0], b[0], str(a[1] == b[1]), str(a[2] == b[2])) for i, a in enumerate(places) for b in places[i + 1 :]]
    return [*shared, (aws_facts.partition_of(pipeline["region"]),)]


@pytest.mark.parametrize("layout", sorted(COMMITTED_LAYOUTS))
def test_the_rewritten_copy_keeps_the_layout_and_differs_where_a_user_edits(layout: str) -> None:
    before = _document(layout)
    after = rewritten(before)
    shipped, copy_ = parse_config(before), parse_config(after)  # the copy is a valid configuration
    assert _topology(after) == _topology(before)
    assert {e.region for e in copy_.environments}.isdisjoint({e.region for e in shipped.environments}) or (
        # a partition with no region left over (GovCloud's two) trades its regions instead
        len({e.region for e in shipped.environments} | {shipped.pipeline.region})
        == len([r for r in aws_facts.availability_zones() if aws_facts.partition_of(r) == shipped.pipeline.partition])
    )
    assert {e.account for e in shipped.environments}.isdisjoint({e.account for e in copy_.environments})
    assert copy_.pipeline.region != shipped.pipeline.region
    assert (copy_.pipeline.branch, copy_.pipeline.repository) != (shipped.pipeline.branch, shipped.pipeline.repository)
    assert [e.name for e in copy_.environments] == [e.name for e in shipped.environments]
    for old, new in zip(shipped.environments, copy_.environments, strict=True):
        assert new.region != old.region
        assert set(new.availability_zones).isdisjoint(old.availability_zones)
        assert new.database.allocated_storage_gib != old.database.allocated_storage_gib
        assert new.service.desired_count != old.service.desired_count


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        # A build image and a package mirror move with the pipeline's region and account.
        (lambda d: d, lambda d: d["pipeline"]["build_image"].split(".")[3] == d["pipeline"]["region"]),
        # Sizes at their bounds stay within them.
        (
            lambda d: [env["service"].update(desired_count=100) for env in d["environments"].values()],
            lambda d: all(env["service"]["desired_count"] == 99 for env in d["environments"].values()),
        ),
        (
            lambda d: [
                env["database"].update(allocated_storage_gib=100, max_allocated_storage_gib=105)
                for env in d["environments"].values()
            ],
            lambda d: all(env["database"]["allocated_storage_gib"] == 101 for env in d["environments"].values()),
        ),
    ],
)
def test_the_rewrite_of_a_boundary_layout_stays_valid(
    edit: Callable[[dict[str, Any]], object], check: Callable[[dict[str, Any]], bool]
) -> None:
    document = yaml.safe_load((FIXTURES / "boundary.yaml").read_text())
    edit(document)
    parse_config(document)
    after = rewritten(document)
    parse_config(after)  # valid: the mirror's region offers CodeArtifact, the image is in the pipeline's region
    assert check(after)
    assert _topology(after) == _topology(document)


def test_the_rewrite_keeps_a_multi_region_team_layout() -> None:
    # A new team's file as the README suggests it: the pipeline in us-east-1, a sandbox in us-east-2,
    # a test stage beside the pipeline, and prod with its disaster-recovery region in one wave.
    document = _document("fixture")
    template = next(iter(document["environments"].values()))
    places = {
        "sandbox": ("us-east-2", "100000000011", None),
        "test": ("us-east-1", "100000000012", None),
        "prod": ("us-east-1", "100000000013", "production"),
        "prod-west": ("us-west-2", "100000000013", "production"),
    }
    environments = {}
    for index, (name, (region, account, wave)) in enumerate(places.items()):
        env = json.loads(json.dumps(template))
        env.update(account=account, region=region, vpc_cidr=f"10.{60 + index}.0.0/16")
        env["availability_zones"] = list(aws_facts.availability_zones()[region][:2])
        env.update({"approval": index > 0, "protect_data": index > 0} | ({"wave": wave} if wave else {}))
        if env["protect_data"]:
            env["log_retention_days"] = max(env["log_retention_days"], 1096)  # OMB M-21-31: 30 months
        env["load_balancer_tls"] = {
            "certificate_arn": f"arn:aws:acm:{region}:{account}:certificate/{index:08d}-0000-4000-8000-0000000ce47e",
            "domain_name": f"backend.{name}.team.example",
        }
        env["account_baseline"] = name != "prod-west"  # the account's singletons are prod's
        env["database"]["multi_az"] = index > 0
        env["cache"]["replicas"] = max(1, env["cache"]["replicas"])
        environments[name] = env
    document = {**document, "environments": environments}
    pipeline = {**document["pipeline"], "account": "100000000010", "region": "us-east-1"}
    pipeline["connection_arn"] = re.sub(r":[a-z0-9-]+:\d{12}:", ":us-east-1:100000000010:", pipeline["connection_arn"])
    document["pipeline"] = pipeline
    parse_config(document)
    after = rewritten(document)
    parse_config(after)
    assert _topology(after) == _topology(document)
    regions = {name: env["region"] for name, env in after["environments"].items()}
    assert regions["test"] == regions["prod"] == after["pipeline"]["region"] != regions["sandbox"]
    assert len({regions["sandbox"], regions["prod"], regions["prod-west"]}) == 3
