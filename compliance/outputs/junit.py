"""junit.xml: one test case per scope and rule, for CI test tabs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from compliance.model import (
    ComplianceModel,
    Evaluation,
    Status,
)
from compliance.outputs.common import TOOL_NAME, group_evaluations, scopes

JUNIT = "junit.xml"


# Characters XML 1.0 forbids; a stray one in a message would make the whole file unparseable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("", text)


def render_junit(model: ComplianceModel) -> str:
    """junit.xml: a test suite per scope, a test case per rule evaluated there.

    A case fails when any resource is non-compliant. An acknowledged-only case passes, as the gate does,
    but its output names the acknowledged resources and why, so the CI test tab still shows them.
    """
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
                output.text = _xml_text(
                    "\n".join(f"acknowledged {e.path} [{e.finding}]: {e.reason}" for e in acknowledged)
                )
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total_tests += tests
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
