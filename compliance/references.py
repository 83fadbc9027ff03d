"""Follow CloudFormation references back to the constructs they name.

Preflight rules look at one resource and sometimes need the resource it points
at: the key a log group is encrypted with, the secret a container reads. Once a
template is resolved, those pointers are `Ref`, `Fn::GetAtt`, `Fn::GetStackOutput`
or `Fn::ImportValue`; this index maps each back to the `CfnResource` in the same
app, across stacks, and says "not in this app" when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct


@dataclass
class ReferenceIndex:
    """Logical IDs, outputs and exports of every stack under one root, built on first use."""

    root: IConstruct
    _stacks: dict[str, cdk.Stack] = field(default_factory=dict)
    _by_logical_id: dict[str, dict[str, cdk.CfnElement]] = field(default_factory=dict)
    _exports: dict[str, tuple[cdk.Stack, cdk.CfnOutput]] = field(default_factory=dict)
    _built: bool = False

    def _build(self) -> None:
        if self._built:
            return
        for construct in self.root.node.find_all():
            if isinstance(construct, cdk.Stack):
                self._stacks[construct.artifact_id] = construct
                self._stacks.setdefault(construct.stack_name, construct)
        for stack in {id(s): s for s in self._stacks.values()}.values():
            elements: dict[str, cdk.CfnElement] = {}
            for construct in stack.node.find_all():
                if isinstance(construct, cdk.CfnElement) and cdk.Stack.of(construct) is stack:
                    elements[stack.resolve(construct.logical_id)] = construct
                    if isinstance(construct, cdk.CfnOutput) and construct.export_name:
                        self._exports[stack.resolve(construct.export_name)] = (stack, construct)
            self._by_logical_id[stack.artifact_id] = elements
        self._built = True

    def target(self, stack: cdk.Stack, value: Any) -> cdk.CfnElement | None:
        """The element a resolved intrinsic of `stack` points at, or None if it is not in this app."""
        self._build()
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((function, argument),) = value.items()
        elements = self._by_logical_id.get(stack.artifact_id, {})
        if function == "Ref" and isinstance(argument, str):
            return elements.get(argument)
        if function == "Fn::GetAtt" and isinstance(argument, list) and argument:
            return elements.get(str(argument[0]))
        if function == "Fn::GetStackOutput" and isinstance(argument, dict):
            producer = self._stacks.get(str(argument.get("StackName")))
            output = (
                self._by_logical_id.get(producer.artifact_id, {}).get(str(argument.get("OutputName")))
                if producer
                else None
            )
            if producer is not None and isinstance(output, cdk.CfnOutput):
                return self.target(producer, producer.resolve(output.value))
            return None
        if function == "Fn::ImportValue" and isinstance(argument, str):
            exported = self._exports.get(argument)
            if exported:
                producer, output = exported
                return self.target(producer, producer.resolve(output.value))
        return None


def intrinsics(value: Any) -> list[dict[str, Any]]:
    """Every reference-like intrinsic inside a resolved value, outermost first."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::GetStackOutput", "Fn::ImportValue"):
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
        if function in ("Ref", "Fn::GetAtt", "Fn::GetStackOutput", "Fn::ImportValue"):
            if function == "Ref" and isinstance(argument, str) and argument.startswith("AWS::"):
                return f"<{argument}>"
            return "<ref>"
        if function == "Fn::Sub" and isinstance(argument, str):
            return argument
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{render(v)}" for k, v in value.items()) + "}"
    return ""
