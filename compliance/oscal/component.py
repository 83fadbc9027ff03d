"""`component-definition.json`: the pipeline and the workload as components, and what each implements.

Each implemented requirement is a FedRAMP Moderate control (OSCAL id, `sc-7.4`) with the rules that
evidence or acknowledge it and the resources they were evaluated on, and its origination as FedRAMP
writes it: `sp-system` where this app implements it, `inherited` (with the provider) where a stage
leaves the service that would evidence it to a landing zone. FedRAMP's SSP template and guide
(automate.fedramp.gov, SSP > Security Controls > Control Origination) mark origination with props
named `control-origination` in FedRAMP's namespace, one per origination: a hybrid control carries
several. The system security plan (`compliance.oscal.ssp`) is assembled from the same evidence.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from compliance import mapping
from compliance.model import ComplianceModel, Control, Status
from compliance.oscal.base import (
    BASELINE_PROFILE,
    COMPONENTS,
    FEDRAMP_NS,
    WORKLOAD,
    Stamp,
    component_of,
    metadata,
    outcome,
    present,
    profile_resource,
    prop,
    subject_uuid,
)

Evidence = dict[tuple[str, str], tuple[list[str], list[str]]]


def evidence(model: ComplianceModel) -> Evidence:
    """(component, control) -> (rules, resources) of the passing or acknowledged evaluations behind it."""
    citing: dict[str, set[str]] = defaultdict(set)
    # Through the rules the reviewed mapping says evidence a control, never a citation alone.
    for rule in model.rules:
        for target in mapping.evidence().get(rule.rule, ()):
            citing[rule.rule].add(mapping.control_of(target))
    found: dict[tuple[str, str], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for evaluation in model.evaluations:
        if evaluation.status is Status.NON_COMPLIANT:
            continue
        for cid in citing.get(evaluation.rule, ()):
            rules, resources = found[(component_of(evaluation.scope), cid)]
            rules.add(evaluation.rule)
            resources.add(f"{evaluation.scope}:{evaluation.path}")
    return {key: (sorted(rules), sorted(resources)) for key, (rules, resources) in found.items()}


def inherited(model: ComplianceModel) -> dict[str, dict[str, list[str]]]:
    """Control -> provider -> the stages that inherit it from that provider (the workload's, in model order)."""
    found: dict[str, dict[str, list[str]]] = {}
    for inheritance in model.inheritances:
        for control in inheritance.controls:
            scopes = found.setdefault(control, {}).setdefault(inheritance.provider, [])
            if inheritance.scope not in scopes:
                scopes.append(inheritance.scope)
    return found


def origination(value: str, remarks: str | None = None) -> dict[str, Any]:
    return prop("control-origination", value, ns=FEDRAMP_NS, remarks=remarks)


def implemented_by(name: str, rules: list[str], resources: list[str]) -> str:
    """The narrative of a control a component implements at synth."""
    return (
        f"implemented by resources of the {name.lower()} that {len(rules)} synth-time rule(s) evaluate "
        f"({len(resources)} resource evaluation(s))"
    )


def inherited_narratives(providers: dict[str, list[str]]) -> list[str]:
    return [
        f"inherited in {', '.join(scopes)} from {provider}, which runs the service there (leveraged)"
        for provider, scopes in providers.items()
    ]


def _requirement(
    name: str, control: Control, found: tuple[list[str], list[str]], providers: dict[str, list[str]]
) -> dict[str, Any]:
    """A control as the component implements it (`found`: rules and resources), inherits it, or both."""
    rules, resources = found
    parts: list[str] = []
    props: list[dict[str, Any]] = []
    result = outcome(control)
    if rules and result is not None:
        parts.append(implemented_by(name, rules, resources))
        # trestle's authoring commands carry a requirement's status through the SSP's markdown by this prop's name.
        props += [origination("sp-system"), prop("implementation-status", result.implementation)]
        props += [*(prop("rule", r) for r in rules), *(prop("resource", r) for r in resources)]
    if providers:
        parts += inherited_narratives(providers)
        remarks = "; ".join(f"In {', '.join(scopes)}, inherited from {p}" for p, scopes in providers.items())
        props += [origination("inherited", f"{remarks}."), *(prop("inherited-from", p) for p in providers)]
    return present(
        {
            "uuid": subject_uuid("implemented-requirement", name, control.control),
            "control-id": control.control,
            "description": f"{control.label} {control.title}: {'; '.join(parts)}.",
            "props": props,
            "remarks": "The system security plan links each provider as a leveraged authorization."
            if providers
            else None,
        }
    )


def requirements(
    model: ComplianceModel, name: str, found: Evidence, providers: dict[str, dict[str, list[str]]]
) -> list[dict[str, Any]]:
    """The controls the component implements at synth, or inherits (`providers`: only stages, the workload, do)."""
    return [
        _requirement(name, control, evidenced, providers.get(control.control, {}))
        for control in model.controls
        for evidenced in [found.get((name, control.control), ([], [])) if outcome(control) else ([], [])]
        if evidenced[0] or control.control in providers
    ]


def component_definition(model: ComplianceModel) -> dict[str, Any]:
    stamp, found, providers = Stamp.of(model), evidence(model), inherited(model)
    components = []
    for name, description in COMPONENTS.items():
        implemented = requirements(model, name, found, providers if name == WORKLOAD else {})
        implementation = {
            "uuid": subject_uuid("control-implementation", name),
            "source": BASELINE_PROFILE.href,
            "description": f"FedRAMP Rev 5 Moderate controls the {name.lower()} implements, as synthesized.",
            "implemented-requirements": implemented,
        }
        components.append(
            present(
                {
                    "uuid": subject_uuid("component", name),
                    "type": "software",
                    "title": name,
                    "description": description,
                    "control-implementations": [implementation] if implemented else None,
                }
            )
        )
    return {
        "uuid": stamp.uuid("component-definition"),
        "metadata": metadata(stamp, "FedRAMP Moderate monitoring platform: component definition"),
        "components": components,
        "back-matter": {"resources": [profile_resource()]},
    }
