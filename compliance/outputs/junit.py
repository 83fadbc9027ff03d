"""junit.xml: one test case per scope and rule, for CI test tabs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from compliance.model import (
    AcknowledgmentRecord,
    ComplianceModel,
    Evaluation,
    Status,
    acknowledgments_by_name,
)
from compliance.outputs.common import TOOL_NAME, group_evaluations, scopes

JUNIT = "junit.xml"


# Characters XML 1.0 forbids; a stray one in a message would make the whole file unparseable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("", text)


def render_junit(model: ComplianceModel) -> str:
    """junit.xml: a test suite per scope, a test case per rule evaluated there; a `Synth` suite with an error per
    synth error outside the packs, where there are any.

    A case fails when any resource is non-compliant. An acknowledged-only case passes, as the gate does,
    but its output names the acknowledged resources, the kind of each deviation and why, so the CI test tab
    still shows them.
    """
    records = acknowledgments_by_name(model.acknowledgments)
    root = ET.Element("testsuites", name=TOOL_NAME)
    by_scope: dict[str, list[tuple[str, str, list[Evaluation]]]] = {}
    for (scope, pack, rule), evaluations in group_evaluations(model.evaluations).items():
        by_scope.setdefault(scope, []).append((pack, rule, evaluations))
    total_tests = total_failures = 0
    for scope in scopes(model):
        suite = ET.SubElement(root, "testsuite", name=scope)
        tests = failures = 0
        for pack, rule, evaluations in by_scope.get(scope, []):
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=f"{scope}.{pack}", name=rule)
            failing = [e for e in evaluations if e.status is Status.NON_COMPLIANT]
            acknowledged = [e for e in evaluations if e.status is Status.ACKNOWLEDGED]
            if failing:
                failures += 1
                listing = [f"{e.path}: {e.message or e.finding}" for e in failing]
                failure = ET.SubElement(case, "failure", message=_xml_text("; ".join(listing)), type="non-compliant")
                failure.text = _xml_text("\n".join(f"{e.path} [{e.finding}]: {e.message}" for e in failing))
            if acknowledged:
                output = ET.SubElement(case, "system-out")
                output.text = _xml_text("\n".join(_acknowledged_line(e, records) for e in acknowledged))
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total_tests += tests
        total_failures += failures
    if model.synth_errors:
        # What failed the synth outside the packs is a test tab's error, not a rule's failure: no rule was judged.
        suite = ET.SubElement(root, "testsuite", name="Synth", tests=str(len(model.synth_errors)), failures="0")
        suite.set("errors", str(len(model.synth_errors)))
        suite.set("skipped", "0")
        for index, line in enumerate(model.synth_errors, 1):
            case = ET.SubElement(suite, "testcase", classname="Synth", name=f"synth error {index}")
            ET.SubElement(case, "error", message=_xml_text(line), type="synth-error")
        total_tests += len(model.synth_errors)
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", str(len(model.synth_errors)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _acknowledged_line(evaluation: Evaluation, records: dict[str, AcknowledgmentRecord]) -> str:
    """An acknowledged finding as the case's output lists it: the resource, the finding, the kind, the reason
    (`records`: the acknowledgments by name, the evaluation naming the one that accepted it)."""
    record = records.get(evaluation.acknowledgment)
    kind = f" ({record.kind})" if record is not None else ""
    return f"acknowledged {evaluation.path} [{evaluation.finding}]{kind}: {evaluation.reason}"
