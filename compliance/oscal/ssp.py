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

from compliance.model import AcknowledgmentRecord, ComplianceModel, Control, SystemDescription
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

# What the plan calls the system when the configuration does not say (`system:` in the configuration file).
DEFAULT_SYSTEM = SystemDescription(name="FedRAMP Moderate monitoring platform", short_name="fedramp-monitoring")
# FedRAMP's identifier type for the package id it assigns (GSA fedramp-automation, ADR 0010: "For FedRAMP systems,
# the only allowed value is http://fedramp.gov/ns/oscal").
FEDRAMP_ID_TYPE = "http://fedramp.gov/ns/oscal"
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
# The roles the configuration's `system` section names people for, in its order.
_NAMED_ROLES = ("system-owner", "authorizing-official", "information-system-security-officer")
_LEVELS = ("low", "moderate")
# The categorization system of an information type's id (OSCAL SSP model, system-information: NIST SP 800-60 Vol. II).
SP_800_60 = "https://doi.org/10.6028/NIST.SP.800-60v2r1"


def _partitions(stamp: Stamp) -> list[str]:
    regions = [stamp.pipeline[1], *(region for _, region in stamp.stages.values())]
    return list(dict.fromkeys(partition_of(r) for r in regions if r)) or ["aws"]


def _partition_title(partition: str) -> str:
    return _PARTITIONS.get(partition, f"AWS ({partition})")


def _leveraged(stamp: Stamp, system: SystemDescription) -> list[dict[str, Any]]:
    """AWS's authorization of each partition the system runs in; the configuration's package id and date for the
    pipeline's (every stage is in it: a pipeline cannot deploy across partitions)."""
    leveraged = []
    for index, partition in enumerate(_partitions(stamp)):
        known = index == 0 and bool(system.aws_package_id)
        leveraged.append(
            {
                "uuid": subject_uuid("leveraged-authorization", partition),
                "title": _partition_title(partition),
                "props": [
                    prop("leveraged-system-identifier", system.aws_package_id if known else REPLACE, ns=FEDRAMP_NS)
                ],
                "party-uuid": subject_uuid("party", "aws"),
                "date-authorized": system.aws_date_authorized if known else "1970-01-01",
                "remarks": "As the configuration's system.aws_authorization gives it."
                if known
                else f"{REPLACE}: the FedRAMP package id and date-authorized of AWS's authorization for "
                f"{_partition_title(partition)}, from the FedRAMP Marketplace (system.aws_authorization in the "
                "configuration file).",
            }
        )
    return leveraged


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


def _components(model: ComplianceModel, stamp: Stamp, system: SystemDescription) -> list[dict[str, Any]]:
    owner_sets = {"state": system.status, "remarks": "The system's operational state, as the configuration gives it."}
    ours = [
        {
            "uuid": subject_uuid("component", THIS_SYSTEM),
            "type": "this-system",
            "title": THIS_SYSTEM,
            "description": f"{system.name}, as a whole: what the organisation implements beyond its components.",
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


def _system_ids(stamp: Stamp, system: SystemDescription) -> list[dict[str, str]]:
    if system.fedramp_id:
        return [{"identifier-type": FEDRAMP_ID_TYPE, "id": system.fedramp_id}]
    return [{"identifier-type": "https://ietf.org/rfc/rfc4122", "id": stamp.system_id}]


def _fips_199(level: str) -> str:
    return f"fips-199-{level}"


def _impact(level: str) -> dict[str, str]:
    """An information type's impact on one objective, as the configuration gives it: the level selected for the
    system (FedRAMP asks for `selected`), and as its base, since the configuration states no other."""
    return {"base": _fips_199(level), "selected": _fips_199(level)}


def _information_types(system: SystemDescription) -> list[dict[str, Any]]:
    if not system.information_types:
        return [
            {
                "uuid": subject_uuid("information-type", "monitoring"),
                "title": "Monitoring data",
                "description": f"{REPLACE}: the information types the system processes, categorized with NIST "
                "SP 800-60 (system.information_types in the configuration file); FedRAMP Moderate bounds each "
                "impact at moderate.",
                "confidentiality-impact": _impact("moderate"),
                "integrity-impact": _impact("moderate"),
                "availability-impact": _impact("moderate"),
            }
        ]
    return [
        present(
            {
                "uuid": subject_uuid("information-type", kind.title),
                "title": kind.title,
                "description": kind.description,
                "categorizations": [{"system": SP_800_60, "information-type-ids": [kind.nist_800_60_id]}],
                "confidentiality-impact": _impact(kind.confidentiality),
                "integrity-impact": _impact(kind.integrity),
                "availability-impact": _impact(kind.availability),
            }
        )
        for kind in system.information_types
    ]


def _levels(system: SystemDescription) -> dict[str, str]:
    """Each security objective's impact level: the highest of the information types' (FIPS 199's high-water mark)."""
    if not system.information_types:
        return {"confidentiality": "moderate", "integrity": "moderate", "availability": "moderate"}
    return {
        objective: max((getattr(t, objective) for t in system.information_types), key=_LEVELS.index)
        for objective in ("confidentiality", "integrity", "availability")
    }


def _impact_level(system: SystemDescription) -> dict[str, str]:
    return {f"security-objective-{objective}": _fips_199(level) for objective, level in _levels(system).items()}


def _sensitivity(system: SystemDescription) -> str:
    """The system's sensitivity level: the highest of its objectives' (FedRAMP's constraint
    security-sensitivity-level-matches-security-impact-level)."""
    return _fips_199(max(_levels(system).values(), key=_LEVELS.index))


def _people(system: SystemDescription) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The parties the configuration names (one per person, whatever roles they hold) and the role each holds (OSCAL
    responsible-parties); a role it names nobody for holds a party the team replaces."""
    parties: dict[str, dict[str, Any]] = {}
    responsible = []
    for role in _NAMED_ROLES:
        person = next((p for p in system.people if p.role == role), None)
        if person is None:
            uuid = subject_uuid("party", "unnamed", role)
            parties[uuid] = {"uuid": uuid, "type": "person", "name": f"{REPLACE}: the {_ROLES[role]}"}
        else:
            uuid = subject_uuid("party", person.name, person.email)
            parties.setdefault(
                uuid, {"uuid": uuid, "type": "person", "name": person.name, "email-addresses": [person.email]}
            )
        responsible.append({"role-id": role, "party-uuids": [uuid]})
    return list(parties.values()), responsible


def system_security_plan(model: ComplianceModel) -> dict[str, Any]:
    stamp, found, providers = Stamp.of(model), evidence(model), inherited(model)
    system = (model.run.system if model.run else None) or DEFAULT_SYSTEM
    deviations = Deviations.of(model.acknowledgments)
    aws = {"uuid": subject_uuid("party", "aws"), "type": "organization", "name": "Amazon Web Services"}
    people, responsible = _people(system)
    described = (
        system.description
        or f"{system.name}: a monitoring workload (network, data, service, observability and account baseline per "
        "stage) delivered by a self-mutating AWS CDK pipeline that synthesizes, checks and promotes it through its "
        f"stages. {REPLACE}: the service model, the deployment model, the customers it serves and the purpose the "
        "organisation states (system.description in the configuration file)."
    )
    characteristics = {
        "system-ids": _system_ids(stamp, system),
        "system-name": system.name,
        "system-name-short": system.short_name,
        "description": described,
        "security-sensitivity-level": _sensitivity(system),
        "system-information": {"information-types": _information_types(system)},
        "security-impact-level": _impact_level(system),
        "status": {"state": system.status},
        "authorization-boundary": {"description": _boundary(model, stamp)},
    }
    implementation = present(
        {
            "leveraged-authorizations": _leveraged(stamp, system),
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
            "components": _components(model, stamp, system),
            "inventory-items": _inventory(stamp) or None,
        }
    )
    return {
        "uuid": stamp.uuid("system-security-plan"),
        "metadata": metadata(
            stamp,
            f"{system.name}: system security plan (skeleton)",
            roles=[{"id": role, "title": title} for role, title in _ROLES.items()],
            parties=[aws, *people],
            **{"responsible-parties": responsible},
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
