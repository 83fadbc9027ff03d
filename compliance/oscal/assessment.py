"""`assessment-plan.json` and `assessment-results.json`: what every synth assesses, and what this one found.

The plan imports the system security plan (`system-security-plan.json`) and assesses the baseline's
controls on both components by examining the synthesized templates (OSCAL's EXAMINE method: the
templates are the system's specification; nothing deployed is tested at synth).

The results import the plan and hold one result: this run. Per control assessed at synth, one
observation (the rules and resources behind its status, the tools that evaluated them, and as
relevant evidence the templates of the stacks those resources are in, with the SHA-256 of each, the
CDK's validation report and the run's evidence manifest) and one finding (its status as in
controls.csv); each acknowledgment and each open finding is a risk (`compliance.oscal.risks`). The
tools and their versions are the result's own assessment assets, so results of two runs merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.assembly import MANIFEST, REPORT_DIRECTORY, VALIDATION_REPORT, CloudAssembly
from compliance.attestation import sha256_of
from compliance.model import ComplianceModel, Control
from compliance.oscal.base import (
    ASSESSMENT_PLAN,
    COMPONENTS,
    SYSTEM_SECURITY_PLAN,
    Stamp,
    assessment_assets,
    component_of,
    metadata,
    origins,
    outcome,
    present,
    prop,
    rule_tools,
    subject_uuid,
    timestamp,
)
from compliance.oscal.risks import (
    Deviations,
    acknowledgment_key,
    acknowledgment_risk,
    finding_key,
    finding_risk,
    open_findings,
    packs_of_findings,
    related_findings,
    risk_uuid,
)

METHOD = "EXAMINE"  # SP 800-53A: reviewing specifications (the templates); TEST would exercise the deployed system


@dataclass(frozen=True)
class EvidenceFile:
    """A file of the run's assembly an observation rests on, with its SHA-256 as the evidence manifest lists it."""

    path: str  # POSIX path in the assembly
    sha256: str  # "" for the manifest: it hashes the results, so the results cannot hash it
    description: str
    stack: str = ""  # the stack's construct path, for a template


def evidence_files(assembly: Path | None) -> list[EvidenceFile]:
    """The templates, the validation report and the manifest of `assembly` (none where there is no assembly)."""
    if assembly is None or not CloudAssembly(assembly).exists():
        return []
    reader = CloudAssembly(assembly)
    found = [
        EvidenceFile(
            stack.template_file.relative_to(assembly).as_posix(),
            sha256_of(stack.template_file),
            f"CloudFormation template of stack {stack.path} ({stack.stack_name}, {stack.account or '?'} "
            f"{stack.region or '?'}), as synthesized and evaluated",
            stack.path,
        )
        for stack in reader.stacks
        if stack.template_file is not None
    ]
    if reader.validation_report_file.exists():
        found.append(
            EvidenceFile(
                VALIDATION_REPORT,
                sha256_of(reader.validation_report_file),
                "The CDK's policy-validation report: every finding of cdk-nag's packs and the Control Tower rules",
            )
        )
    found.append(
        EvidenceFile(
            f"{REPORT_DIRECTORY}/{MANIFEST}",
            "",
            "The run's evidence manifest: the SHA-256 of every file of the assembly, this document included; the "
            "pipeline's SignEvidence step signs the same files, bound to the run",
        )
    )
    return found


def _resource_uuid(stamp: Stamp, item: EvidenceFile) -> str:
    if item.sha256:  # named by its content: a file two runs share is one resource of a merged document
        return subject_uuid("evidence-file", item.path, item.sha256)
    return stamp.uuid("evidence-file", item.path)


def _resource(stamp: Stamp, item: EvidenceFile) -> dict[str, Any]:
    rlink: dict[str, Any] = {"href": item.path, "media-type": "application/json"}
    if item.sha256:
        rlink["hashes"] = [{"algorithm": "SHA-256", "value": item.sha256}]
    return {"uuid": _resource_uuid(stamp, item), "title": item.path, "description": item.description, "rlinks": [rlink]}


def _stack_of(path: str, stacks: set[str]) -> str:
    """The stack a construct path is in: the longest stack path it starts with."""
    parts = path.split("/")
    return next((s for end in range(len(parts), 0, -1) if (s := "/".join(parts[:end])) in stacks), "")


@dataclass(frozen=True)
class _Evidence:
    """The run's evidence files, each with its relevant-evidence entry, and the stacks whose templates they hold."""

    files: list[EvidenceFile]
    entries: list[dict[str, Any]]  # of each file, in order
    stacks: set[str]

    @staticmethod
    def of(stamp: Stamp, files: list[EvidenceFile]) -> _Evidence:
        entries = [
            present(
                {
                    "href": f"#{_resource_uuid(stamp, f)}",
                    "description": f.description,
                    "props": [prop("sha256", f.sha256)] if f.sha256 else None,
                }
            )
            for f in files
        ]
        return _Evidence(files, entries, {f.stack for f in files if f.stack})


def _relevant_evidence(control: Control, evidence: _Evidence, deviations: Deviations) -> list[dict[str, Any]] | None:
    """The files behind a control's status: the templates of the resources its rules passed on and of the resources
    its deviations accept findings on, the validation report and the manifest."""
    paths = [r.split(":", 1)[1] for r in control.resources]
    paths += [a.path for a in deviations.behind(control)]
    behind = {_stack_of(path, evidence.stacks) for path in paths}
    chosen = [e for f, e in zip(evidence.files, evidence.entries, strict=True) if not f.stack or f.stack in behind]
    return chosen or None


def _reviewed_controls(model: ComplianceModel) -> dict[str, Any]:
    return {
        "control-selections": [
            {
                "description": "The FedRAMP Rev 5 Moderate baseline",
                "include-controls": [{"control-id": c.control} for c in model.controls],
            }
        ]
    }


def _subjects() -> list[dict[str, Any]]:
    return [
        {
            "type": "component",
            "include-subjects": [
                {"subject-uuid": subject_uuid("component", name), "type": "component"} for name in COMPONENTS
            ],
        }
    ]


def assessment_plan(model: ComplianceModel) -> dict[str, Any]:
    stamp = Stamp.of(model)
    activity = {
        "uuid": subject_uuid("activity", "synth-time-evaluation"),
        "title": "Synth-time examination of the templates",
        "description": (
            "Every synth evaluates each resource of the synthesized CloudFormation templates against the NIST "
            "800-53 R5, AWS Solutions, Control Tower and Preflight rules and CloudFormation's own template checks, "
            "and each acknowledgment's compensating checks against the resources they name."
        ),
        "props": [{"name": "method", "value": METHOD}],
    }
    return {
        "uuid": stamp.uuid("assessment-plan"),
        "metadata": metadata(stamp, "FedRAMP Moderate monitoring platform: synth-time assessment plan"),
        "import-ssp": {"href": SYSTEM_SECURITY_PLAN},
        "local-definitions": {"activities": [activity]},
        "reviewed-controls": _reviewed_controls(model),
        "assessment-subjects": _subjects(),
        "assessment-assets": assessment_assets(stamp),
    }


def _observation(
    stamp: Stamp, model: ComplianceModel, control: Control, evidence: _Evidence, deviations: Deviations
) -> dict[str, Any]:
    components = sorted({component_of(r.split(":", 1)[0]) for r in control.resources})
    observation = {
        "uuid": stamp.uuid("observation", control.control),
        "title": f"{control.label}: {control.status}",
        "description": f"{len(control.rules)} rule(s) on {len(control.resources)} resource(s) give {control.label} "
        f"the status '{control.status}' at synth.",
        "props": [
            *(prop("rule", r) for r in control.rules),
            *(prop("resource", r) for r in control.resources),
            *(prop("deviation", d) for d in control.deviations),
        ]
        or None,
        "methods": [METHOD],
        "origins": origins(stamp, rule_tools(model.rules, control.rules)),
        "subjects": [
            {"subject-uuid": subject_uuid("component", name), "type": "component", "title": name} for name in components
        ]
        or None,
        "relevant-evidence": _relevant_evidence(control, evidence, deviations),
        "collected": timestamp(stamp.time),
    }
    return present(observation)


def _finding(stamp: Stamp, model: ComplianceModel, control: Control, risks: list[str]) -> dict[str, Any]:
    result = outcome(control)
    assert result is not None
    finding = {
        "uuid": stamp.uuid("finding", control.control),
        "title": f"{control.label} {control.title}",
        "description": f"Status at synth: {control.status}.",
        "props": [prop("synth-status", str(control.status))],
        "origins": origins(stamp, rule_tools(model.rules, control.rules)),
        "target": {
            "type": "objective-id",
            "target-id": f"{control.control}_obj",
            "status": present(
                {
                    "state": result.state,
                    "reason": result.reason,
                    "remarks": f"{len(risks)} related risk(s) open or awaiting approval; see the related risks"
                    if risks
                    else None,
                }
            ),
        },
        "related-observations": [{"observation-uuid": stamp.uuid("observation", control.control)}],
        "related-risks": [{"risk-uuid": r} for r in risks] or None,
    }
    return present(finding)


def run_props(stamp: Stamp) -> list[dict[str, Any]]:
    """What tells two runs apart inside one merged document."""
    return [
        prop("commit", stamp.commit),
        prop("working-tree", "uncommitted changes" if stamp.uncommitted else "as committed"),
        prop("configuration-sha256", stamp.config_sha256 or "unrecorded"),
    ]


def assessment_results(model: ComplianceModel, assembly: Path | None = None) -> dict[str, Any]:
    """This run's results; `assembly` (the run's cloud assembly) gives the files that are their evidence."""
    stamp, files, acks = Stamp.of(model), evidence_files(assembly), list(model.acknowledgments)
    found, packs = open_findings(model), packs_of_findings(model)
    evidence, deviations = _Evidence.of(stamp, files), Deviations.of(acks)
    observations, findings = [], []
    for control in model.controls:
        if outcome(control) is None:
            continue
        observations.append(_observation(stamp, model, control, evidence, deviations))
        related = [risk_uuid(stamp, acknowledgment_key(a)) for a in deviations.behind(control)]
        related += [risk_uuid(stamp, finding_key(e)) for e in related_findings(control, found)]
        findings.append(_finding(stamp, model, control, related))
    risks = [acknowledgment_risk(stamp, a, packs.get(a.finding, ""), model.approval) for a in acks]
    risks += [finding_risk(stamp, model, e) for e in found]
    result = present(
        {
            "uuid": stamp.uuid("result"),
            "title": f"Synth of {stamp.version}",
            "description": "Rule evaluation of the synthesized templates of every stage and the pipeline.",
            "start": timestamp(stamp.time),
            "end": timestamp(stamp.time),
            "props": run_props(stamp),
            "local-definitions": {"assessment-assets": assessment_assets(stamp)},
            "reviewed-controls": _reviewed_controls(model),
            "observations": observations or None,
            "risks": risks or None,
            "findings": findings or None,
        }
    )
    return present(
        {
            "uuid": stamp.uuid("assessment-results"),
            "metadata": metadata(stamp, "FedRAMP Moderate monitoring platform: synth-time assessment results"),
            "import-ap": {"href": ASSESSMENT_PLAN},
            "results": [result],
            "back-matter": {"resources": [_resource(stamp, f) for f in files]} if files else None,
        }
    )
