"""The cloud assembly a synth writes (`cdk.out`), read as plain JSON: no CDK, no jsii.

The one reader of an assembly for everything that looks at it after synth: the compliance
evaluation and gate, Preflight, the synth summary, cfn-lint, the bootstrap policies and the
tests. It follows `manifest.json` into the nested assemblies CDK Pipelines writes for its
stages, and reads each stack's template (once), where it deploys and its manifest metadata;
every resource by its construct path; the app's construct tree (`tree.json`), in the order a
walk of the tree visits it; the buildspec files CDK Pipelines writes beside the templates; and
the CDK's validation report, one `PluginReport` per plugin, whatever the plugin.

It lives in `compliance/` because compliance is what reads an assembly: the package imports
neither the CDK nor cdk-nag until a pack is loaded, so scripts and tests use the reader without
starting jsii.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

OUTPUT_DIRECTORY = "cdk.out"  # where `make synth` and the CLI (cdk.json's "output") write the assembly
MANIFEST = "manifest.json"
VALIDATION_REPORT = "validation-report.json"
# The compliance reports of a synth, inside its assembly so the pipeline keeps them with the run's artifacts.
REPORT_DIRECTORY = "compliance"
_STACK = "aws:cloudformation:stack"
_NESTED_ASSEMBLY = "cdk:cloud-assembly"
_TREE = "cdk:tree"
# The construct metadata `Validations.acknowledge` writes ({finding id: reason}), and that of an element's logical id.
ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"
_LOGICAL_ID = "aws:cdk:logicalId"
# The class the tree names for a resource written as a plain CfnResource (a library's custom-resource provider).
PLAIN_RESOURCE_FQN = "aws-cdk-lib.CfnResource"


@dataclass(frozen=True)
class StackView:
    """One stack of the assembly: where it deploys, which stage it belongs to, its template."""

    path: str  # construct path, e.g. "Pipeline/Dev/Data"
    stack_name: str
    region: str
    stage: str  # the nested stage's name ("Dev"), or "" for a stack directly under the app
    template: dict[str, Any]
    account: str = ""  # "" where unknown (templates read without a manifest)
    termination_protection: bool = False
    template_file: Path | None = None  # None for a template given as a dictionary
    artifact_id: str = ""

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template.get("Resources", {})
        return resources

    def view(self, logical_id: str) -> ResourceView | None:
        """The resource `logical_id` of this stack (None for a parameter or an unknown id)."""
        entry = self.resources.get(logical_id)
        if not isinstance(entry, dict) or "Type" not in entry:
            return None
        path = entry.get("Metadata", {}).get("aws:cdk:path") or f"{self.path}/{logical_id}"
        return ResourceView(path, logical_id, entry["Type"], entry.get("Properties", {}) or {}, self)

    def resource_views(self) -> Iterator[ResourceView]:
        """Every resource of the stack, at its path metadata or at `<stack path>/<logical id>`."""
        for logical_id in self.resources:
            view = self.view(logical_id)
            if view is not None:
                yield view


@dataclass(frozen=True)
class ResourceView:
    """One resource as synthesized: its construct path, logical id, type and resolved properties."""

    path: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    stack: StackView

    @property
    def has_path_metadata(self) -> bool:
        return bool(self.stack.resources.get(self.logical_id, {}).get("Metadata", {}).get("aws:cdk:path"))

    @property
    def deletion_policy(self) -> str:
        """The resource's DeletionPolicy as synthesized; CloudFormation's default is Delete."""
        entry = self.stack.resources.get(self.logical_id, {})
        return str(entry.get("DeletionPolicy", "Delete"))


@dataclass(frozen=True)
class ConstructNode:
    """One construct of the app as the assembly's tree records it: its path, and the class it was made from."""

    path: str  # "" for the app itself
    fqn: str  # its jsii class, or its nearest jsii base's: "aws-cdk-lib.aws_s3.CfnBucket", "constructs.Construct"

    @property
    def plain_resource(self) -> bool:
        """Whether it is a resource written as a plain CfnResource, of no L1 class of its type."""
        return self.fqn == PLAIN_RESOURCE_FQN


@dataclass(frozen=True)
class Violation:
    """One rule that one construct breaks, as a validation plugin reported it."""

    rule: str
    description: str
    severity: str
    construct_path: str  # "" where the plugin named no construct
    logical_id: str = ""  # "" where the plugin named no resource

    @property
    def where(self) -> str:
        """The construct path, else the resource's logical id, else "?"."""
        return self.construct_path or self.logical_id or "?"


@dataclass(frozen=True)
class PluginReport:
    """One validation plugin's part of the CDK's validation report: its open and its acknowledged findings."""

    plugin: str
    violations: tuple[Violation, ...]
    suppressed: tuple[Violation, ...]  # acknowledged through the CDK (`suppressedViolations`)
    error: str = ""  # why the plugin failed, where it did


class CloudAssembly:
    """A synthesized cloud assembly and its nested stage assemblies, each file read at most once."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    @staticmethod
    def of(assembly: str | Path | CloudAssembly) -> CloudAssembly:
        """`assembly` itself if it is already read, else the reader of that directory."""
        return assembly if isinstance(assembly, CloudAssembly) else CloudAssembly(assembly)

    def __repr__(self) -> str:
        return f"CloudAssembly({str(self.directory)!r})"

    @property
    def manifest_file(self) -> Path:
        return self.directory / MANIFEST

    def exists(self) -> bool:
        """Whether a synth wrote an assembly here (its manifest)."""
        return self.manifest_file.exists()

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """The top-level manifest as written ({} where there is none)."""
        return _read_json(self.manifest_file) if self.exists() else {}

    @cached_property
    def stacks(self) -> tuple[StackView, ...]:
        """Every stack, nested stages included, in manifest order (a pipeline's stages before its own stack)."""
        return tuple(self._stacks(self.manifest, self.directory, stage=""))

    def _stacks(self, manifest: dict[str, Any], directory: Path, *, stage: str) -> Iterator[StackView]:
        for artifact_id, artifact in manifest.get("artifacts", {}).items():
            properties = artifact.get("properties", {})
            if artifact.get("type") == _NESTED_ASSEMBLY:
                nested = directory / properties["directoryName"]
                if (nested / MANIFEST).exists():
                    # The nested assembly's display name is the stage's construct path; its last part is the stage.
                    name = str(properties.get("displayName", artifact_id)).split("/")[-1]
                    yield from self._stacks(_read_json(nested / MANIFEST), nested, stage=name)
            elif artifact.get("type") == _STACK:
                template_file = directory / properties["templateFile"]
                account, _, region = str(artifact.get("environment", "")).removeprefix("aws://").partition("/")
                yield StackView(
                    path=str(artifact.get("displayName", artifact_id)),
                    stack_name=str(properties.get("stackName", artifact_id)),
                    region=region,
                    stage=stage,
                    template=_read_json(template_file),
                    account=account,
                    termination_protection=properties.get("terminationProtection") is True,
                    template_file=template_file,
                    artifact_id=artifact_id,
                )

    def stack(self, path: str) -> StackView:
        """The stack whose construct path is `path` ("Pipeline", "Pipeline/Prod/Data")."""
        for stack in self.stacks:
            if stack.path == path:
                return stack
        raise KeyError(f"{self.directory} has no stack {path}")

    def stages(self) -> dict[str, list[StackView]]:
        """The stacks by stage: those directly under the app first (stage ""), then each stage's in promotion order.

        The manifest lists a pipeline's nested assemblies in the order its stages were added.
        """
        grouped: dict[str, list[StackView]] = {"": []}
        for stack in self.stacks:
            grouped.setdefault(stack.stage, []).append(stack)
        return grouped

    @cached_property
    def resources(self) -> dict[str, ResourceView]:
        """Every resource that carries path metadata, by its construct path (a `CfnResource`'s `node.path`)."""
        return {r.path: r for s in self.stacks for r in s.resource_views() if r.has_path_metadata}

    def metadata(self) -> Iterator[tuple[str, str, Any]]:
        """(construct path, type, data) of every metadata entry of every stack: warnings, errors, template files."""
        yield from self._metadata(self.manifest, self.directory)

    @cached_property
    def _construct_metadata(self) -> tuple[tuple[str, str, Any], ...]:
        """(construct path without its leading "/", type, data) of every metadata entry, read once."""
        return tuple((path.removeprefix("/"), kind, data) for path, kind, data in self.metadata())

    @cached_property
    def acknowledged_ids(self) -> dict[str, tuple[str, ...]]:
        """Per construct path, the ids acknowledged on that construct (`Validations.acknowledge`), as written.

        A stack's manifest records the metadata of every construct in the stack and in the stages inside it
        (a pipeline's), not of the app or of a construct between the app and its stacks.
        """
        found: dict[str, list[str]] = {}
        for path, kind, data in self._construct_metadata:
            if kind == ACKNOWLEDGED_RULES and isinstance(data, dict):
                found.setdefault(path, []).extend(str(key) for key in data)
        return {path: tuple(ids) for path, ids in found.items()}

    @cached_property
    def logical_ids(self) -> dict[str, str]:
        """The logical id of every CloudFormation element (resource, parameter, output...) by its construct path."""
        return {path: str(data) for path, kind, data in self._construct_metadata if kind == _LOGICAL_ID}

    def outside_stacks(self) -> list[str]:
        """The paths of the constructs above the stacks that no stack's manifest covers: the app ("") and, say, a
        stage directly under it (a stage inside a pipeline's stack is the stack's)."""
        stacks = [stack.path for stack in self.stacks]
        above = {"/".join(parts[:n]) for parts in (s.split("/") for s in stacks) for n in range(len(parts))}
        return sorted(p for p in above if not any(p == s or p.startswith(s + "/") for s in stacks))

    @cached_property
    def constructs(self) -> tuple[ConstructNode, ...] | None:
        """Every construct of the app, in the order a walk of its tree visits them; None where no tree was written.

        The CDK writes the tree (`tree.json`, with subtrees in `trees-<n>.json` past 500,000 constructs) with
        each construct's children in the order of its `node.children`: depth first, each construct before its
        children, is the order in which cdk-nag's packs walk the tree and find their findings.
        """
        artifact = next((a for a in self.manifest.get("artifacts", {}).values() if a.get("type") == _TREE), None)
        tree_file = self.directory / str((artifact or {}).get("properties", {}).get("file", ""))
        if artifact is None or not tree_file.is_file():
            return None
        forests: dict[str, dict[str, Any]] = {}
        found: list[ConstructNode] = []
        pending: list[dict[str, Any]] = [_read_json(tree_file)["tree"]]
        while pending:
            node = pending.pop()
            if "fileName" in node:  # a subtree the CDK wrote to a file of its own
                name = str(node["fileName"])
                if name not in forests:
                    forests[name] = _read_json(self.directory / name)["forest"]
                node = forests[name][str(node["treeId"])]
            found.append(ConstructNode(str(node.get("path", "")), str(node.get("constructInfo", {}).get("fqn", ""))))
            pending.extend(reversed(list((node.get("children") or {}).values())))
        return tuple(found)

    def _metadata(self, manifest: dict[str, Any], directory: Path) -> Iterator[tuple[str, str, Any]]:
        for artifact in manifest.get("artifacts", {}).values():
            if artifact.get("type") == _NESTED_ASSEMBLY:
                nested = directory / artifact["properties"]["directoryName"]
                if (nested / MANIFEST).exists():
                    yield from self._metadata(_read_json(nested / MANIFEST), nested)
                continue
            entries: dict[str, Any] = dict(artifact.get("metadata", {}))
            if "additionalMetadataFile" in artifact:
                entries.update(_read_json(directory / artifact["additionalMetadataFile"]))
            for path, items in entries.items():
                for item in items:
                    yield path, str(item.get("type", "")), item.get("data")

    def buildspec_files(self) -> list[Path]:
        """The buildspec files CDK Pipelines writes beside the templates (its asset-publishing projects' commands)."""
        root = self.directory
        return sorted({*root.glob("buildspec-*.y*ml"), *root.glob("*/buildspec-*.y*ml")})

    @property
    def report_directory(self) -> Path:
        """Where the synth wrote the compliance reports (`compliance.report`, `compliance.evidence`)."""
        return self.directory / REPORT_DIRECTORY

    @property
    def validation_report_file(self) -> Path:
        return self.directory / VALIDATION_REPORT

    @cached_property
    def plugin_reports(self) -> tuple[PluginReport, ...] | None:
        """Each validation plugin's findings from the CDK's report; None where no validation ran.

        A plugin with nothing to report (no open, no acknowledged finding, no failure) is left out by the CDK.
        Both the report's current form and its legacy form (`summary`, `violatingResources`) are read.
        """
        if not self.validation_report_file.exists():
            return None
        report = _read_json(self.validation_report_file)
        return tuple(_plugin_report(plugin) for plugin in report.get("pluginReports", []))

    def plugin_report(self, plugin: str) -> PluginReport | None:
        """The report of the plugin named `plugin`; None where it reported nothing or no validation ran."""
        return next((p for p in self.plugin_reports or () if p.plugin == plugin), None)


def _read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _plugin_report(plugin: dict[str, Any]) -> PluginReport:
    summary = plugin.get("summary", {})
    metadata = summary.get("metadata") or plugin.get("metadata") or {}
    return PluginReport(
        plugin=str(summary.get("pluginName") or plugin.get("pluginName") or "?"),
        violations=_violations(plugin.get("violations")),
        suppressed=_violations(plugin.get("suppressedViolations")),
        error=str(metadata.get("error") or ""),
    )


def _violations(items: list[dict[str, Any]] | None) -> tuple[Violation, ...]:
    """One `Violation` per rule and construct (the legacy form lists `violatingResources`, the current one
    `violatingConstructs`)."""
    found: list[Violation] = []
    for violation in items or []:
        for resource in violation.get("violatingResources", violation.get("violatingConstructs", [])):
            cfn = resource.get("cloudFormationResource") or {}
            found.append(
                Violation(
                    rule=str(violation.get("ruleName", "?")),
                    description=str(violation.get("description", "")),
                    severity=str(violation.get("severity", "error")),
                    construct_path=str(resource.get("constructPath") or ""),
                    logical_id=str(resource.get("resourceLogicalId") or cfn.get("logicalId") or ""),
                )
            )
    return tuple(found)
