"""The compliance report's data: what was evaluated, where, with what result, and what it means per control.

Plain data, no CDK: `compliance.evaluation` builds it from a synthesized app, the
renderers in `compliance.outputs` turn it into findings.json, controls.csv,
report.md, report.sarif and junit.xml, and `make report` rebuilds the files from
the JSON alone.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from compliance import mapping


class Status(StrEnum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non-compliant"
    ACKNOWLEDGED = "acknowledged"


class Assessment(StrEnum):
    """What a control's status at synth says, in an assessor's words (the counts a report gives per scope)."""

    SATISFIED = "satisfied"
    PARTIAL = "partial"
    NOT_SATISFIED = "not satisfied"
    NOT_ASSESSED = "not assessed"
    INHERITED = "inherited"


class ControlStatus(StrEnum):
    """A control's status at synth, from the rules `compliance.mapping` says evidence it and the acknowledgments.

    Satisfied only where a rule of the table evidences the control's technical part on a resource and
    nothing of the control fails or is acknowledged. An acknowledged finding, or an acknowledgment that
    declares the control, is a deviation: requested until the signed-off baseline records it (approved).
    A deviation never satisfies a control; with passes beside it, the control is partial.
    """

    EVIDENCED = "evidenced at synth"
    PARTIAL_APPROVED = "partial, deviation approved"
    PARTIAL_REQUESTED = "partial, deviation requested"
    DEVIATION_APPROVED = "not satisfied, deviation approved"
    DEVIATION_REQUESTED = "not satisfied, deviation requested"
    FAILING = "failing"
    NOT_CHECKED = "not checked at synth"
    # No rule evidences it at synth, and a service whose own resources would is run by a landing zone: the
    # provider's responsibility (leveraged), never "evidenced". `Control.inherited_from` names the provider.
    INHERITED = "inherited"

    @property
    def assessment(self) -> Assessment:
        return _ASSESSMENT[self]

    @property
    def deviation(self) -> bool:
        """Whether an acknowledged finding or an acknowledgment's declaration stands behind the status."""
        return self in _DEVIATIONS


_ASSESSMENT = {
    ControlStatus.EVIDENCED: Assessment.SATISFIED,
    ControlStatus.PARTIAL_APPROVED: Assessment.PARTIAL,
    ControlStatus.PARTIAL_REQUESTED: Assessment.PARTIAL,
    ControlStatus.DEVIATION_APPROVED: Assessment.NOT_SATISFIED,
    ControlStatus.DEVIATION_REQUESTED: Assessment.NOT_SATISFIED,
    ControlStatus.FAILING: Assessment.NOT_SATISFIED,
    ControlStatus.NOT_CHECKED: Assessment.NOT_ASSESSED,
    ControlStatus.INHERITED: Assessment.INHERITED,
}
_DEVIATIONS = frozenset(
    {
        ControlStatus.PARTIAL_APPROVED,
        ControlStatus.PARTIAL_REQUESTED,
        ControlStatus.DEVIATION_APPROVED,
        ControlStatus.DEVIATION_REQUESTED,
    }
)


@dataclass(frozen=True)
class Evaluation:
    """One rule's result on one resource of one scope (a stage, or the pipeline stack)."""

    scope: str  # "Pipeline", "Dev", "Staging", "Prod"
    pack: str  # "NIST.800.53.R5", "AwsSolutions", "Preflight", "CloudFormation-Validate"
    rule: str  # "NIST.800.53.R5-S3BucketLoggingEnabled"
    finding: str  # the exact id, e.g. "AwsSolutions-IAM5[Resource::*]"; equals `rule` when compliant
    status: Status
    path: str  # construct path of the resource
    resource_type: str
    message: str = ""  # the rule's description of the problem (empty when compliant)
    reason: str = ""  # the acknowledgment's full text (acknowledged only)
    # The acknowledgment of ours that names this finding on the resource or its nearest ancestor, by its name
    # (`AcknowledgmentRecord.name`), as `compliance.evaluation` matched them: the one that accepted the finding
    # where it is acknowledged, the one whose compensating control does not hold where it stayed open; "" where
    # none of ours names it (a pass, a finding no one acknowledged, one the CDK construct that creates it did).
    acknowledgment: str = ""


@dataclass(frozen=True)
class Rule:
    """A rule as its pack defines it: id, what it checks, the NIST controls it cites, the types it reads."""

    pack: str
    rule: str
    description: str
    cited: tuple[str, ...]  # labels as cited, e.g. "SC-7(4)(b)", "CP-9d"
    resource_types: tuple[str, ...]


@dataclass(frozen=True)
class CheckResult:
    """One check on one subject: what was claimed, of which resource, and whether it holds."""

    check: str  # "Versioned"
    claim: str  # "the S3 bucket is versioned"
    subject: str  # construct path of the resource judged ("" when no subject was found)
    holds: bool
    evidence: str  # what was found, e.g. "VersioningConfiguration.Status is Enabled"
    # Whether the claim is that a deploy-time hook sees the resource differently from the template (a cross-stack
    # reference that resolves at deploy): its check's `resolves_at_deploy`.
    resolves_at_deploy: bool = False


class AcknowledgmentKind(StrEnum):
    """What kind of deviation an acknowledgment accepts, as the code that makes it declares (`acknowledge(kind=...)`).

    An authorizing official weighs them in this order, the order the reports list them in:

    - operational requirement: a deliberate design choice the system needs, accepted as a real
      deviation from what the rule asks, with a compensating control (a single-AZ development
      database, a Lambda function outside the VPC, a wildcard an action could be narrowed from but
      is not). When in doubt, an acknowledgment is one of these.
    - tool false positive: the rule misreads the resource, and the configuration already meets the
      rule's intent (a key of another stack that the synth-time rule cannot read but the deploy-time
      hook sees resolved; a `*` on an action that supports no narrower resource; a cache that
      authenticates with IAM where the rule looks for a static token).
    - generated construct: the finding is on what the CDK or a library generates for us (CDK
      Pipelines' roles, projects and policies, custom-resource provider functions, the role a
      construct makes with an AWS-managed policy, the `DefaultPolicy` grants write), not on a design
      choice of ours; it is reviewed with each upgrade of the library. A statement we write into a
      generated policy is ours, and its kind is one of the two above.
    """

    OPERATIONAL_REQUIREMENT = "operational requirement"
    TOOL_FALSE_POSITIVE = "tool false positive"
    GENERATED_CONSTRUCT = "generated construct"

    @property
    def definition(self) -> str:
        """The kind's definition in one sentence, as the reports print it."""
        return _KIND_DEFINITIONS[self]

    @property
    def fedramp_request(self) -> str:
        """The deviation request FedRAMP's POA&M tracks it as (POA&M guide 4.5): a false positive, or an operational
        requirement (what a generated construct is too: the library the system needs requires it)."""
        return "false-positive" if self is AcknowledgmentKind.TOOL_FALSE_POSITIVE else "operational-requirement"


_KIND_DEFINITIONS = {
    AcknowledgmentKind.OPERATIONAL_REQUIREMENT: (
        "A deliberate design choice the system needs, accepted as a real deviation from what the rule asks, with a "
        "compensating control."
    ),
    AcknowledgmentKind.TOOL_FALSE_POSITIVE: (
        "The rule misreads the resource: the configuration already meets the rule's intent."
    ),
    AcknowledgmentKind.GENERATED_CONSTRUCT: (
        "The finding is on what the CDK or a library generates (CDK Pipelines' roles and policies, custom-resource "
        "providers, grants' default policies), not on a design choice of ours."
    ),
}


def acknowledgment_name(finding: str, path: str) -> str:
    """The name of the acknowledgment of `finding` on the construct at `path`: "<finding> on <construct path>"."""
    return f"{finding} on {path}"


@dataclass(frozen=True)
class AcknowledgmentRecord:
    """An acknowledgment as written in code, and the findings it accepted."""

    scope: str
    path: str
    finding: str
    reason: str
    compensating_control: str  # generated from the checks
    controls: tuple[str, ...]
    matched: int  # findings it accepted; 0 means stale; -1 means its check did not run in this synth
    kind: AcknowledgmentKind  # what kind of deviation it is, as its code declares
    checks: tuple[CheckResult, ...] = ()  # every check of its compensating control, on every subject
    # The date (ISO 8601) by which it is reviewed again: its POA&M milestone. Past it, the gate fails.
    review_by: str = ""
    # Whether the signed-off baseline the run was compared with records it, on every resource it accepts a
    # finding on and with this review date, and the date has not passed (`compliance.signoff.approve`).
    approved: bool = False

    @property
    def holds(self) -> bool:
        """Whether its compensating control holds: it has checks, and every one holds."""
        return bool(self.checks) and all(c.holds for c in self.checks)

    @property
    def awaiting_approval(self) -> bool:
        """Whether it accepts a finding (or may: its pack did not run), unapproved by the signed-off baseline."""
        return self.matched != 0 and not self.approved

    @property
    def name(self) -> str:
        """How a control's deviations and the reports name it: "<finding> on <construct path>"."""
        return acknowledgment_name(self.finding, self.path)

    def overdue(self, today: date) -> bool:
        """Whether its review date has passed on `today` (an acknowledgment without one is overdue)."""
        return not self.review_by or date.fromisoformat(self.review_by) < today

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.holds)


@dataclass(frozen=True)
class Control:
    """A FedRAMP Moderate baseline control and what synth says about it."""

    control: str  # OSCAL id, "sc-28.1"
    label: str  # "SC-28(1)"
    title: str
    family: str
    status: ControlStatus
    rules: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()  # "<scope>:<path>" of the resources behind the status
    runtime: tuple[str, ...] = ()  # the runtime monitors (an account baseline's Config rules) that watch it
    inherited_from: tuple[str, ...] = ()  # the providers, when its status is inherited
    # The control or objective ids (`sc-7_obj.a-2`) the rules behind its status evidence (`compliance.mapping`).
    objectives: tuple[str, ...] = ()
    # The acknowledgments behind a deviation status, each as `AcknowledgmentRecord.name`.
    deviations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inheritance:
    """A service of the account baseline that a stage leaves to its landing zone, and what the stage inherits.

    `controls` are the OSCAL ids of `compliance.inheritance`'s table for the service that no rule evidences
    in the stage: their status there is inherited from `provider`.
    """

    scope: str
    service: str  # "cloudtrail", as `account_baseline` names it
    provider: str  # who runs it, as configured (`inherited_from`)
    controls: tuple[str, ...] = ()


def inherited_controls(inheritances: Iterable[Inheritance]) -> dict[str, tuple[str, ...]]:
    """Control id -> the providers it is inherited from, over `inheritances` (each provider once, in order)."""
    providers: dict[str, list[str]] = {}
    for inheritance in inheritances:
        for control in inheritance.controls:
            entry = providers.setdefault(control, [])
            if inheritance.provider not in entry:
                entry.append(inheritance.provider)
    return {control: tuple(entry) for control, entry in providers.items()}


class RuntimeOutcome(StrEnum):
    NON_COMPLIANT = "non-compliant"  # a synth finding the Config rule reports the same way, acknowledged
    MAY_BE_NON_COMPLIANT = "may be non-compliant"  # a finding of a stricter twin, acknowledged
    NOT_CHECKED = "not checked at synth"  # no synth rule reads the resource (a library's plain CfnResource)


@dataclass(frozen=True)
class RuntimeResult:
    """What an AWS Config rule of the account baseline will report on one resource, as synth knows it."""

    config_rule: str  # "S3_BUCKET_REPLICATION_ENABLED"
    outcome: RuntimeOutcome
    scope: str
    account: str
    region: str
    path: str
    resource_type: str
    finding: str = ""  # the acknowledged synth finding it follows from
    reason: str = ""  # that acknowledgment's reason
    monitored: bool = False  # this app's conformance pack evaluates that account and region


@dataclass(frozen=True)
class Suppression:
    """One Security Hub control finding an acknowledgment accepts, as an automation rule will suppress it."""

    control: str  # "S3.7"
    config_rule: str  # the Config rule behind the control
    finding: str  # the acknowledged synth finding
    scope: str
    account: str
    region: str  # where Security Hub reports the finding
    path: str  # the acknowledged resource
    resource_type: str  # the type of the resource the finding names (a role for an inline policy's finding)
    reason: str  # the acknowledgment's reason: the rule's note
    resource_ids: tuple[str, ...] = ()  # the ARNs; `${Name}` stands for a physical id only the deploy knows
    parameter: str = ""  # that name, when there is one
    stack_name: str = ""  # where the parameter's value is read after the deploy
    logical_id: str = ""
    # Whether the acknowledgment is approved (`AcknowledgmentRecord.approved`): only then does a rule suppress it.
    approved: bool = False


@dataclass(frozen=True)
class Approval:
    """What approves a deviation: the signed-off baseline the run was compared with, and who reviews it.

    The record is the baseline file as committed (`commit`, when it was committed and by whom, as git
    says) and the reviewers CODEOWNERS requires for it. It is not a signature: git records who committed,
    not who approved the pull request; the repository's branch protection with required code-owner review
    is what makes a committed baseline a reviewed one, and the hosting service keeps that review.
    """

    baseline: str  # the file, as the report shows it ("compliance/baseline.json")
    commit: str  # the commit that last changed it ("" where git's history is not at hand)
    committed: str  # that commit's date, ISO 8601 ("" where unknown)
    author: str  # who committed it ("" where unknown)
    reviewers: tuple[str, ...]  # its code owners in CODEOWNERS (the reviewers branch protection requires)
    # Where the record comes from: "git"; "git, with uncommitted changes to the baseline" (its acknowledgments are not
    # reviewed yet); "the source revision CODEBUILD_RESOLVED_SOURCE_VERSION" (the pipeline, whose source has no
    # history); "unknown".
    source: str


# How `RunIdentity.commit_source` names a working tree whose tracked files differ from the commit.
UNCOMMITTED = "git, with uncommitted changes"


@dataclass(frozen=True)
class Place:
    """A span of one line of a file, where a report points its reader (a SARIF physical location)."""

    file: str  # "/"-separated, relative to the repository root (a source) or to the cloud assembly (a template)
    line: int  # 1-based
    column: int  # 1-based, of the span's first character
    end_column: int  # 1-based, of the character after its last


@dataclass(frozen=True)
class ResourceLocation:
    """Where one evaluated resource comes from: its line in the synthesized template and, where exactly one line
    of this repository's stack class names its construct, that line (`compliance.locations`)."""

    path: str  # construct path of the resource
    logical_id: str
    template: Place  # the resource's key under "Resources"
    source: Place | None = None  # the construct id's string literal, as the stack passes it


@dataclass(frozen=True)
class Person:
    """One person the system security plan names for a role (an OSCAL party and its responsible role)."""

    role: str  # an OSCAL role id: "system-owner", "authorizing-official", "information-system-security-officer"
    name: str
    email: str


@dataclass(frozen=True)
class InformationType:
    """An information type the system processes, with its FIPS 199 impact levels ("low" or "moderate")."""

    title: str
    description: str
    nist_800_60_id: str  # "C.3.5.8"
    confidentiality: str
    integrity: str
    availability: str


@dataclass(frozen=True)
class SystemDescription:
    """The system as the configuration describes it for its security plan; "" where it says nothing."""

    name: str
    short_name: str
    fedramp_id: str = ""  # FedRAMP's package id, once assigned
    description: str = ""
    status: str = "under-development"  # OSCAL's system status
    information_types: tuple[InformationType, ...] = ()
    people: tuple[Person, ...] = ()
    aws_package_id: str = ""  # AWS's FedRAMP authorization of the pipeline's partition, leveraged
    aws_date_authorized: str = ""

    @property
    def summary(self) -> str:
        """One line naming the system as the reports do: its names and FedRAMP's id, or that none is assigned."""
        fedramp = f"FedRAMP package {self.fedramp_id}" if self.fedramp_id else "no FedRAMP package id configured"
        return f"{self.name} ({self.short_name}); {fedramp}; status {self.status}"

    @staticmethod
    def from_json(data: dict[str, Any]) -> SystemDescription:
        return SystemDescription(
            **{
                **data,
                "information_types": tuple(InformationType(**t) for t in data.get("information_types", ())),
                "people": tuple(Person(**p) for p in data.get("people", ())),
            }
        )


@dataclass(frozen=True)
class RunIdentity:
    """What a report is evidence of: the commit, the configuration, where it deploys, the tools, the time."""

    commit: str
    commit_source: str  # "git", UNCOMMITTED, "CODEBUILD_RESOLVED_SOURCE_VERSION"
    config_file: str
    config_sha256: str
    pipeline_account: str
    pipeline_region: str
    stages: dict[str, str]  # stage -> "account region", in promotion order
    tools: dict[str, str]  # tool -> version, or "not installed"
    time: str  # UTC, ISO 8601
    system: SystemDescription | None = None  # what the configuration says of the system

    @property
    def uncommitted(self) -> bool:
        """Whether the files built differ from the commit named: evidence of no commit, and said so."""
        return self.commit_source == UNCOMMITTED


@dataclass
class ComplianceModel:
    """Everything the report files say, in one JSON-serialisable object."""

    scopes: list[str]
    rules: list[Rule]
    evaluations: list[Evaluation]
    acknowledgments: list[AcknowledgmentRecord]
    controls: list[Control]
    resources_per_scope: dict[str, int]
    config_differences: list[str] = field(default_factory=list)  # where dev's acknowledgments differ, and why
    external_prerequisites: dict[str, list[str]] = field(default_factory=dict)
    runtime_services: dict[str, list[str]] = field(default_factory=dict)  # scope -> services its baseline deploys
    runtime_skipped: dict[str, list[str]] = field(default_factory=dict)  # scope -> services its region lacks
    run: RunIdentity | None = None
    cfn_lint: str = ""  # "pass", "fail", or "" where this synth did not run it
    baseline_file: str = ""  # the committed compliance baseline compared with this run ("" if none was)
    baseline_differences: list[str] = field(default_factory=list)  # regressions from it, one line each
    baseline_improvements: list[str] = field(default_factory=list)  # improvements it does not record yet
    disabled_controls: list[str] = field(default_factory=list)  # Control Tower controls configured off at synth
    runtime_results: list[RuntimeResult] = field(default_factory=list)  # what the account baseline's Config rules say
    suppressions: list[Suppression] = field(default_factory=list)  # what Security Hub automation rules suppress
    twin_classification: dict[str, int] = field(default_factory=dict)  # the pack's Config rules by synth twin
    inheritances: list[Inheritance] = field(default_factory=list)  # services stages leave to a landing zone
    locations: list[ResourceLocation] = field(default_factory=list)  # where each evaluated resource comes from
    approval: Approval | None = None  # the signed-off baseline that approves deviations (None: none compared)
    review_overdue: list[str] = field(default_factory=list)  # acknowledgments past their review date, one line each
    # What fails the gate outside the packs, one line each with its severity: the CDK's annotations (errors, and
    # warnings, which fail the gate too), a validation plugin that failed, a synth that wrote no validation report.
    synth_errors: list[str] = field(default_factory=list)
    # The date (ISO 8601) the gate judged review dates on: the run's own date in UTC, or the one MONITORING_TODAY
    # names ("" where the run did not judge them, or a findings.json of an older run is read).
    judged_on: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failed_checks(self) -> list[tuple[AcknowledgmentRecord, CheckResult]]:
        return [(a, c) for a in self.acknowledgments for c in a.failed_checks]

    @property
    def open_findings(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.status is Status.NON_COMPLIANT]

    @property
    def passed(self) -> bool:
        """The gate's verdict as the report states it: nothing open, every claim holds, baseline as committed."""
        unchecked = [a for a in self.acknowledgments if not a.checks]
        return not (
            self.open_findings
            or self.failed_checks
            or unchecked
            or self.baseline_differences
            or self.review_overdue
            or self.synth_errors
            or self.cfn_lint == "fail"
        )

    @staticmethod
    def from_json(data: dict[str, Any]) -> ComplianceModel:
        def rule(r: dict[str, Any]) -> Rule:
            return Rule(**{**r, "cited": tuple(r["cited"]), "resource_types": tuple(r["resource_types"])})

        def control(c: dict[str, Any]) -> Control:
            status = ControlStatus(c["status"])
            return Control(
                **{
                    **c,
                    "status": status,
                    "rules": tuple(c["rules"]),
                    "resources": tuple(c["resources"]),
                    "runtime": tuple(c.get("runtime", ())),
                    "inherited_from": tuple(c.get("inherited_from", ())),
                    "objectives": tuple(c.get("objectives", ())),
                    "deviations": tuple(c.get("deviations", ())),
                }
            )

        return ComplianceModel(
            scopes=list(data["scopes"]),
            rules=[rule(r) for r in data["rules"]],
            evaluations=[Evaluation(**{**e, "status": Status(e["status"])}) for e in data["evaluations"]],
            acknowledgments=[_acknowledgment(a) for a in data["acknowledgments"]],
            controls=[control(c) for c in data["controls"]],
            resources_per_scope=dict(data["resources_per_scope"]),
            config_differences=list(data.get("config_differences", [])),
            external_prerequisites={k: list(v) for k, v in data.get("external_prerequisites", {}).items()},
            runtime_services={k: list(v) for k, v in data.get("runtime_services", {}).items()},
            runtime_skipped={k: list(v) for k, v in data.get("runtime_skipped", {}).items()},
            run=_run(data["run"]) if data.get("run") else None,
            cfn_lint=str(data.get("cfn_lint", "")),
            baseline_file=str(data.get("baseline_file", "")),
            baseline_differences=list(data.get("baseline_differences", [])),
            baseline_improvements=list(data.get("baseline_improvements", [])),
            disabled_controls=list(data.get("disabled_controls", [])),
            runtime_results=[
                RuntimeResult(**{**r, "outcome": RuntimeOutcome(r["outcome"])}) for r in data.get("runtime_results", [])
            ],
            suppressions=[
                Suppression(**{**s, "resource_ids": tuple(s["resource_ids"])}) for s in data.get("suppressions", [])
            ],
            twin_classification=dict(data.get("twin_classification", {})),
            inheritances=[Inheritance(**{**i, "controls": tuple(i["controls"])}) for i in data.get("inheritances", [])],
            locations=[
                ResourceLocation(
                    path=r["path"],
                    logical_id=r["logical_id"],
                    template=Place(**r["template"]),
                    source=Place(**r["source"]) if r.get("source") else None,
                )
                for r in data.get("locations", [])
            ],
            approval=Approval(**{**data["approval"], "reviewers": tuple(data["approval"]["reviewers"])})
            if data.get("approval")
            else None,
            review_overdue=list(data.get("review_overdue", [])),
            synth_errors=list(data.get("synth_errors", [])),
            judged_on=str(data.get("judged_on", "")),
        )


def _acknowledgment(data: dict[str, Any]) -> AcknowledgmentRecord:
    """An acknowledgment as findings.json records it; one written before acknowledgments declared a kind is refused."""
    if "kind" not in data:
        raise ValueError(
            f"findings.json: the acknowledgment of {data.get('finding')} on {data.get('path')} has no kind (it was "
            "written before every acknowledgment declared one): synthesize again to write it anew"
        )
    return AcknowledgmentRecord(
        **{
            **data,
            "kind": AcknowledgmentKind(data["kind"]),
            "controls": tuple(data["controls"]),
            "checks": tuple(CheckResult(**c) for c in data.get("checks", [])),
        }
    )


# --- The FedRAMP Moderate baseline and how cdk-nag's citations map onto it ---------------------


@dataclass(frozen=True)
class BaselineControl:
    control: str
    label: str
    title: str
    family: str


@cache
def baseline() -> tuple[BaselineControl, ...]:
    """The 323 controls of the FedRAMP Rev 5 Moderate baseline (data copied from GSA's profile)."""
    text = resources.files("compliance.data").joinpath("fedramp-moderate-rev5-controls.tsv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return tuple(BaselineControl(r["control"], r["label"], r["title"], r["family"]) for r in rows)


_CITATION = re.compile(r"^([A-Z]{2})-(\d+)(?:\((\d+)\))?")


def control_id(citation: str) -> str | None:
    """`SC-7(4)(b)` -> `sc-7.4`, `CP-9d` -> `cp-9`, `AU-12(1)` -> `au-12.1`; None if not a control label."""
    match = _CITATION.match(citation.strip())
    if not match:
        return None
    family, number, enhancement = match.groups()
    return f"{family.lower()}-{int(number)}" + (f".{int(enhancement)}" if enhancement else "")


def cited_controls(description: str) -> tuple[str, ...]:
    """The control labels a cdk-nag rule's description cites, in order, without repeats."""
    match = re.search(r"\(Control IDs?: (.*)\)\.?\s*$", description)
    if not match:
        return ()
    labels = [c.strip() for c in match.group(1).split(",") if c.strip()]
    return tuple(dict.fromkeys(labels))


def acknowledgment_of(
    evaluation: Evaluation, records: Mapping[tuple[str, str], list[AcknowledgmentRecord]]
) -> AcknowledgmentRecord | None:
    """The acknowledgment that accepted an evaluation: of its scope and finding, on its resource or the nearest
    ancestor (`records`: the acknowledgments by scope and finding id, so a finding every stage has is not looked
    for among every stage's acknowledgments)."""
    candidates = [
        a
        for a in records.get((evaluation.scope, evaluation.finding), ())
        if evaluation.path == a.path or evaluation.path.startswith(a.path + "/")
    ]
    return max(candidates, key=lambda a: len(a.path), default=None)


def acknowledgments_by_name(acknowledgments: Iterable[AcknowledgmentRecord]) -> dict[str, AcknowledgmentRecord]:
    """The acknowledgments by name, as `Evaluation.acknowledgment` names them (of two alike, the first: the one
    `compliance.evaluation` matched)."""
    found: dict[str, AcknowledgmentRecord] = {}
    for ack in acknowledgments:
        found.setdefault(ack.name, ack)
    return found


def open_deviation(ack: AcknowledgmentRecord) -> bool:
    """Whether the acknowledgment is an open deviation: it accepted a finding. Approval accepts the risk and does not
    close it: FedRAMP keeps an approved operational requirement or risk adjustment on the POA&M, where its risk
    status (`deviation-approved`) says so, until the finding itself is fixed."""
    return ack.matched != 0


@dataclass(frozen=True)
class PlanOfAction:
    """What the plan of action and milestones lists, one item each: the open deviations and the open findings."""

    deviations: tuple[AcknowledgmentRecord, ...]
    findings: tuple[Evaluation, ...]  # each finding on each resource once

    @property
    def items(self) -> int:
        return len(self.deviations) + len(self.findings)


def plan_of_action(model: ComplianceModel) -> PlanOfAction:
    """The POA&M's items (`compliance.oscal.poam` writes them; the reports count them): every open deviation
    (`open_deviation`), approved or not, and every non-compliant evaluation, each finding on each resource once."""
    found: dict[tuple[str, str, str, str], Evaluation] = {}
    for evaluation in model.evaluations:
        if evaluation.status is Status.NON_COMPLIANT:
            found.setdefault((evaluation.scope, evaluation.pack, evaluation.finding, evaluation.path), evaluation)
    return PlanOfAction(tuple(filter(open_deviation, model.acknowledgments)), tuple(found.values()))


@dataclass(frozen=True)
class _Deviation:
    """An acknowledgment behind a control's status, or an acknowledged finding no acknowledgment of ours recorded."""

    name: str
    approved: bool


def _status(passes: int, failing: bool, deviations: list[_Deviation]) -> ControlStatus:
    if failing:
        return ControlStatus.FAILING
    if deviations:
        approved = all(d.approved for d in deviations)
        if passes:
            return ControlStatus.PARTIAL_APPROVED if approved else ControlStatus.PARTIAL_REQUESTED
        return ControlStatus.DEVIATION_APPROVED if approved else ControlStatus.DEVIATION_REQUESTED
    return ControlStatus.EVIDENCED if passes else ControlStatus.NOT_CHECKED


def controls_from(
    rules: list[Rule],
    evaluations: list[Evaluation],
    runtime: dict[str, tuple[str, ...]] | None = None,
    inherited: Mapping[str, tuple[str, ...]] | None = None,
    acknowledgments: Iterable[AcknowledgmentRecord] = (),
    evidence: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Control]:
    """The FedRAMP Moderate baseline, each control with the status the reviewed mapping and the acknowledgments give it.

    A control's rules are those `evidence` (rule -> control or objective ids; the reviewed table of
    `compliance.mapping` by default) says evidence it, never those that only cite it. Its status:
    failing where one of them has an open finding; else a deviation where one of them has an acknowledged
    finding, or an acknowledgment that accepted a finding among `evaluations` declares the control
    (partial if the rules also passed somewhere, not satisfied if not; approved only if every such
    acknowledgment is); else evidenced at synth where they passed on a resource; else not checked.
    `inherited` maps a control id to the providers a scope inherits it from: a control not checked is
    inherited from them instead.
    """
    table = mapping.evidence() if evidence is None else evidence
    known = {rule.rule for rule in rules}
    targets: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # control -> rule -> ids
    for rule_id, ids in table.items():
        for target in ids:
            targets[mapping.control_of(target)][rule_id].append(target)
    by_rule: dict[str, list[Evaluation]] = defaultdict(list)
    for evaluation in evaluations:
        by_rule[evaluation.rule].append(evaluation)
    records: dict[tuple[str, str], list[AcknowledgmentRecord]] = defaultdict(list)
    for record in acknowledgments:
        records[(record.scope, record.finding)].append(record)
    behind: dict[tuple[str, str], _Deviation] = {}  # (finding, path) of an acknowledged evaluation -> its deviation
    declared: dict[str, dict[str, _Deviation]] = defaultdict(dict)  # control -> the acknowledgments declaring it
    for evaluation in evaluations:
        if evaluation.status is not Status.ACKNOWLEDGED:
            continue
        found = acknowledgment_of(evaluation, records)
        name = found.name if found else f"{evaluation.finding} on {evaluation.path}"
        deviation = _Deviation(name, found.approved if found else False)
        behind[(evaluation.finding, evaluation.path)] = deviation
        for label in found.controls if found else ():
            if cid := control_id(label):
                declared[cid][name] = deviation
    controls: list[Control] = []
    for base in baseline():
        mapped = targets.get(base.control, {})
        evaluated = [e for r in sorted(mapped) for e in by_rule.get(r, [])]
        failing = [e for e in evaluated if e.status is Status.NON_COMPLIANT]
        passes = [e for e in evaluated if e.status is Status.COMPLIANT]
        accepted = [e for e in evaluated if e.status is Status.ACKNOWLEDGED]
        deviations = {d.name: d for d in (behind[(e.finding, e.path)] for e in accepted)}
        deviations.update(declared.get(base.control, {}))
        status = _status(len(passes), bool(failing), list(deviations.values()))
        shown = failing or passes + accepted
        providers = (inherited or {}).get(base.control, ()) if status is ControlStatus.NOT_CHECKED else ()
        # Behind the status, the rules that evaluated something; where none did, those that would (the documentation
        # of a control not checked), never those of a status that only acknowledgments give.
        documented = sorted(r for r in mapped if r in known) if status is ControlStatus.NOT_CHECKED else []
        rule_ids = sorted({e.rule for e in shown}) if shown else documented
        controls.append(
            Control(
                control=base.control,
                label=base.label,
                title=base.title,
                family=base.family,
                status=ControlStatus.INHERITED if providers else status,
                rules=tuple(rule_ids),
                resources=tuple(sorted({f"{e.scope}:{e.path}" for e in shown})),
                runtime=(runtime or {}).get(base.control, ()),
                inherited_from=providers,
                objectives=tuple(sorted({t for r in rule_ids for t in mapped.get(r, ())})),
                deviations=tuple(sorted(deviations)) if not failing else (),
            )
        )
    return controls


def _run(data: dict[str, Any]) -> RunIdentity:
    system = data.get("system")
    return RunIdentity(**{**data, "system": SystemDescription.from_json(system) if system else None})
