"""Refuse a cloud assembly that could steer a privileged step of the pipeline (CM-5, SA-10, SR-4).

The Synth step runs the pushed commit's code, so everything in its output artifact, the cloud
assembly, is the commit's to write. The steps after it hold privileges the commit must not
borrow: self-mutation deploys with the pipeline account's deploy role, the security diffs read
every stage account, the asset projects publish into every stage account. Each of them reads
the assembly, and the CDK CLI and cdk-assets do more than read:

- the CLI runs a `build` command from a `cdk.json` in its working directory before it notices
  that `-a` names an assembly, and takes context from `cdk.context.json` there;
- it deploys whatever stacks `manifest.json` lists as dependencies of the named stack, from
  whatever file `templateFile` names, with whatever tags, parameters and roles the entry names;
- cdk-assets runs an asset's `executable` to build it, and reads a source path anywhere;
- an asset project's buildspec is a `buildspec-*.yaml` file of the assembly.

So the deployed pipeline runs this file (its text is embedded in the buildspecs, like the
definition check's) before any of those steps, and the steps run the CLI from an empty
directory with `--exclusively`. It admits only what CDK synthesis writes for this app: the
files it names, manifest entries whose every property is the one CDK writes for the entry's
own account and region (the bootstrap roles and buckets of the default qualifier), asset
sources inside the assembly that run nothing, and asset buildspecs that only run the pinned
cdk-assets on an asset manifest of the assembly. What it refuses, it names, and the step fails.

Standard library only; it runs on the build image's Python.

    python3 assembly_check.py ASSEMBLY [--stacks]

exits 0 when the assembly is admissible (printing, with --stacks, the pipeline-account stacks
to deploy, one per line), 4 when it is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

ADMITTED, REFUSED = 0, 4
QUALIFIER = "hnb659fds"  # the CDK's default bootstrap qualifier, the one this app's stacks use
# What the CLI reads from its working directory or an assembly and may run: never in an assembly.
PROJECT_FILES = frozenset({"cdk.json", "cdk.context.json"})
_HASH = r"[0-9a-f]{64}"
_ID = r"[A-Za-z][A-Za-z0-9-]*"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
_ACCOUNT = r"\d{12}"
# Top-level entries CDK synthesis, CDK Pipelines and the compliance gate write, and nothing else.
_TOP_LEVEL = tuple(
    re.compile(pattern)
    for pattern in (
        r"manifest\.json",
        r"tree\.json",
        r"cdk\.out",
        r"validation-report\.json",
        rf"{_ID}\.(?:template|assets|metadata)\.json",
        rf"{_ID}\.dot",
        rf"assembly-{_ID}",
        rf"asset\.{_HASH}(?:\.[a-z]+)?",
        r"buildspec-[0-9a-f]+-(?:File|Docker)Asset\d*\.yaml",
        r"compliance",
    )
)
_NESTED = tuple(re.compile(p) for p in (r"manifest\.json", r"cdk\.out", rf"{_ID}\.(?:template|assets|metadata)\.json"))
_STACK_PROPERTIES = frozenset(
    {
        "templateFile",
        "terminationProtection",
        "validateOnSynth",
        "assumeRoleArn",
        "cloudFormationExecutionRoleArn",
        "stackTemplateAssetObjectUrl",
        "requiresBootstrapStackVersion",
        "bootstrapStackVersionSsmParameter",
        "additionalDependencies",
        "lookupRole",
        "stackName",
    }
)
_ARTIFACT_TYPES = frozenset(
    {"aws:cloudformation:stack", "cdk:asset-manifest", "cdk:tree", "cdk:cloud-assembly", "cdk:feature-flag-report"}
)
# Metadata the CLI reads and does nothing with but report (`aws:cdk:error` stops a deployment, which is safe).
# Any other type, `aws:cdk:asset` (assets packaged from any path, passed as parameters) or
# `aws:cdk:stack-tags` (tags on every resource) among them, is refused.
_METADATA_TYPES = frozenset(
    {
        "aws:cdk:logicalId",
        "aws:cdk:creationStack",
        "aws:cdk:templateFile",
        "aws:cdk:acknowledged-rules",
        "aws:cdk:info",
        "aws:cdk:warning",
        "aws:cdk:error",
    }
)
_METADATA_PREFIXES = ("aws:cdk:analytics:", "aws:cdk:is-custom-resource-handler-")
_DOCKER_SOURCE = frozenset({"directory", "dockerFile", "dockerBuildArgs", "platform"})
_PUBLISH = re.compile(
    rf'cdk-assets --path "(assembly-{_ID}/{_ID}\.assets\.json)" --verbose publish '
    rf'"({_HASH}):({_ACCOUNT}-{_REGION}-[0-9a-f]{{8}})"'
)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique: parsers disagree on which of two equal keys counts."""
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"repeated keys {repeated}")
    return dict(pairs)


def _role(account: str, region: str, kind: str) -> str:
    return f"arn:${{AWS::Partition}}:iam::{account}:role/cdk-{QUALIFIER}-{kind}-role-{account}-{region}"


class Assembly:
    """One cloud assembly as the privileged steps would read it, with what it holds that they must not follow."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[str] = []
        self.top_level_stacks: list[str] = []
        self.regions: dict[str, str] = {}
        # What the CLI selects a stack by (`displayName`, else the artifact id), where each was seen: a pattern
        # (`deploy Pipeline`, `diff "Pipeline/Dev/*"`) must select exactly the stacks the checks mean.
        self.selected_as: dict[str, str] = {}
        # Each stage stack's template (path in the assembly) and the stack it deploys as.
        self.stage_stacks: dict[str, str] = {}

    def refuse(self, what: str) -> None:
        self.problems.append(what)

    def check(self) -> list[str]:
        if not (self.root / "manifest.json").is_file():
            self.refuse("manifest.json is missing: this is not a cloud assembly")
            return self.problems
        self._check_files()
        manifest = self._read_json(self.root / "manifest.json")
        if manifest is not None:
            self._check_manifest(manifest, self.root, display=None)
        self._check_buildspecs()
        self._check_deployments()
        return self.problems

    # --- files ------------------------------------------------------------------------------------

    def _check_files(self) -> None:
        for directory, subdirectories, files in os.walk(self.root, followlinks=False):
            here = Path(directory)
            for name in [*subdirectories, *files]:
                path = here / name
                relative = path.relative_to(self.root).as_posix()
                mode = path.lstat().st_mode
                if stat.S_ISLNK(mode):
                    self.refuse(f"{relative} is a symbolic link: a step would follow it out of the assembly")
                elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    self.refuse(f"{relative} is neither a file nor a directory")
                elif name in PROJECT_FILES:
                    self.refuse(f"{relative}: the CDK CLI runs and reads a {name} (its `build` command, its context)")
                elif here == self.root and not any(p.fullmatch(name) for p in _TOP_LEVEL):
                    self.refuse(f"{relative} is not a file CDK synthesis writes")
                elif (
                    here.parent == self.root
                    and here.name.startswith("assembly-")
                    and (not any(p.fullmatch(name) for p in _NESTED) or not stat.S_ISREG(mode))
                ):
                    self.refuse(f"{relative} is not a file CDK synthesis writes in a stage's assembly")

    def _read_json(self, path: Path) -> dict[str, Any] | None:
        relative = path.relative_to(self.root).as_posix()
        try:
            data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
        except (OSError, ValueError) as error:
            self.refuse(f"{relative} cannot be read: {error}")
            return None
        if not isinstance(data, dict):
            self.refuse(f"{relative} is not a JSON object")
            return None
        return data

    def _inside(self, base: Path, name: object, what: str) -> Path | None:
        """`name` resolved against `base`, if it is a relative path that stays inside the assembly."""
        if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name:
            self.refuse(f"{what} names {name!r}, not a relative path")
            return None
        path = Path(os.path.realpath(base / name))
        if path != self.root and self.root not in path.parents:
            self.refuse(f"{what} names {name!r}, outside the assembly")
            return None
        return path

    # --- manifests --------------------------------------------------------------------------------

    def _check_manifest(self, manifest: dict[str, Any], directory: Path, *, display: str | None) -> None:
        """`display` is the stage assembly's display name (`Pipeline/Dev`), None for the top level."""
        top_level = display is None
        where = directory.relative_to(self.root).as_posix()
        where = "manifest.json" if where == "." else f"{where}/manifest.json"
        artifacts = manifest.get("artifacts", {})
        unexpected = sorted(set(manifest) - {"version", "minimumCliVersion", "artifacts", "missing", "runtime"})
        if unexpected:
            self.refuse(f"{where} has keys CDK does not write: {unexpected}")
        if manifest.get("missing"):
            self.refuse(f"{where} lists missing context: synthesis here never looks anything up")
        for artifact_id, artifact in artifacts.items():
            label = f"{where}: artifact {artifact_id}"
            kind = artifact.get("type")
            if kind not in _ARTIFACT_TYPES:
                self.refuse(f"{label} is of type {kind!r}, which this app never synthesizes")
                continue
            for entry in artifact.get("metadata", {}).values():
                self._check_metadata(entry, label)
            if kind == "aws:cloudformation:stack":
                self._check_stack(artifact_id, artifact, artifacts, directory, label, display=display)
            elif kind == "cdk:asset-manifest":
                self._check_asset_manifest_entry(artifact_id, artifact, directory, label, top_level=top_level)
            elif kind == "cdk:cloud-assembly":
                self._check_nested(artifact_id, artifact, label, top_level=top_level)
            elif kind == "cdk:tree" and artifact.get("properties", {}).get("file") != "tree.json":
                self.refuse(f"{label} names a tree file other than tree.json")

    def _check_nested(self, artifact_id: str, artifact: dict[str, Any], label: str, *, top_level: bool) -> None:
        """A stage's assembly: a top-level directory of its own name (`assembly-<pipeline>-<stage>`, displayed as
        `<pipeline>/<stage>`), whose manifest is checked the same way."""
        props = artifact.get("properties", {})
        found = re.fullmatch(r"assembly-([A-Za-z][A-Za-z0-9]*)-([A-Za-z][A-Za-z0-9]*)", artifact_id)
        if not top_level or props.get("directoryName") != artifact_id or found is None:
            self.refuse(f"{label}: a stage's assembly must be a top-level directory of its own name")
        elif props.get("displayName") != "/".join(found.groups()):
            self.refuse(f"{label} is displayed as {props.get('displayName')!r}, not {'/'.join(found.groups())!r}")
        else:
            nested = self._read_json(self.root / artifact_id / "manifest.json")
            if nested is not None:
                self._check_manifest(nested, self.root / artifact_id, display=props["displayName"])

    def _check_metadata(self, entries: object, label: str) -> None:
        for entry in entries if isinstance(entries, list) else [entries]:
            kind = entry.get("type") if isinstance(entry, dict) else None
            if not (isinstance(kind, str) and (kind in _METADATA_TYPES or kind.startswith(_METADATA_PREFIXES))):
                self.refuse(f"{label} carries metadata of type {kind!r}, which the CLI would act on")

    def _check_stack(
        self,
        artifact_id: str,
        artifact: dict[str, Any],
        artifacts: dict[str, Any],
        directory: Path,
        label: str,
        *,
        display: str | None,
    ) -> None:
        environment = re.fullmatch(rf"aws://({_ACCOUNT})/({_REGION})", str(artifact.get("environment")))
        if environment is None:
            self.refuse(f"{label} has environment {artifact.get('environment')!r}, not an explicit account and region")
            return
        account, region = environment.groups()
        props = artifact.get("properties", {})
        self._check_stack_properties(artifact_id, props, account, region, label, top_level=display is None)
        self._check_selection(artifact_id, artifact, label, display=display)
        metadata_file = artifact.get("additionalMetadataFile", f"{artifact_id}.metadata.json")
        if metadata_file != f"{artifact_id}.metadata.json":
            self.refuse(f"{label} reads its metadata from {metadata_file!r}")
        elif (directory / metadata_file).is_file():
            for entries in (self._read_json(directory / metadata_file) or {}).values():
                self._check_metadata(entries, f"{label} ({metadata_file})")
        self._check_dependencies(artifact_id, artifact, artifacts, label)
        template = self._inside(directory, props.get("templateFile"), f"{label}'s templateFile")
        if template is None or not template.is_file():
            self.refuse(f"{label}: its template {props.get('templateFile')!r} does not exist")
        else:
            self._check_template_upload(artifact_id, props, template, directory, label, account, region)
        if display is not None:
            self.stage_stacks[template.relative_to(self.root).as_posix() if template else ""] = str(
                props.get("stackName")
            )
        else:
            pipeline_account = os.environ.get("PIPELINE_ACCOUNT")
            if pipeline_account and account != pipeline_account:
                self.refuse(
                    f"{label} is in account {account}: only the pipeline's account {pipeline_account} is deployed "
                    "by self-mutation"
                )
            if props.get("stackName", artifact_id) != artifact_id:
                self.refuse(f"{label} would deploy as {props.get('stackName')!r}, not as {artifact_id!r}")
            self.top_level_stacks.append(artifact_id)
            self.regions[artifact_id] = region

    def _check_dependencies(
        self, artifact_id: str, artifact: dict[str, Any], artifacts: dict[str, Any], label: str
    ) -> None:
        for dependency in artifact.get("dependencies", []):
            target = artifacts.get(dependency, {}).get("type")
            if target not in ("aws:cloudformation:stack", "cdk:asset-manifest"):
                self.refuse(f"{label} depends on {dependency!r}, which is no stack or asset manifest of its assembly")
            elif target == "cdk:asset-manifest" and dependency != f"{artifact_id}.assets":
                self.refuse(f"{label} depends on another stack's asset manifest, {dependency!r}")

    def _check_selection(self, artifact_id: str, artifact: dict[str, Any], label: str, *, display: str | None) -> None:
        """How the CLI selects the stack: a top-level stack by its id, a stage's stack as `<stage display>/<name>`,
        each by a name no other stack has."""
        shown = artifact.get("displayName", artifact_id)
        name = artifact.get("properties", {}).get("stackName")
        if display is None and shown != artifact_id:
            self.refuse(f"{label} is displayed as {shown!r}: a pipeline-account stack is selected by its id")
        if display is not None:
            if re.fullmatch(rf"{re.escape(display)}/{_ID}", str(shown)) is None:
                self.refuse(f"{label} is displayed as {shown!r}, not as a stack of {display}")
            if not isinstance(name, str) or re.fullmatch(_ID, name) is None:
                self.refuse(f"{label} deploys as {name!r}, not a stack name")
        if shown in self.selected_as:
            self.refuse(f"{label} is displayed as {shown!r}, like {self.selected_as[shown]}")
        self.selected_as[str(shown)] = label

    def _check_template_upload(
        self, artifact_id: str, props: dict[str, Any], template: Path, directory: Path, label: str, *where: str
    ) -> None:
        """The template the CLI uploads and deploys (`stackTemplateAssetObjectUrl`) is the file the checks read, in
        the bootstrap bucket of the stack's account and region (`where`)."""
        digest = hashlib.sha256(template.read_bytes()).hexdigest()
        url = props.get("stackTemplateAssetObjectUrl")
        expected = f"s3://cdk-{QUALIFIER}-assets-{'-'.join(where)}/{digest}.json"
        if url != expected:
            self.refuse(f"{label}: its template would be deployed from {url!r}, not from its own file ({expected})")
        assets = (
            self._read_json(directory / f"{artifact_id}.assets.json")
            if (directory / f"{artifact_id}.assets.json").is_file()
            else None
        )
        entry = (assets or {}).get("files", {}).get(digest, {})
        if entry.get("source", {}).get("path") != props.get("templateFile") or any(
            d.get("objectKey") != f"{digest}.json" for d in entry.get("destinations", {}).values()
        ):
            self.refuse(f"{label}: its asset manifest does not publish its template as {digest}.json")

    def _check_stack_properties(
        self, artifact_id: str, props: dict[str, Any], account: str, region: str, label: str, *, top_level: bool
    ) -> None:
        """Every property is the one CDK writes for a stack of this account and region, and no other is set."""
        unexpected = sorted(set(props) - _STACK_PROPERTIES)
        if unexpected:
            # tags, parameters, notificationArns...: none is in the template the definition check compares.
            self.refuse(f"{label} sets {', '.join(unexpected)}, which CDK does not write for this app's stacks")
        expected: dict[str, Any] = {
            "requiresBootstrapStackVersion": 6,
            "templateFile": f"{artifact_id}.template.json",
            "assumeRoleArn": _role(account, region, "deploy"),
            "cloudFormationExecutionRoleArn": _role(account, region, "cfn-exec"),
            "bootstrapStackVersionSsmParameter": f"/cdk-bootstrap/{QUALIFIER}/version",
            "additionalDependencies": [f"{artifact_id}.assets"],
        }
        if top_level:
            # The CLI applies these to the pipeline's own stacks; the app sets neither.
            expected |= {"terminationProtection": False, "validateOnSynth": False}
        for key, value in expected.items():
            if props.get(key) != value:
                self.refuse(f"{label}: {key} is {props.get(key)!r}, not {value!r}")
        for key in ("terminationProtection", "validateOnSynth"):
            if not isinstance(props.get(key, False), bool):
                self.refuse(f"{label}: {key} is {props.get(key)!r}, not true or false")
        lookup = props.get("lookupRole", {})
        expected_lookup = {
            "arn": _role(account, region, "lookup"),
            "requiresBootstrapStackVersion": 8,
            "bootstrapStackVersionSsmParameter": f"/cdk-bootstrap/{QUALIFIER}/version",
        }
        if lookup != expected_lookup:
            self.refuse(f"{label}: lookupRole is {lookup!r}, not the bootstrap lookup role of {account}/{region}")

    def _check_asset_manifest_entry(
        self, artifact_id: str, artifact: dict[str, Any], directory: Path, label: str, *, top_level: bool
    ) -> None:
        file = artifact.get("properties", {}).get("file")
        if file != f"{artifact_id}.json":
            self.refuse(f"{label} names the asset manifest {file!r}, not {artifact_id}.json")
            return
        path = self._inside(directory, file, label)
        manifest = self._read_json(path) if path is not None and path.is_file() else None
        if manifest is None:
            self.refuse(f"{label}: its asset manifest {file!r} cannot be read")
            return
        where = path.relative_to(self.root).as_posix() if path else file
        if top_level:
            self._only_the_template(artifact_id.removesuffix(".assets"), manifest, where)
        self._check_assets(manifest, directory, where)

    def _only_the_template(self, stack: str, manifest: dict[str, Any], where: str) -> None:
        """A pipeline-account stack publishes its own template and nothing else: no code of the commit's synth runs
        in the pipeline's account (its functions are inline in the template the definition check compares)."""
        for asset_id, asset in manifest.get("files", {}).items():
            if asset.get("source") != {"path": f"{stack}.template.json", "packaging": "file"}:
                self.refuse(
                    f"{where}: file asset {asset_id} is not {stack}'s template; the pipeline account runs no asset"
                )
        for asset_id in manifest.get("dockerImages", {}):
            self.refuse(f"{where}: image asset {asset_id}; the pipeline account runs no asset")

    def _check_assets(self, manifest: dict[str, Any], directory: Path, where: str) -> None:
        """Every asset's source stays in the assembly and runs nothing; every destination is a bootstrap one."""
        for kind, assets in (("file", manifest.get("files", {})), ("image", manifest.get("dockerImages", {}))):
            for asset_id, asset in assets.items():
                label = f"{where}: {kind} asset {asset_id}"
                source = asset.get("source", {})
                if "executable" in source:
                    self.refuse(f"{label} is built by running {source['executable']!r}")
                if kind == "file":
                    if set(source) - {"path", "packaging"} or source.get("packaging") not in ("file", "zip"):
                        self.refuse(f"{label} has a source CDK does not write for this app: {sorted(source)}")
                    self._inside(directory, source.get("path"), label)
                else:
                    if set(source) - _DOCKER_SOURCE:
                        self.refuse(f"{label} sets {sorted(set(source) - _DOCKER_SOURCE)} for its build")
                    self._inside(directory, source.get("directory"), label)
                for destination_id, destination in asset.get("destinations", {}).items():
                    self._check_destination(kind, asset_id, destination_id, destination, label)

    def _check_destination(
        self, kind: str, asset_id: str, destination_id: str, destination: dict[str, Any], label: str
    ) -> None:
        found = re.fullmatch(rf"({_ACCOUNT})-({_REGION})-[0-9a-f]{{8}}", destination_id)
        if found is None or destination.get("region") != found.group(2):
            self.refuse(f"{label}: destination {destination_id!r} names no account and region")
            return
        account, region = found.groups()
        if kind == "file":
            expected = {
                "bucketName": f"cdk-{QUALIFIER}-assets-{account}-{region}",
                "assumeRoleArn": _role(account, region, "file-publishing"),
            }
            key = str(destination.get("objectKey"))
            if not re.fullmatch(rf"{asset_id}\.(?:json|zip)", key):
                self.refuse(f"{label}: would be published as {key!r}, not under its own hash")
        else:
            expected = {
                "repositoryName": f"cdk-{QUALIFIER}-container-assets-{account}-{region}",
                "imageTag": asset_id,
                "assumeRoleArn": _role(account, region, "image-publishing"),
            }
        extra = set(destination) - {*expected, "region", "objectKey"}
        if extra:
            self.refuse(f"{label}: destination {destination_id} sets {sorted(extra)}")
        for key, value in expected.items():
            if destination.get(key) != value:
                self.refuse(f"{label}: destination {destination_id}'s {key} is {destination.get(key)!r}, not {value!r}")

    # --- what the pipeline deploys ------------------------------------------------------------------

    def _check_deployments(self) -> None:
        """The stage stacks the pipeline's CloudFormation actions deploy (template path, stack name), as the pipeline
        stack of this assembly names them, are exactly the stage stacks of the assembly: so the security diff, which
        selects a stage's stacks from the assembly, sees every stack that stage deploys, under its name."""
        deployed: dict[str, str] = {}
        for name in self.top_level_stacks:
            template = self._read_json(self.root / f"{name}.template.json") or {}
            for action in _pipeline_actions(template):
                configuration = action.get("Configuration", {})
                if action.get("ActionTypeId", {}).get("Provider") == "CloudFormation" and isinstance(
                    configuration.get("TemplatePath"), str
                ):
                    deployed[configuration["TemplatePath"].split("::", 1)[-1]] = str(configuration.get("StackName"))
        for path in sorted(deployed.keys() - self.stage_stacks.keys()):
            self.refuse(f"the pipeline deploys {path}, which no stage stack of the assembly names as its template")
        for path in sorted(self.stage_stacks.keys() - deployed.keys()):
            self.refuse(f"{path} is a stage stack's template that no action of the pipeline deploys")
        for path in sorted(deployed.keys() & self.stage_stacks.keys()):
            if deployed[path] != self.stage_stacks[path]:
                self.refuse(
                    f"{path} is deployed as {deployed[path]!r}, but its stack in the assembly is "
                    f"{self.stage_stacks[path]!r}"
                )

    # --- asset buildspecs -------------------------------------------------------------------------

    def _check_buildspecs(self) -> None:
        """An asset project's buildspec only installs cdk-assets and publishes an asset of a stage's manifest."""
        install = os.environ.get("ASSET_INSTALL_COMMANDS")
        for path in sorted(self.root.glob("buildspec-*.yaml")):
            name = path.name
            spec = self._read_json(path)  # CDK Pipelines writes these buildspecs as JSON, which YAML reads too
            if spec is None:
                continue
            phases = spec.get("phases", {})
            if set(spec) != {"version", "phases"} or set(phases) != {"install", "build"}:
                self.refuse(f"{name} has sections other than the install and build phases: {sorted(spec)}")
                continue
            if set(phases["install"]) != {"commands"} or set(phases["build"]) != {"commands"}:
                self.refuse(f"{name}: its phases set more than commands")
                continue
            commands = phases["install"]["commands"]
            if install is not None and commands != json.loads(install):
                self.refuse(f"{name} installs {commands!r}, not the pipeline's {json.loads(install)!r}")
            for command in phases["build"]["commands"]:
                published = _PUBLISH.fullmatch(str(command))
                if published is None:
                    self.refuse(f"{name} runs {command!r}, which is not cdk-assets publishing an asset")
                    continue
                manifest_path, asset_id, destination = published.groups()
                manifest = self._read_json(self.root / manifest_path) if (self.root / manifest_path).is_file() else None
                assets = {**(manifest or {}).get("files", {}), **(manifest or {}).get("dockerImages", {})}
                if destination not in assets.get(asset_id, {}).get("destinations", {}):
                    self.refuse(f"{name} publishes {asset_id}:{destination}, which {manifest_path} does not list")


def pipeline_stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stage of every CodePipeline pipeline of `template`, in order."""
    return [
        stage
        for resource in template.get("Resources", {}).values()
        if isinstance(resource, dict) and resource.get("Type") == "AWS::CodePipeline::Pipeline"
        for stage in resource.get("Properties", {}).get("Stages", [])
    ]


def _pipeline_actions(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every action of every CodePipeline pipeline of `template`."""
    return [action for stage in pipeline_stages(template) for action in stage.get("Actions", [])]


def check(root: Path) -> Assembly:
    """The assembly at `root`, checked: its `problems` (what is refused) and its pipeline-account stacks."""
    assembly = Assembly(root.resolve())
    assembly.check()
    return assembly


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: assembly_check.py ASSEMBLY [--stacks]", file=sys.stderr)
        return REFUSED
    try:
        assembly = check(Path(argv[0]))
    except (OSError, ValueError, TypeError, AttributeError) as error:
        # Fail closed, in one line: a manifest of another shape than the CDK's is not followed.
        print(f"The cloud assembly is refused: it cannot be read as one CDK writes: {error!r}", file=sys.stderr)
        return REFUSED
    problems, stacks = assembly.problems, assembly.top_level_stacks
    if problems:
        print(
            f"The cloud assembly is refused: it holds {len(problems)} thing(s) no privileged step may follow:",
            file=sys.stderr,
        )
        print("\n".join(f"  {line}" for line in problems), file=sys.stderr)
        return REFUSED
    if "--stacks" in argv[1:]:
        print("\n".join(stacks))
    else:
        print(f"The cloud assembly holds only what CDK synthesis writes ({len(stacks)} pipeline-account stacks).")
    return ADMITTED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
