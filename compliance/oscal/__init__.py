"""The OSCAL package of one synth: component definition, SSP skeleton, assessment plan and results, POA&M.

- `component-definition.json` (`component`): the pipeline and the workload, and the controls each
  implements at synth or inherits.
- `system-security-plan.json` (`ssp`): the skeleton of the SSP: system, boundary, accounts and
  regions, AWS as the leveraged authorization, components, and every control's implemented
  requirement with its narrative and status; `REPLACE` marks what the team writes.
- `assessment-plan.json` (`assessment`): imports the SSP; examines the templates of both components.
- `assessment-results.json` (`assessment`): this run, importing the plan: per control an observation
  (with the templates' SHA-256 as relevant evidence) and a finding, and the risks.
- `plan-of-action-and-milestones.json` (`poam`): the open deviations, when there are any.

Every document is built as OSCAL's JSON, its keys in the order compliance-trestle's models give them,
and written as trestle writes a model (`base.oscal_json`), without going through those models: validating
and serializing through pydantic cost more than the rest of the reports together, and grew with every
stage. `validation` checks a document against trestle's models (generated from NIST's OSCAL 1.2.1
schemas) and that it is byte for byte what trestle writes of it; the test suite runs it on every document
of every configuration it synthesizes. Where text from outside the code reaches a field with a constraint it
could break, it is checked before: a property's value as the document is built (`base.prop`), the names and
titles of the configuration's `system` section by the configuration's loader. `merge` folds the results
of several runs into one document. Identifiers are explained in `base`.
"""

from __future__ import annotations

from pathlib import Path

from compliance.assembly import REPORT_DIRECTORY, CloudAssembly
from compliance.model import ComplianceModel
from compliance.oscal.assessment import assessment_plan, assessment_results
from compliance.oscal.base import (
    ASSESSMENT_PLAN,
    ASSESSMENT_RESULTS,
    BASELINE_PROFILE,
    COMPONENT_DEFINITION,
    FEDRAMP_NS,
    POAM,
    SYSTEM_SECURITY_PLAN,
    oscal_json,
)
from compliance.oscal.component import component_definition
from compliance.oscal.poam import plan_of_action_and_milestones
from compliance.oscal.ssp import system_security_plan

__all__ = [
    "ASSESSMENT_PLAN",
    "ASSESSMENT_RESULTS",
    "BASELINE_PROFILE",
    "COMPONENT_DEFINITION",
    "FEDRAMP_NS",
    "POAM",
    "SYSTEM_SECURITY_PLAN",
    "assessment_plan",
    "assessment_results",
    "component_definition",
    "plan_of_action_and_milestones",
    "system_security_plan",
    "write_oscal",
]


def write_oscal(model: ComplianceModel, directory: Path) -> list[Path]:
    """Write the OSCAL documents into `directory`; return their paths. Where `directory` is an assembly's report
    directory (`cdk.out/compliance`), the results name the assembly's files they rest on, with their SHA-256."""
    assembly = directory.parent if directory.name == REPORT_DIRECTORY else None
    if assembly is not None and not CloudAssembly(assembly).exists():
        assembly = None
    documents = {
        COMPONENT_DEFINITION: component_definition(model),
        SYSTEM_SECURITY_PLAN: system_security_plan(model),
        ASSESSMENT_PLAN: assessment_plan(model),
        ASSESSMENT_RESULTS: assessment_results(model, assembly),
        POAM: plan_of_action_and_milestones(model),
    }
    paths = []
    for name, document in documents.items():
        path = directory / name
        if document is None:
            path.unlink(missing_ok=True)  # a POA&M of an earlier synth is not this one's
            continue
        path.write_bytes(oscal_json(name, document))
        paths.append(path)
    return paths
