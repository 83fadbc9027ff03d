"""RetainedPhysicalName: a resource kept on delete is not named the same on every create of its stack.

A stack deleted with a retained resource leaves it behind under its name; when the stack is
created again (a rolled-back first deployment retried, an environment rebuilt), CloudFormation
creates the resource under the same name and fails: "already exists". That was the failure
report's Kinesis collision. A name that includes the stack id (`WorkloadStack.unique_name`:
`Fn::Select` over `Fn::Split` of `AWS::StackId`) is new with every create; so is any name
built from another resource's generated id. A literal, or a name built only from literals and
pseudo-parameters such as `AWS::Region` or `AWS::StackName`, is not.

`Snapshot` is not a retaining policy: CloudFormation snapshots the resource and then deletes it,
freeing the name (CloudFormation template reference, "DeletionPolicy attribute").
"""

from __future__ import annotations

import re
from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.preflight.unique_physical_name import NAMED_TYPES
from compliance.references import render

_RETAINING = frozenset({"Retain", "RetainExceptOnCreate"})
# Pseudo-parameters whose value is the same on every create of the same stack in the same account and region.
_FIXED_PSEUDO_PARAMETERS = frozenset(
    {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName", "AWS::NoValue"}
)
_OPAQUE = frozenset({"Fn::GetAtt", "Fn::ImportValue", "Fn::GetStackOutput"})
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


def retained_physical_name(resource: ResourceView, ctx: Context) -> Verdict:
    """A retained resource's name changes with each create of the stack, or is left to CloudFormation."""
    prop = NAMED_TYPES.get(resource.type)
    policy = resource.stack.resources.get(resource.logical_id, {}).get("DeletionPolicy")
    if prop is None or policy not in _RETAINING:
        return Verdict.not_applicable()
    name = resource.properties.get(prop)
    if name is None or not same_on_every_create(name):
        return Verdict.ok()
    shown = render(name)
    return Verdict.fail(
        shown,
        f"{resource.type} is kept on delete (DeletionPolicy {policy}) and named {shown!r} on every create of the "
        "stack, so creating the stack again collides with the retained one; derive the name from the stack id "
        "(WorkloadStack.unique_name) or let CloudFormation name it",
    )


def same_on_every_create(value: Any) -> bool:
    """Whether a resolved value is built only from literals and pseudo-parameters other than `AWS::StackId`."""
    if isinstance(value, list):
        return all(same_on_every_create(item) for item in value)
    if not isinstance(value, dict):
        return True
    if len(value) != 1:
        return all(same_on_every_create(item) for item in value.values())
    ((function, argument),) = value.items()
    if function == "Ref":
        return argument in _FIXED_PSEUDO_PARAMETERS  # a resource's or parameter's value may differ per create
    if function in _OPAQUE:
        return False
    if function == "Fn::Sub":
        return _sub_is_fixed(argument)
    return same_on_every_create(argument)


def _sub_is_fixed(argument: Any) -> bool:
    """`Fn::Sub` text whose variables are all fixed pseudo-parameters or fixed values of its own map."""
    text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
    if not isinstance(text, str) or not isinstance(variables, dict):
        return False
    for name in _SUB_VARIABLE.findall(text):
        if name in variables:
            if not same_on_every_create(variables[name]):
                return False
        elif name not in _FIXED_PSEUDO_PARAMETERS:
            return False
    return True


RULE = PreflightRule(
    "RetainedPhysicalName",
    frozenset(NAMED_TYPES),
    retained_physical_name,
    "A resource kept on delete under a name that is the same on every create of its stack makes the next "
    "create of the stack fail with 'already exists'.",
    ("CM-2", "CP-10"),
    shortdesc=(
        "a resource kept on delete whose name is the same on every create of its stack, so the next create collides"
        " with the one left behind (the report's Kinesis collision, again)"
    ),
)
