"""The one way to accept a finding: on the narrowest construct, with an auditor's reason."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

import aws_cdk as cdk
from constructs import IConstruct

# Structured copy of each acknowledgment in the construct tree.
METADATA_TYPE = "compliance:acknowledgment"
# Each app's acknowledgments, as `acknowledge` records them (an app that is gone takes its list with it).
_REGISTRY: weakref.WeakKeyDictionary[IConstruct, list[Acknowledgment]] = weakref.WeakKeyDictionary()

_FINDING = re.compile(r"^(AwsSolutions-|NIST\.800\.53\.R5-|CloudFormation-Validate::)[A-Za-z0-9]+(\[.+\])?$")
_CONTROL = re.compile(r"^[A-Z]{2}-\d+(\(\d+\))?$")


@dataclass(frozen=True)
class Acknowledgment:
    """A finding accepted on one construct, with why, what compensates, and which controls it concerns."""

    path: str
    finding: str
    reason: str
    compensating_control: str
    controls: tuple[str, ...]

    @property
    def text(self) -> str:
        """The sentence the validation report and the template metadata carry."""
        return (
            f"{self.reason} Compensating control: {self.compensating_control} (NIST 800-53: {', '.join(self.controls)})"
        )


def acknowledge(
    construct: IConstruct,
    finding: str,
    *,
    reason: str,
    compensating_control: str,
    controls: list[str] | tuple[str, ...],
) -> Acknowledgment:
    """Accept `finding` (e.g. `AwsSolutions-IAM5[Resource::*]`) on `construct` and its children.

    Put it on the narrowest construct that produces the finding. `reason` says why
    the risk is acceptable; `compensating_control` says what reduces it; `controls`
    lists the NIST 800-53 control ids it concerns (`AC-6`, `SC-7(4)`).
    """
    if not _FINDING.match(finding):
        raise ValueError(f"{finding!r} is not a finding id such as 'AwsSolutions-IAM5[Resource::*]'")
    if len(reason.split()) < 8 or len(compensating_control.split()) < 4:
        raise ValueError(f"acknowledgment of {finding} needs a full reason and a compensating control")
    if not controls or not all(_CONTROL.match(c) for c in controls):
        raise ValueError(f"acknowledgment of {finding} needs NIST control ids such as 'AC-6', got {controls!r}")
    record = Acknowledgment(
        path=construct.node.path,
        finding=finding,
        reason=reason.strip(),
        compensating_control=compensating_control.strip(),
        controls=tuple(controls),
    )
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=record.text))
    # Also kept in the construct tree (tree.json shows it), and in a registry per app so the
    # report does not have to read the metadata of every construct back through jsii.
    construct.node.add_metadata(
        METADATA_TYPE,
        {
            "finding": record.finding,
            "reason": record.reason,
            "compensatingControl": record.compensating_control,
            "controls": list(record.controls),
        },
    )
    _REGISTRY.setdefault(construct.node.root, []).append(record)
    return record


def acknowledgments_in(scope: IConstruct) -> list[Acknowledgment]:
    """Every acknowledgment made with `acknowledge` under `scope`, in the order they were made."""
    prefix = scope.node.path
    records = _REGISTRY.get(scope.node.root, [])
    return [r for r in records if not prefix or r.path == prefix or r.path.startswith(prefix + "/")]


def acknowledge_generated_inline_policies(scope: IConstruct) -> list[Acknowledgment]:
    """Accept NIST's IAMNoInlinePolicy on each policy the CDK generated for one role under `scope`.

    The CDK's grant methods write the exact permissions a role needs into that
    role's `DefaultPolicy`. Call this after every grant in the stack is made.
    """
    from aws_cdk import aws_iam as iam

    return [
        acknowledge(
            policy.node.default_child,  # type: ignore[arg-type]
            "NIST.800.53.R5-IAMNoInlinePolicy",
            reason=(
                "The CDK writes each role's least-privilege grants into a policy that belongs to that role alone "
                "and is created, changed and deleted with it; no other principal can attach it."
            ),
            compensating_control=(
                "policies are versioned in git and every change is reviewed and promoted by the pipeline "
                "with a manual approval before every protected environment"
            ),
            controls=["AC-6", "CM-3", "CM-5"],
        )
        for policy in scope.node.find_all()
        if isinstance(policy, iam.Policy)
        and policy.node.id == "DefaultPolicy"
        and cdk.Stage.of(policy) is cdk.Stage.of(scope)  # a nested stage acknowledges its own
    ]
