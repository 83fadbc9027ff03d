"""OSCAL documents of one synth: a component definition, a minimal assessment plan, the assessment results.

- `component-definition.json`: the pipeline and the workload as components; each
  implemented requirement is a FedRAMP Moderate control (OSCAL id, `sc-7.4`) with the
  rules that evidence or acknowledge it and the resources they were evaluated on, and its
  origination as FedRAMP writes it: `sp-system` where this app implements it, `inherited`
  (with the provider) where a stage leaves the service that would evidence it to a landing zone.
- `assessment-plan.json`: what every synth assesses (the baseline's controls, both
  components, by rule evaluation of the synthesized templates). OSCAL requires a plan
  to import a system security plan; the organisation owns the SSP, so the plan imports
  the component definition the SSP is built from, and says so.
- `assessment-results.json`: this run, importing the plan: one observation and one
  finding per control assessed at synth (status as in controls.csv: satisfied only where
  evidenced at synth with no deviation), and each acknowledgment as a risk with its reason and
  the results of its compensating checks, `deviation-approved` only where the signed-off
  baseline records it and `deviation-requested` until then.

Built and validated with compliance-trestle's OSCAL models, imported only here so
nothing else pays for them. Every uuid is a uuid5 of a stable name (the commit and
configuration for documents, control ids, construct paths), so two runs of the same
commit differ only in their timestamps.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from trestle.oscal import OSCAL_VERSION, common
from trestle.oscal import assessment_plan as ap
from trestle.oscal import assessment_results as ar
from trestle.oscal import component as cd

from compliance import mapping
from compliance.model import AcknowledgmentRecord, ComplianceModel, Control, ControlStatus, Status

COMPONENT_DEFINITION = "component-definition.json"
ASSESSMENT_PLAN = "assessment-plan.json"
ASSESSMENT_RESULTS = "assessment-results.json"
# GSA's FedRAMP Rev 5 Moderate baseline profile, which the control ids come from.
BASELINE_PROFILE = (
    "https://raw.githubusercontent.com/GSA/fedramp-automation/master/dist/content/rev5/baselines/json/"
    "FedRAMP_rev5_MODERATE-baseline_profile.json"
)
NS = "urn:fedramp-monitoring:compliance"  # the namespace of this project's own OSCAL properties
# FedRAMP's extension namespace. Its SSP template (GSA/fedramp-automation, dist/content/rev5/templates/ssp/json/
# FedRAMP-SSP-OSCAL-Template.json) and its guide (automate.fedramp.gov, SSP > Security Controls > Control
# Origination) mark an implemented requirement's origination with props name="control-origination" in this
# namespace, one per origination (sp-corporate, sp-system, customer-configured, customer-provided, inherited): a
# hybrid control carries several. An inherited one also needs, in the SSP, a leveraged-authorization-uuid prop
# naming the provider's leveraged-authorization; the organisation's SSP holds those, so this component
# definition names the provider in the prop's remarks and in an `inherited-from` prop of its own namespace.
FEDRAMP_NS = "https://fedramp.gov/ns/oscal"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, NS)
PIPELINE, WORKLOAD = "Pipeline", "Workload"
_COMPONENTS = {
    PIPELINE: "Delivery pipeline: CodePipeline, its builds, artifact store, keys and approvals",
    WORKLOAD: "Monitoring workload: every stage's network, data, service, observability and account baseline",
}
_ASSESSED = tuple(s for s in ControlStatus if s not in (ControlStatus.NOT_CHECKED, ControlStatus.INHERITED))


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _prop(name: str, value: str) -> common.Property:
    return common.Property(name=name, value=value, ns=NS)


def _component(scope: str) -> str:
    return PIPELINE if scope == PIPELINE else WORKLOAD


def _metadata(model: ComplianceModel, title: str) -> common.Metadata:
    run = model.run
    props = []
    if run is not None:
        props = [
            _prop("commit", run.commit),
            _prop("configuration-sha256", run.config_sha256),
            *(_prop("tool", f"{tool} {version}") for tool, version in run.tools.items()),
        ]
    return common.Metadata(
        title=title,
        last_modified=_time(model),
        version=run.commit if run is not None else "unversioned",
        oscal_version=OSCAL_VERSION,
        props=props or None,
    )


def _time(model: ComplianceModel) -> datetime:
    text = model.run.time if model.run is not None else "1970-01-01T00:00:00Z"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _document_id(model: ComplianceModel, kind: str) -> str:
    run = model.run
    return _uuid(kind, run.commit if run else "", run.config_sha256 if run else "")


def _evidence(model: ComplianceModel) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """(component, control) -> (rules, resources) of the passing or acknowledged evaluations behind it, through the
    rules the reviewed mapping says evidence it (never a citation alone)."""
    citing: dict[str, set[str]] = defaultdict(set)
    for rule in model.rules:
        for target in mapping.evidence().get(rule.rule, ()):
            citing[rule.rule].add(mapping.control_of(target))
    found: dict[tuple[str, str], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for evaluation in model.evaluations:
        if evaluation.status is Status.NON_COMPLIANT:
            continue
        for cid in citing.get(evaluation.rule, ()):
            rules, resources = found[(_component(evaluation.scope), cid)]
            rules.add(evaluation.rule)
            resources.add(f"{evaluation.scope}:{evaluation.path}")
    return {key: (sorted(rules), sorted(resources)) for key, (rules, resources) in found.items()}


def _origination(value: str, remarks: str | None = None) -> common.Property:
    return common.Property(name="control-origination", value=value, ns=FEDRAMP_NS, remarks=remarks)


def _inherited(model: ComplianceModel) -> dict[str, dict[str, list[str]]]:
    """Control -> provider -> the stages that inherit it from that provider (the workload's, in model order)."""
    found: dict[str, dict[str, list[str]]] = {}
    for inheritance in model.inheritances:
        for control in inheritance.controls:
            scopes = found.setdefault(control, {}).setdefault(inheritance.provider, [])
            if inheritance.scope not in scopes:
                scopes.append(inheritance.scope)
    return found


def _requirement(
    name: str, control: Control, evidence: tuple[list[str], list[str]], inherited: dict[str, list[str]]
) -> cd.ImplementedRequirement:
    """A control as the component implements it (`evidence`: rules and resources), inherits it, or both."""
    rules, resources = evidence
    parts: list[str] = []
    props: list[common.Property] = []
    if rules:
        parts.append(
            f"implemented by resources of the {name.lower()} that {len(rules)} synth-time rule(s) evaluate "
            f"({len(resources)} resource evaluation(s))"
        )
        props += [
            _origination("sp-system"),
            *(_prop("rule", r) for r in rules),
            *(_prop("resource", r) for r in resources),
        ]
    leveraged = [(", ".join(scopes), provider) for provider, scopes in inherited.items()]
    if leveraged:
        parts += [
            f"inherited in {where} from {provider}, which runs the service there (leveraged)"
            for where, provider in leveraged
        ]
        remarks = "; ".join(f"In {where}, inherited from {provider}" for where, provider in leveraged)
        props += [_origination("inherited", f"{remarks}."), *(_prop("inherited-from", p) for _, p in leveraged)]
    return cd.ImplementedRequirement(
        uuid=_uuid("implemented-requirement", name, control.control),
        control_id=control.control,
        description=f"{control.label} {control.title}: {'; '.join(parts)}.",
        props=props,
        remarks="The system security plan links each provider as a leveraged authorization." if inherited else None,
    )


def _requirements(
    model: ComplianceModel,
    name: str,
    evidence: dict[tuple[str, str], tuple[list[str], list[str]]],
    inherited: dict[str, dict[str, list[str]]],
) -> list[cd.ImplementedRequirement]:
    """The controls the component implements at synth, or inherits (`inherited`: only stages, the workload, do)."""
    return [
        _requirement(name, control, found, inherited.get(control.control, {}))
        for control in model.controls
        for found in [evidence.get((name, control.control), ([], [])) if control.status in _ASSESSED else ([], [])]
        if found[0] or control.control in inherited
    ]


def component_definition(model: ComplianceModel) -> cd.ComponentDefinition:
    evidence, inherited = _evidence(model), _inherited(model)
    components = []
    for name, description in _COMPONENTS.items():
        requirements = _requirements(model, name, evidence, inherited if name == WORKLOAD else {})
        components.append(
            cd.DefinedComponent(
                uuid=_uuid("component", name),
                type="software",
                title=name,
                description=description,
                control_implementations=[
                    cd.ControlImplementation(
                        uuid=_uuid("control-implementation", name),
                        source=BASELINE_PROFILE,
                        description=f"FedRAMP Rev 5 Moderate controls the {name.lower()} implements, as synthesized.",
                        implemented_requirements=requirements,
                    )
                ]
                if requirements
                else None,
            )
        )
    return cd.ComponentDefinition(
        uuid=_document_id(model, "component-definition"),
        metadata=_metadata(model, "FedRAMP Moderate monitoring platform: component definition"),
        components=components,
    )


def _reviewed_controls(model: ComplianceModel) -> common.ReviewedControls:
    return common.ReviewedControls(
        control_selections=[
            common.ControlSelections(
                description="The FedRAMP Rev 5 Moderate baseline",
                include_controls=[common.SelectControlById(control_id=c.control) for c in model.controls],
            )
        ]
    )


def assessment_plan(model: ComplianceModel) -> ap.AssessmentPlan:
    return ap.AssessmentPlan(
        uuid=_document_id(model, "assessment-plan"),
        metadata=_metadata(model, "FedRAMP Moderate monitoring platform: synth-time assessment plan"),
        import_ssp=common.ImportSsp(
            href=COMPONENT_DEFINITION,
            remarks=(
                "The system security plan belongs to the organisation that operates the system; it is built from "
                "this component definition, which every synth writes beside this plan."
            ),
        ),
        local_definitions=ap.LocalDefinitions(
            activities=[
                common.Activity(
                    uuid=_uuid("activity", "synth-time-evaluation"),
                    title="Synth-time rule evaluation",
                    description=(
                        "Every synth evaluates each resource of the synthesized CloudFormation templates against "
                        "the NIST 800-53 R5, AWS Solutions and Preflight rule packs and CloudFormation's own "
                        "template checks, and each acknowledgment's compensating checks against the resources "
                        "they name."
                    ),
                    props=[common.Property(name="method", value="TEST")],
                )
            ]
        ),
        reviewed_controls=_reviewed_controls(model),
        assessment_subjects=[
            common.AssessmentSubjectSpecific(
                type="component",
                include_subjects=[
                    common.SelectSubjectById(subject_uuid=_uuid("component", name), type="component")
                    for name in _COMPONENTS
                ],
            )
        ],
    )


def _risk(ack: AcknowledgmentRecord) -> common.Risk:
    return common.Risk(
        uuid=_uuid("risk", ack.path, ack.finding),
        title=f"{ack.finding} on {ack.path}",
        description=ack.reason,
        statement=f"Compensating control, checked at synth: {ack.compensating_control}.",
        props=[_prop("scope", ack.scope), *(_prop("nist-control", c) for c in ack.controls)],
        status=common.RiskStatus(root=_risk_status(ack)),
        mitigating_factors=[
            common.MitigatingFactor(
                uuid=_uuid("mitigating-factor", ack.path, ack.finding, str(n)),
                description=(
                    f"{check.check}: {check.claim}; {'holds' if check.holds else 'does not hold'} on "
                    f"{check.subject or 'no resource'} ({check.evidence})"
                ),
            )
            for n, check in enumerate(ack.checks)
        ]
        or None,
    )


def _risk_status(ack: AcknowledgmentRecord) -> str:
    """A deviation is approved only where the signed-off baseline records it; open where its checks fail."""
    if not ack.holds:
        return "open"
    return "deviation-approved" if ack.approved else "deviation-requested"


def _related_risks(control: Control, acks: list[AcknowledgmentRecord]) -> list[AcknowledgmentRecord]:
    """The acknowledgments behind the control's deviation status."""
    names = set(control.deviations)
    return [a for a in acks if a.name in names]


def _objective_status(control: Control, risks: list[AcknowledgmentRecord]) -> tuple[str, str, str | None]:
    """(state, reason, remarks) of a control's finding: satisfied only where evidenced at synth with no deviation."""
    if control.status is ControlStatus.EVIDENCED:
        return "satisfied", "pass", None
    if control.status is ControlStatus.FAILING:
        return "not-satisfied", "fail", None
    return "not-satisfied", "other", f"{control.status}: {len(risks)} deviation(s), see the related risks"


def assessment_results(model: ComplianceModel) -> ar.AssessmentResults:
    now = _time(model)
    acks = list(model.acknowledgments)
    observations: list[common.Observation] = []
    findings: list[common.Finding] = []
    for control in model.controls:
        if control.status not in _ASSESSED:
            continue
        components = sorted({_component(r.split(":", 1)[0]) for r in control.resources})
        observation = common.Observation(
            uuid=_uuid("observation", control.control),
            title=f"{control.label}: {control.status}",
            description=(
                f"{len(control.rules)} rule(s) on {len(control.resources)} resource(s) "
                f"give {control.label} the status '{control.status}' at synth."
            ),
            props=[
                *(_prop("rule", r) for r in control.rules),
                *(_prop("resource", r) for r in control.resources),
                *(_prop("deviation", d) for d in control.deviations),
            ],
            methods=["TEST"],
            subjects=[
                common.SubjectReference(subject_uuid=_uuid("component", name), type="component", title=name)
                for name in components
            ]
            or None,
            collected=now,
        )
        observations.append(observation)
        risks = _related_risks(control, acks) if control.status.deviation else []
        state, reason, remarks = _objective_status(control, risks)
        findings.append(
            common.Finding(
                uuid=_uuid("finding", control.control),
                title=f"{control.label} {control.title}",
                description=f"Status at synth: {control.status}.",
                props=[_prop("synth-status", str(control.status))],
                target=common.FindingTarget(
                    type="objective-id",
                    target_id=f"{control.control}_obj",
                    status=common.ObjectiveStatus(state=state, reason=reason, remarks=remarks),
                ),
                related_observations=[common.RelatedObservation(observation_uuid=observation.uuid)],
                related_risks=[common.AssociatedRisk(risk_uuid=_uuid("risk", a.path, a.finding)) for a in risks]
                or None,
            )
        )
    run = model.run
    result = ar.Result(
        uuid=_uuid("result", run.commit if run else "", run.config_sha256 if run else ""),
        title=f"Synth of {run.commit if run else 'an unrecorded commit'}",
        description="Rule evaluation of the synthesized templates of every stage and the pipeline.",
        start=now,
        end=now,
        reviewed_controls=_reviewed_controls(model),
        observations=observations or None,
        risks=[_risk(a) for a in acks] or None,
        findings=findings or None,
    )
    return ar.AssessmentResults(
        uuid=_document_id(model, "assessment-results"),
        metadata=_metadata(model, "FedRAMP Moderate monitoring platform: synth-time assessment results"),
        import_ap=ar.ImportAp(href=ASSESSMENT_PLAN),
        results=[result],
    )


def write_oscal(model: ComplianceModel, directory: Path) -> list[Path]:
    """Write the three OSCAL documents into `directory`; return their paths."""
    documents = {
        COMPONENT_DEFINITION: component_definition(model),
        ASSESSMENT_PLAN: assessment_plan(model),
        ASSESSMENT_RESULTS: assessment_results(model),
    }
    paths = []
    for name, document in documents.items():
        path = directory / name
        path.write_text(document.oscal_serialize_json(pretty=True) + "\n", encoding="utf-8", newline="\n")
        paths.append(path)
    return paths
