"""The one way to accept a finding: on the narrowest construct, with a reason and checked compensating controls."""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import aws_cdk as cdk
from constructs import IConstruct

from compliance.checks import AttachedToOneRole, Check, compensating_sentence
from compliance.model import AcknowledgmentKind
from compliance.packs import PACKS, pack_of

# Each app's acknowledgments, as `acknowledge` records them (an app that is gone takes its list with it).
_REGISTRY: weakref.WeakKeyDictionary[IConstruct, list[Acknowledgment]] = weakref.WeakKeyDictionary()

# A finding id of one of the packs: `AwsSolutions-IAM5[Resource::*]`, `ControlTower::CT.S3.PR.4`.
_FINDING = re.compile("^(?:" + "|".join(f"{re.escape(p.finding_prefix)}(?:{p.rule_pattern})" for p in PACKS) + ")$")
_CONTROL = re.compile(r"^[A-Z]{2}-\d+(\(\d+\))?$")
# Each attribute read is a call across the jsii bridge, and callers often acknowledge several findings on one
# construct: what `_read` has read of each construct (while the caller keeps it), and each L1 class's type.
_READ: weakref.WeakKeyDictionary[IConstruct, tuple[str, IConstruct, cdk.Validations]] = weakref.WeakKeyDictionary()
_CLASS_TYPES: dict[type, str] = {}


@dataclass(frozen=True)
class Acknowledgment:
    """A finding accepted on one construct: why, the checks that make up its compensating control, its controls,
    and what kind of deviation it is."""

    path: str
    finding: str
    reason: str
    checks: tuple[Check, ...]
    controls: tuple[str, ...]
    kind: AcknowledgmentKind
    review_by: str = ""  # ISO date of its next review (its POA&M milestone); past it, the gate fails

    @property
    def compensating_control(self) -> str:
        """The compensating control as a sentence, generated from the checks (so it says what is checked)."""
        return compensating_sentence(self.checks)

    @property
    def text(self) -> str:
        """The sentence the validation report and the template metadata carry."""
        return (
            f"{self.reason} Compensating control (checked at synth): {self.compensating_control} "
            f"(NIST 800-53: {', '.join(self.controls)})"
        )


def acknowledge(
    construct: IConstruct,
    finding: str,
    *,
    reason: str,
    kind: AcknowledgmentKind,
    checks: Sequence[Check],
    controls: Sequence[str],
    review_by: str,
) -> Acknowledgment:
    """Accept `finding` (e.g. `AwsSolutions-IAM5[Resource::*]`) on `construct` and its children.

    Put it on the narrowest construct that produces the finding. `reason` says why the
    risk is acceptable. `kind` says what kind of deviation it is (`AcknowledgmentKind`): an
    operational requirement (a real deviation the design needs), a tool false positive (the
    rule misreads the resource, whose configuration meets its intent) or a generated construct
    (the finding is on what the CDK or a library generates); when in doubt, an operational
    requirement. `checks` are the compensating control: claims about the
    acknowledged resource or the resources it references (`[Versioned(), TlsOnly()]`),
    evaluated against the synthesized templates; one that does not hold fails the
    gate. `controls` lists the NIST 800-53 control ids it concerns (`AC-6`, `SC-7(4)`):
    the deviation counts against their status until the signed-off baseline approves it.
    `review_by` is the ISO date (`2027-06-30`) by which it is reviewed again, the POA&M
    milestone: past it, or more than a year ahead, the gate fails.
    """
    if not _FINDING.match(finding):
        raise ValueError(f"{finding!r} is not a finding id such as 'AwsSolutions-IAM5[Resource::*]'")
    if not isinstance(kind, AcknowledgmentKind):
        kinds = ", ".join(f"AcknowledgmentKind.{k.name}" for k in AcknowledgmentKind)
        raise ValueError(f"acknowledgment of {finding} needs kind, one of {kinds}; got {kind!r}")
    try:
        date.fromisoformat(review_by)
    except (TypeError, ValueError):
        raise ValueError(f"acknowledgment of {finding} needs review_by, an ISO date such as '2027-06-30'") from None
    if len(reason.split()) < 8:
        raise ValueError(f"acknowledgment of {finding} needs a full reason")
    if not checks or not all(isinstance(c, Check) for c in checks):
        raise ValueError(f"acknowledgment of {finding} needs at least one check as its compensating control")
    if not controls or not all(_CONTROL.match(c) for c in controls):
        raise ValueError(f"acknowledgment of {finding} needs NIST control ids such as 'AC-6', got {controls!r}")
    # A check of a type the acknowledged resource has judges that resource: say so in its claim.
    own_type = _resource_type(construct)
    bound = tuple(replace(c, on=own_type) if c.on is None and own_type in c.subject_types else c for c in checks)
    path, root, validations = _read(construct)
    if not path:
        raise ValueError(f"acknowledgment of {finding} on the app itself would accept it everywhere")
    record = Acknowledgment(
        path, finding, reason.strip(), checks=bound, controls=tuple(controls), kind=kind, review_by=review_by
    )
    # Under the id the CDK matches against its plugin's violations, and (where that differs) under ours as well,
    # which no plugin matches but which keeps the finding's own name in the template's metadata; in one call.
    ids = dict.fromkeys((pack_of(finding).acknowledgment_id(finding), finding))
    validations.acknowledge(*(cdk.Acknowledgment(id=i, reason=record.text) for i in ids))
    # Kept in a registry per app, so the report does not read anything back through jsii; the validation
    # report and each template's metadata carry the reason, the compliance reports all of it.
    _REGISTRY.setdefault(root, []).append(record)
    return record


def _read(construct: IConstruct) -> tuple[str, IConstruct, cdk.Validations]:
    """The construct's path, its root and its `Validations`, read across jsii once for each construct."""
    if construct not in _READ:
        node = construct.node
        _READ[construct] = (node.path, node.root, cdk.Validations.of(construct))
    return _READ[construct]


def _resource_type(construct: IConstruct) -> str | None:
    """The CloudFormation type of an L1 resource, None for any other construct.

    An L1 class of the CDK has its resource's type as a constant, read across jsii once per class; the generic
    `CfnResource` (a custom resource's, say) and a class of our own fall back to the instance's type.
    """
    if not isinstance(construct, cdk.CfnResource):
        return None
    cls = type(construct)
    if "CFN_RESOURCE_TYPE_NAME" not in vars(cls):
        return construct.cfn_resource_type
    if cls not in _CLASS_TYPES:
        _CLASS_TYPES[cls] = cls.CFN_RESOURCE_TYPE_NAME  # type: ignore[attr-defined]
    return _CLASS_TYPES[cls]


def acknowledgments_in(scope: IConstruct) -> list[Acknowledgment]:
    """Every acknowledgment made with `acknowledge` under `scope`, in the order they were made."""
    prefix = scope.node.path
    records = _REGISTRY.get(scope.node.root, [])
    return [r for r in records if not prefix or r.path == prefix or r.path.startswith(prefix + "/")]


def acknowledge_generated_inline_policies(scope: IConstruct, *, review_by: str) -> list[Acknowledgment]:
    """Accept NIST's IAMNoInlinePolicy on each policy the CDK generated for one role under `scope`.

    The CDK's grant methods write the exact permissions a role needs into that
    role's `DefaultPolicy`: a generated construct. Call this after every grant in the stack is made.
    """
    from aws_cdk import aws_iam as iam

    stage = cdk.Stage.of(scope)  # a nested stage acknowledges its own
    acknowledged: list[Acknowledgment] = []
    for policy in scope.node.find_all():
        if not isinstance(policy, iam.Policy):
            continue
        node = policy.node
        if node.id == "DefaultPolicy" and cdk.Stage.of(policy) is stage:
            acknowledged.append(
                acknowledge(
                    node.default_child,  # type: ignore[arg-type]
                    "NIST.800.53.R5-IAMNoInlinePolicy",
                    reason=(
                        "The CDK writes each role's least-privilege grants into a policy that belongs to that role "
                        "alone and is created, changed and deleted with it; no other principal can attach it. "
                        "Policies are versioned in git and reach every protected environment only through the "
                        "pipeline's approvals."
                    ),
                    kind=AcknowledgmentKind.GENERATED_CONSTRUCT,
                    checks=[AttachedToOneRole()],
                    controls=["AC-6", "CM-3", "CM-5"],
                    review_by=review_by,
                )
            )
    return acknowledged
