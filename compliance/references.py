"""The synthesized templates of an assembly, indexed for rules that read one resource and follow its references.

Preflight rules run after synth, so every resource already exists as resolved
CloudFormation in the assembly. Reading that JSON once, instead of resolving each
construct's properties through the jsii bridge, is what keeps the pack fast; and
following `Ref`, `Fn::GetAtt`, `Fn::GetStackOutput` and `Fn::ImportValue` across
templates tells a rule whether a key or secret it points at is created by this
app, and what it looks like.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from compliance.assembly import CloudAssembly, ResourceView, StackView

_REFERENCES = ("Ref", "Fn::GetAtt", "Fn::GetStackOutput", "Fn::ImportValue")
_Fact = TypeVar("_Fact")


@dataclass
class TemplateIndex:
    """Every stack template of an assembly (nested stages included), by construct path and by name."""

    stacks: list[StackView] = field(default_factory=list)
    _by_path: dict[str, ResourceView] = field(default_factory=dict)
    _by_stack_name: dict[str, StackView] = field(default_factory=dict)
    _exports: dict[str, tuple[StackView, Any]] = field(default_factory=dict)
    _referrers: dict[tuple[str, str], list[ResourceView]] | None = None
    _facts: dict[Callable[[TemplateIndex], Any], Any] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def load(assembly: str | Path | CloudAssembly) -> TemplateIndex:
        """The index of a synthesized assembly (a directory, or one already read)."""
        index = TemplateIndex()
        for stack in CloudAssembly.of(assembly).stacks:
            index._add(stack)
        return index

    @staticmethod
    def from_templates(
        templates: Mapping[str, dict[str, Any]], *, region: str = "us-east-1", account: str = ""
    ) -> TemplateIndex:
        """An index of plain template dictionaries, keyed by each stack's construct path ("Pipeline/Dev/Data").

        For rules and tools tested without an assembly on disk. As in a CDK Pipelines app, a stack's
        stage is the second-to-last part of its path ("Dev"; "" for a stack directly under the app) and
        its name joins the last two parts ("Dev-Data"). A resource without `aws:cdk:path` metadata is
        found at `<stack path>/<logical id>`.
        """
        index = TemplateIndex()
        for path, template in templates.items():
            parts = path.split("/")
            stack = StackView(
                path=path,
                stack_name="-".join(parts[-2:]) if len(parts) > 1 else path,
                region=region,
                stage=parts[-2] if len(parts) > 1 else "",
                template=template,
                account=account,
            )
            index._add(stack)
            for resource in index.all_resources(stack):
                index._by_path.setdefault(resource.path, resource)
        return index

    def all_resources(self, stack: StackView | None = None) -> Iterator[ResourceView]:
        """Every resource of the index (or of one stack), at its path metadata or `<stack path>/<logical id>`."""
        for view in [stack] if stack is not None else self.stacks:
            yield from view.resource_views()

    def fact(self, compute: Callable[[TemplateIndex], _Fact]) -> _Fact:
        """`compute(self)`, computed on the first call only: a fact of the whole app (say, which roles administer
        each master secret) that a rule asks for once per resource it reads, which would otherwise make the
        rule's cost grow with the square of the app's size. Read it only once every stack is added."""
        if compute not in self._facts:
            self._facts[compute] = compute(self)
        result: _Fact = self._facts[compute]
        return result

    def _add(self, stack: StackView) -> None:
        # A fact or the referrers computed before this stack was added would leave it out.
        self._facts.clear()
        self._referrers = None
        self.stacks.append(stack)
        self._by_stack_name[stack.stack_name] = stack
        for resource in stack.resource_views():
            if resource.has_path_metadata:
                self._by_path[resource.path] = resource
        for output in stack.template.get("Outputs", {}).values():
            export = output.get("Export", {}).get("Name")
            if isinstance(export, str):
                self._exports[export] = (stack, output.get("Value"))

    def resource(self, path: str) -> ResourceView | None:
        """The resource whose construct path is `path` (a CfnResource's `node.path`), by its path metadata."""
        return self._by_path.get(path)

    def named(self, resource_type: str, name_property: str, name: str) -> ResourceView | None:
        """The resource of `resource_type` whose `name_property` is `name` (a physical name another stack uses)."""
        for view in self._by_path.values():
            if view.type == resource_type and view.properties.get(name_property) == name:
                return view
        return None

    def resources_under(self, path: str) -> list[ResourceView]:
        """The resource at `path`, or every resource below it when `path` is a higher-level construct."""
        exact = self._by_path.get(path)
        if exact is not None:
            return [exact]
        prefix = path + "/"
        return [r for p, r in self._by_path.items() if p.startswith(prefix)]

    def view(self, stack: StackView, logical_id: str) -> ResourceView | None:
        """The resource `logical_id` of `stack`, as a view (None for a parameter or an unknown id)."""
        return stack.view(logical_id)

    def resolve(self, stack: StackView, value: Any) -> ResourceView | None:
        """The resource of the app that a reference in `stack` points at (across stacks), or None."""
        target = self.target(stack, value)
        return self.view(target[0], target[1]) if target is not None else None

    def references(self, resource: ResourceView) -> list[ResourceView]:
        """Every resource of the app that `resource`'s properties refer to, in order, without repeats."""
        found: dict[str, ResourceView] = {}
        for value in intrinsics(resource.properties):
            target = self.resolve(resource.stack, value)
            if target is not None and target.path != resource.path:
                found.setdefault(target.path, target)
        return list(found.values())

    def referrers(self, resource: ResourceView, resource_type: str | None = None) -> list[ResourceView]:
        """Every resource of the app whose properties refer to `resource` (optionally only of one type)."""
        if self._referrers is None:
            self._referrers = {}
            for stack in self.stacks:
                for logical_id in stack.resources:
                    source = self.view(stack, logical_id)
                    if source is None:
                        continue
                    for value in intrinsics(source.properties):
                        target = self.target(stack, value)
                        if target is not None:
                            holders = self._referrers.setdefault((target[0].stack_name, target[1]), [])
                            if all(h.path != source.path for h in holders):
                                holders.append(source)
        holders = self._referrers.get((resource.stack.stack_name, resource.logical_id), [])
        return [h for h in holders if resource_type is None or h.type == resource_type]

    def resource_by_logical_id(self, path: str, logical_id: str) -> ResourceView | None:
        """The resource `logical_id` of the stack that holds construct `path` (for templates without path metadata)."""
        holders = [s for s in self.stacks if path.startswith(s.path + "/")]
        if not holders:
            return None
        stack = max(holders, key=lambda s: len(s.path))
        entry = stack.resources.get(logical_id)
        if entry is None:
            return None
        return ResourceView(path, logical_id, entry["Type"], entry.get("Properties", {}) or {}, stack)

    def target(self, stack: StackView, value: Any) -> tuple[StackView, str, dict[str, Any]] | None:
        """(stack, logical id, template entry) that a reference in `stack` points at; None if not in the app."""
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str):
            entry = stack.resources.get(argument) or stack.template.get("Parameters", {}).get(argument)
            return (stack, argument, entry) if entry is not None else None
        if function == "Fn::GetAtt" and isinstance(argument, list) and argument:
            entry = stack.resources.get(str(argument[0]))
            return (stack, str(argument[0]), entry) if entry is not None else None
        if function == "Fn::GetStackOutput" and isinstance(argument, dict):
            producer = self._by_stack_name.get(str(argument.get("StackName")))
            output = producer.template.get("Outputs", {}).get(str(argument.get("OutputName"))) if producer else None
            return self.target(producer, output.get("Value")) if producer is not None and output else None
        if function == "Fn::ImportValue" and isinstance(argument, str) and argument in self._exports:
            producer, exported = self._exports[argument]
            return self.target(producer, exported)
        return None


def intrinsics(value: Any) -> list[dict[str, Any]]:
    """Every reference-like intrinsic inside a resolved value, outermost first."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in _REFERENCES:
            return [value]
        for item in value.values():
            found += intrinsics(item)
    elif isinstance(value, list):
        for item in value:
            found += intrinsics(item)
    return found


def render(value: Any) -> str:
    """A resolved value as text, with each reference shown as `<ref>` (for pattern matching)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    if isinstance(value, list):
        return ",".join(render(v) for v in value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            return str(argument[0]).join(render(v) for v in argument[1])
        if function in _REFERENCES:
            if function == "Ref" and isinstance(argument, str) and argument.startswith("AWS::"):
                return f"<{argument}>"
            return "<ref>"
        if function == "Fn::Sub" and isinstance(argument, str):
            return argument
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{render(v)}" for k, v in value.items()) + "}"
    return ""
