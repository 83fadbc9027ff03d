"""An OSCAL document of the package checked against compliance-trestle's models, and against trestle's own writing.

The synth writes the documents as built (`compliance.oscal`), without trestle's pydantic models. `problems`
reads each document of a report directory with the model of its kind, as `trestle validate` does, and
compares the file byte for byte with what trestle writes of the model it read: a document trestle refuses
fails, and so does one whose keys, dates or absent fields differ from trestle's writing of it (what the
golden files and a reader that diffs two runs rely on). The test suite runs it on every document of every
configuration it synthesizes.
"""

from __future__ import annotations

from pathlib import Path

from trestle.common.err import TrestleError
from trestle.core.base_model import OscalBaseModel
from trestle.oscal.assessment_plan import AssessmentPlan
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.component import ComponentDefinition
from trestle.oscal.poam import PlanOfActionAndMilestones
from trestle.oscal.ssp import SystemSecurityPlan

from compliance.oscal.base import ASSESSMENT_PLAN, ASSESSMENT_RESULTS, COMPONENT_DEFINITION, POAM, SYSTEM_SECURITY_PLAN

MODELS: dict[str, type[OscalBaseModel]] = {
    COMPONENT_DEFINITION: ComponentDefinition,
    SYSTEM_SECURITY_PLAN: SystemSecurityPlan,
    ASSESSMENT_PLAN: AssessmentPlan,
    ASSESSMENT_RESULTS: AssessmentResults,
    POAM: PlanOfActionAndMilestones,
}


def read(path: Path) -> OscalBaseModel:
    """The document at `path` (named as the package names its files) as trestle's model, read as trestle reads one
    (`oscal_read`: one root key, OSCAL's name for the model); TrestleError where it is not valid."""
    model = MODELS[path.name].oscal_read(path)
    if model is None:
        raise TrestleError(f"{path}: no such file")
    return model


def problems(directory: Path) -> list[str]:
    """One line per OSCAL document of `directory` that trestle refuses or would write otherwise; none is missing
    but the POA&M (written only when something is open)."""
    found = []
    for name in MODELS:
        path = directory / name
        if not path.exists():
            if name != POAM:
                found.append(f"{name}: missing")
            continue
        try:
            model = read(path)
        except TrestleError as error:
            found.append(f"{name}: not valid OSCAL: {error}")
            continue
        if path.read_bytes() != model.oscal_serialize_json_bytes(pretty=True) + b"\n":
            found.append(f"{name}: valid, but not byte for byte what compliance-trestle writes of it")
    return found
