"""`system-security-plan.json`: the skeleton of the system security plan, from what the synth knows.

What it fills in: the system (a name, and an id derived from where the pipeline runs until FedRAMP
assigns one), the authorization boundary (the pipeline's and every stage's account and region, one
inventory item each), AWS as the leveraged authorization (GovCloud or commercial, by the partitions
of those regions) with each AWS service the templates use as a leveraged component, the pipeline
and the workload as components, and for each of the baseline's controls an implemented
requirement: by component, the narrative and implementation status synth gives it (or its
inheritance from a landing zone), and for every control synth cannot show a `This System` part for
the organisation to write. The profile is the pinned FedRAMP baseline (its SHA-256 in back-matter).

What it cannot know is the team's to write, and says so where it stands (`REPLACE`): FedRAMP's
system id, the information types and their categorization, the people behind each role, AWS's
authorization package id and date, diagrams, interconnections, and every procedural control.
`trestle author ssp-assemble` accepts it as the SSP to merge the component definition into: a
`This System` component, version-4 uuids, by-components only of the components it knows.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from compliance.model import AcknowledgmentRecord, ComplianceModel, Control
from compliance.oscal.base import (
    BASELINE_PROFILE,
    COMPONENTS,
    FEDRAMP_NS,
    PIPELINE,
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
from compliance.oscal.component import evidence, implemented_by, inherited, inherited_narratives, origination
from compliance.oscal.risks import Deviations
from config.aws_facts import partition_of

SYSTEM_NAME = "FedRAMP Moderate monitoring platform"
THIS_SYSTEM = "This System"  # the component `trestle author ssp-assemble` requires of an SSP it merges into
REPLACE = "REPLACE"  # marks what the team writes by hand
_PARTITIONS = {"aws": "AWS commercial regions", "aws-us-gov": "AWS GovCloud (US)"}
_ROLES = {
    "system-owner": "System Owner",
    "authorizing-official": "Authorizing Official",
    "information-system-security-officer": "Information System Security Officer",
    "pipeline-approver": "Pipeline approver",
    "platform-engineer": "Platform engineer (break glass)",
}
_MODERATE = "fips-199-moderate"


def _partitions(stamp: Stamp) -> list[str]:
    regions = [stamp.pipeline[1], *(region for _, region in stamp.stages.values())]
    return list(dict.fromkeys(partition_of(r) for r in regions if r)) or ["aws"]


def _partition_title(partition: str) -> str:
    return _PARTITIONS.get(partition, f"AWS ({partition})")


def _leveraged(stamp: Stamp) -> list[dict[str, Any]]:
    return [
        {
            "uuid": subject_uuid("leveraged-authorization", partition),
            "title": _partition_title(partition),
            "props": [prop("leveraged-system-identifier", REPLACE, ns=FEDRAMP_NS)],
            "party-uuid": subject_uuid("party", "aws"),
            "date-authorized": "1970-01-01",
            "remarks": f"{REPLACE}: the FedRAMP package id and date-authorized of AWS's authorization for "
            f"{_partition_title(partition)}, from the FedRAMP Marketplace; the synth does not know them.",
        }
        for partition in _partitions(stamp)
    ]


def _services(model: ComplianceModel) -> dict[str, list[str]]:
    """AWS service namespace ("S3") -> the resource types of it the templates hold, from the evaluations."""
    found: dict[str, set[str]] = defaultdict(set)
    for evaluation in model.evaluations:
        parts = evaluation.resource_type.split("::")
        # AWS::Serverless is SAM's transform, not a service: what it expands to is evaluated under its own type.
        if len(parts) == 3 and parts[0] == "AWS" and parts[1] != "Serverless":
            found[parts[1]].add(evaluation.resource_type)
    return {service: sorted(types) for service, types in sorted(found.items())}


def _external(partition: str) -> list[dict[str, Any]]:
    """The props of a component another authorization covers: which one, and that it is outside the boundary."""
    return [
        {"name": "leveraged-authorization-uuid", "value": subject_uuid("leveraged-authorization", partition)},
        {"name": "implementation-point", "value": "external"},
    ]


def _components(model: ComplianceModel, stamp: Stamp) -> list[dict[str, Any]]:
    owner_sets = {"state": "under-development", "remarks": f"{REPLACE}: the operational state, as the owner knows it."}
    ours = [
        {
            "uuid": subject_uuid("component", THIS_SYSTEM),
            "type": "this-system",
            "title": THIS_SYSTEM,
            "description": f"{SYSTEM_NAME}, as a whole: what the organisation implements beyond its components.",
            "status": owner_sets,
        },
        *(
            {
                "uuid": subject_uuid("component", name),
                "type": "software",
                "title": name,
                "description": description,
                "status": owner_sets,
            }
            for name, description in COMPONENTS.items()
        ),
    ]
    leveraged = []
    primary = _partitions(stamp)[0]
    for partition in _partitions(stamp):
        leveraged.append(
            {
                "uuid": subject_uuid("component", "leveraged-system", partition),
                "type": "leveraged-system",
                "title": _partition_title(partition),
                "description": f"{_partition_title(partition)}: the cloud the components run on, under its own "
                "FedRAMP authorization (leveraged).",
                "props": _external(partition),
                "status": {"state": "operational"},
            }
        )
    for service, types in _services(model).items():
        leveraged.append(
            {
                "uuid": subject_uuid("component", "aws-service", service),
                "type": "service",
                "title": f"AWS {service}",
                "description": f"The AWS service behind {', '.join(types)}, leveraged from "
                f"{_partition_title(primary)}.",
                "props": _external(primary),
                "status": {"state": "operational"},
            }
        )
    return ours + leveraged


def _inventory(stamp: Stamp) -> list[dict[str, Any]]:
    """One item per place the system runs: the pipeline's account and region, then each stage's."""
    places = [(PIPELINE, stamp.pipeline), *stamp.stages.items()]
    return [
        {
            "uuid": subject_uuid("inventory-item", name, account, region),
            "description": f"{name}: AWS account {account}, region {region}",
            "props": [prop("scope", name), prop("aws-account", account), prop("aws-region", region)],
            "implemented-components": [{"component-uuid": subject_uuid("component", component_of(name))}],
        }
        for name, (account, region) in places
        if account and region
    ]


def _boundary(model: ComplianceModel, stamp: Stamp) -> str:
    account, region = stamp.pipeline
    stages = "; ".join(f"{name} in account {a}, {r}" for name, (a, r) in stamp.stages.items()) or "none recorded"
    providers = sorted({i.provider for i in model.inheritances})
    outside = f" What a stage inherits instead of deploying it is provided by: {'; '.join(providers)}."
    clouds = ", ".join(map(_partition_title, _partitions(stamp)))
    return (
        f"The boundary holds the delivery pipeline (account {account or '?'}, {region or '?'}) and every stage of the "
        f"workload it deploys ({stages}): each stage's network, data, service, observability and account-baseline "
        f"stacks, as the synthesized templates define them. AWS ({clouds}) runs the services they use under its own "
        f"FedRAMP authorization (leveraged).{outside if providers else ''} {REPLACE}: the "
        "boundary diagram, the external connections (the source repository's connection, e-mail notification, "
        "the users' networks) and anything the organisation adds."
    )


def _part(name: str, control: Control, description: str) -> dict[str, Any]:
    """A component's part of a control this app implements, with the implementation status its synth status gives."""
    result = outcome(control)
    assert result is not None
    return {
        "component-uuid": subject_uuid("component", name),
        "uuid": subject_uuid("by-component", name, control.control),
        "description": f"{control.label} {control.title}: {description}",
        "props": [origination("sp-system")],
        "implementation-status": {"state": result.implementation},
    }


def _by_component(name: str, control: Control, rules: list[str], resources: list[str]) -> dict[str, Any]:
    return _part(
        name,
        control,
        f"{implemented_by(name, rules, resources)}; status at synth '{control.status}'. Rules: {', '.join(rules)}.",
    )


def _by_deviation(name: str, control: Control, deviations: list[AcknowledgmentRecord]) -> dict[str, Any]:
    """A component's part of a control that only acknowledged deviations stand behind: an alternative implementation,
    their compensating controls, which the gate checks at synth."""
    named = "; ".join(f"{a.name} (compensating control: {a.compensating_control})" for a in deviations)
    return _part(
        name,
        control,
        f"no rule evidences it at synth on this component; status at synth '{control.status}'. Deviations: {named}.",
    )


def _requirement(
    control: Control,
    found: dict[tuple[str, str], tuple[list[str], list[str]]],
    providers: dict[str, list[str]],
    acks: Deviations,
) -> dict[str, Any]:
    parts = []
    if outcome(control):
        behind = acks.behind(control)
        for name in COMPONENTS:
            rules, resources = found.get((name, control.control), ([], []))
            deviations = [a for a in behind if component_of(a.scope) == name]
            if rules:
                parts.append(_by_component(name, control, rules, resources))
            elif deviations:
                parts.append(_by_deviation(name, control, deviations))
    workload = next((p for p in parts if p["component-uuid"] == subject_uuid("component", WORKLOAD)), None)
    if providers and workload is not None:
        workload["description"] += f" Also {'; '.join(inherited_narratives(providers))}."
        workload["props"].append(origination("inherited"))
    elif providers:
        parts.append(
            {
                "component-uuid": subject_uuid("component", WORKLOAD),
                "uuid": subject_uuid("by-component", WORKLOAD, control.control),
                "description": f"{control.label} {control.title}: {'; '.join(inherited_narratives(providers))}.",
                "props": [origination("inherited")],
            }
        )
    if not parts:
        parts.append(
            {
                "component-uuid": subject_uuid("component", THIS_SYSTEM),
                "uuid": subject_uuid("by-component", THIS_SYSTEM, control.control),
                "description": f"{REPLACE}: how the organisation implements {control.label} {control.title}. No "
                "synth-time rule evidences it: a policy, procedure or runtime practice is the organisation's to "
                "describe.",
            }
        )
    return {
        "uuid": subject_uuid("ssp-implemented-requirement", control.control),
        "control-id": control.control,
        "by-components": parts,
    }


def system_security_plan(model: ComplianceModel) -> dict[str, Any]:
    stamp, found, providers = Stamp.of(model), evidence(model), inherited(model)
    deviations = Deviations.of(model.acknowledgments)
    aws = {"uuid": subject_uuid("party", "aws"), "type": "organization", "name": "Amazon Web Services"}
    characteristics = {
        "system-ids": [{"identifier-type": "https://ietf.org/rfc/rfc4122", "id": stamp.system_id}],
        "system-name": SYSTEM_NAME,
        "system-name-short": "fedramp-monitoring",
        "description": (
            f"{SYSTEM_NAME}: a monitoring workload (network, data, service, observability and account baseline per "
            "stage) delivered by a self-mutating AWS CDK pipeline that synthesizes, checks and promotes it through "
            f"its stages. {REPLACE}: the service model, the deployment model, the customers it serves and the "
            "purpose the organisation states."
        ),
        "security-sensitivity-level": _MODERATE,
        "system-information": {
            "information-types": [
                {
                    "uuid": subject_uuid("information-type", "monitoring"),
                    "title": "Monitoring data",
                    "description": f"{REPLACE}: the information types the system processes, categorized with NIST "
                    "SP 800-60; FedRAMP Moderate bounds each impact at moderate.",
                    "confidentiality-impact": {"base": _MODERATE},
                    "integrity-impact": {"base": _MODERATE},
                    "availability-impact": {"base": _MODERATE},
                }
            ]
        },
        "security-impact-level": {
            "security-objective-confidentiality": _MODERATE,
            "security-objective-integrity": _MODERATE,
            "security-objective-availability": _MODERATE,
        },
        "status": {"state": "under-development", "remarks": f"{REPLACE}: the system's operational state."},
        "authorization-boundary": {"description": _boundary(model, stamp)},
    }
    implementation = present(
        {
            "leveraged-authorizations": _leveraged(stamp),
            "users": [
                {
                    "uuid": subject_uuid("user", role),
                    "title": _ROLES[role],
                    "description": description,
                    "role-ids": [role],
                }
                for role, description in (
                    (
                        "pipeline-approver",
                        "Approves pipeline changes, security-diff broadenings and promotions to "
                        "stages that wait for a person (CodePipeline manual approvals).",
                    ),
                    (
                        "platform-engineer",
                        "Deploys the pipeline stack from a workstation when the pipeline itself is "
                        "broken (break glass), from a reviewed commit.",
                    ),
                )
            ],
            "components": _components(model, stamp),
            "inventory-items": _inventory(stamp) or None,
        }
    )
    return {
        "uuid": stamp.uuid("system-security-plan"),
        "metadata": metadata(
            stamp,
            f"{SYSTEM_NAME}: system security plan (skeleton)",
            roles=[{"id": role, "title": title} for role, title in _ROLES.items()],
            parties=[aws],
        ),
        "import-profile": {"href": BASELINE_PROFILE.href},
        "system-characteristics": characteristics,
        "system-implementation": implementation,
        "control-implementation": {
            "description": "How the FedRAMP Rev 5 Moderate baseline is implemented: what synth shows of each "
            f"component, what a stage inherits, and ({THIS_SYSTEM}) what the organisation writes.",
            "implemented-requirements": [
                _requirement(c, found, providers.get(c.control, {}), deviations) for c in model.controls
            ],
        },
        "back-matter": {"resources": [profile_resource()]},
    }
