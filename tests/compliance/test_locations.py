"""Where the reports say a resource comes from: its template line always, its source line where one line names it."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from compliance.assembly import CloudAssembly
from compliance.locations import resource_locations
from compliance.model import Place, ResourceLocation
from config import PROJECT_ROOT

HERE = Path(__file__).resolve().relative_to(PROJECT_ROOT).as_posix()


class _Base(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id, env=cdk.Environment(account="123456789012", region="us-west-2"))
        logs.LogGroup(self, "FromBase", retention=logs.RetentionDays.ONE_YEAR)


class _Store(_Base):
    def __init__(self, scope: Construct, construct_id: str, *, twice: bool) -> None:
        super().__init__(scope, construct_id)
        # A bucket that deletes its objects brings a provider the CDK creates at the stack's level.
        s3.Bucket(self, "Named", auto_delete_objects=True, removal_policy=cdk.RemovalPolicy.DESTROY)
        for name in ("Looped",):
            sqs.Queue(self, name)
        if twice:
            sqs.Queue(self, "Twice")
        else:
            sqs.Queue(self, "Twice", fifo=True)
        self._helper("Helped")
        sqs.Queue(scope=self, id="ByKeyword")

    def _helper(self, name: str) -> None:
        sqs.Queue(self, name)


@pytest.fixture(scope="module")
def small_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, CloudAssembly]:
    outdir = tmp_path_factory.mktemp("locations")
    app = cdk.App(outdir=str(outdir), context={"aws:cdk:enable-path-metadata": True})
    _Store(cdk.Stage(app, "Fixture"), "Store", twice=True)
    app.synth()
    return app, CloudAssembly(outdir)


def _span(root: Path, place: Place) -> str:
    line = (root / place.file).read_text(encoding="utf-8").splitlines()[place.line - 1]
    return line[place.column - 1 : place.end_column - 1]


def _by_child(locations: list[ResourceLocation]) -> dict[str, ResourceLocation]:
    return {location.path.split("/")[2]: location for location in locations}


def _line_of(text: str) -> int:
    """The line of this file that starts with `text` (a call unique to it)."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    (number,) = [n for n, line in enumerate(lines, start=1) if line.strip().startswith(text)]
    return number


def test_the_one_call_that_names_a_construct_is_its_source_line(small_app: tuple[cdk.App, CloudAssembly]) -> None:
    app, assembly = small_app
    located = _by_child(resource_locations(app, assembly, assembly.resources, root=PROJECT_ROOT))
    named = located["Named"].source
    assert named is not None
    assert (named.file, named.line) == (HERE, _line_of('s3.Bucket(self, "Named"'))
    assert _span(PROJECT_ROOT, named) == '"Named"'
    from_base = located["FromBase"].source
    assert from_base is not None
    assert from_base.line == _line_of('logs.LogGroup(self, "FromBase"')
    keyword = located["ByKeyword"].source
    assert keyword is not None
    assert _span(PROJECT_ROOT, keyword) == '"ByKeyword"'


def test_no_source_line_where_no_single_line_names_the_construct(small_app: tuple[cdk.App, CloudAssembly]) -> None:
    app, assembly = small_app
    located = _by_child(resource_locations(app, assembly, assembly.resources, root=PROJECT_ROOT))
    # An id made at run time, an id through a helper, an id two calls use, and what the CDK creates by itself.
    provider = next(child for child in located if child.startswith("Custom::S3AutoDeleteObjects"))
    for child in ("Looped", "Helped", "Twice", provider):
        assert located[child].source is None, child
        assert located[child].template.file.endswith(".template.json")


def test_every_resource_has_its_template_line(small_app: tuple[cdk.App, CloudAssembly]) -> None:
    _, assembly = small_app
    locations = resource_locations(None, assembly, assembly.resources, root=PROJECT_ROOT)
    assert [location.path for location in locations] == list(assembly.resources)
    assert all(location.source is None for location in locations), "without the app, no class to read"
    for location in locations:
        assert _span(assembly.directory, location.template) == f'"{location.logical_id}"'
        assert location.template.column > 1, "a resource's key is indented under Resources"


def test_a_path_the_assembly_does_not_hold_has_no_location(small_app: tuple[cdk.App, CloudAssembly]) -> None:
    app, assembly = small_app
    assert resource_locations(app, assembly, ["Fixture/Store", "Fixture/Absent/Resource"], root=PROJECT_ROOT) == []


def test_the_fixture_app_resources_are_located_in_the_stacks_that_compose_them(
    fixture_app: cdk.App, assembly_dir: Path
) -> None:
    assembly = CloudAssembly(assembly_dir)
    locations = resource_locations(fixture_app, assembly, assembly.resources, root=PROJECT_ROOT)
    assert len(locations) == len(assembly.resources)
    sourced = [location for location in locations if location.source is not None]
    print(f"{len(sourced)} of {len(locations)} resources located on a source line")
    for location in locations:
        assert _span(assembly_dir, location.template) == f'"{location.logical_id}"'
    stacks = {stack.path for stack in assembly.stacks}
    for location in sourced:
        assert location.source is not None
        stack = max((s for s in stacks if location.path.startswith(s + "/")), key=len)
        child = location.path.removeprefix(stack + "/").split("/")[0]
        assert _span(PROJECT_ROOT, location.source) == f'"{child}"', location.path
        assert location.source.file.split("/")[0] in {"stacks", "pipeline"}, location.path

    # An independent reading of the source: the one `(self, "Database"` of the data stack's module.
    data = (PROJECT_ROOT / "stacks" / "data.py").read_text(encoding="utf-8")
    (match,) = re.finditer(r'\(\s*self,\s*"Database",', data)
    line = data[: match.end()].count("\n") + 1
    database = [loc for loc in sourced if re.fullmatch(r"Pipeline/\w+/Data/Database/Resource", loc.path)]
    assert database
    assert {(loc.source.file, loc.source.line) for loc in database if loc.source} == {("stacks/data.py", line)}
    # Generated by the CDK, and made from an f-string: no source line.
    unsourced = {location.path for location in locations if location.source is None}
    assert any("/Custom::VpcRestrictDefaultSGCustomResourceProvider/" in path for path in unsourced)
    assert any(re.search(r"/Data/DatabaseLogs\w+/", path) for path in unsourced)
