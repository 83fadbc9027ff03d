"""report.sarif: open and acknowledged findings as a SARIF 2.1.0 log, for code-scanning viewers."""

from __future__ import annotations

import re
from typing import Any

from compliance.model import (
    ComplianceModel,
    Rule,
    Status,
)
from compliance.outputs.common import TOOL_NAME
from compliance.preflight import ASSEMBLY_RULES, PACK, RULES, AssemblyRule, PreflightRule

SARIF = "report.sarif"


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


# Most findings come from cdk-nag's packs, whose rule list is the closest public description of what they check.
INFORMATION_URI = "https://github.com/cdklabs/cdk-nag/blob/main/RULES.md"


_CITATION_SUFFIX = re.compile(r"\s*-?\s*\(Control IDs?: .*\)\.?\s*$")


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _first_sentence(description: str) -> str:
    """A rule description's first sentence, without the trailing "(Control IDs: ...)" the tags already carry."""
    text = " ".join(_CITATION_SUFFIX.sub("", description).split())
    return _SENTENCE_END.split(text, maxsplit=1)[0]


def _preflight_metadata() -> dict[str, PreflightRule | AssemblyRule]:
    """Preflight's rules by finding rule id ("Preflight-RDSEngineVersion"): what each says of itself."""
    found: dict[str, PreflightRule | AssemblyRule] = {}
    every: list[PreflightRule | AssemblyRule] = [*RULES, *ASSEMBLY_RULES]
    for rule in every:
        found.setdefault(f"{PACK}-{rule.rule_id}", rule)
    return found


def render_sarif(model: ComplianceModel) -> dict[str, Any]:
    """report.sarif as a SARIF 2.1.0 log: a result per non-compliant or acknowledged evaluation.

    Compliant evaluations are left out: SARIF lists problems, and a pass is not one. Acknowledged findings
    stay in, as accepted in-source suppressions, so a viewer shows them without counting them as open.
    """
    rules_by_id = {(r.pack, r.rule): r for r in model.rules}
    # Our own rules document themselves: a short description, and the AWS documentation they rest on.
    preflight = _preflight_metadata()
    reported = [e for e in model.evaluations if e.status is not Status.COMPLIANT]

    descriptors: list[dict[str, Any]] = []
    index: dict[tuple[str, str], int] = {}
    for evaluation in reported:
        key = (evaluation.pack, evaluation.rule)
        if key in index:
            continue
        # A rule missing from `model.rules` still gets a descriptor, described by its own finding's message.
        rule = rules_by_id.get(key) or Rule(evaluation.pack, evaluation.rule, evaluation.message, (), ())
        index[key] = len(descriptors)
        descriptor: dict[str, Any] = {
            "id": rule.rule,
            "shortDescription": {"text": _first_sentence(rule.description) or rule.rule},
        }
        own = preflight.get(rule.rule) if evaluation.pack == PACK else None
        if own is not None and own.shortdesc:
            descriptor["shortDescription"] = {"text": own.shortdesc}
        if rule.description:
            descriptor["fullDescription"] = {"text": rule.description}
        if own is not None and own.source_url:
            descriptor["helpUri"] = own.source_url
        descriptor["properties"] = {"tags": list(rule.cited)}
        descriptors.append(descriptor)

    results: list[dict[str, Any]] = []
    for evaluation in reported:
        key = (evaluation.pack, evaluation.rule)
        description = rules_by_id[key].description if key in rules_by_id else ""
        text = evaluation.message or description or evaluation.rule
        result: dict[str, Any] = {
            "ruleId": evaluation.rule,
            "ruleIndex": index[key],
            "level": "error" if evaluation.status is Status.NON_COMPLIANT else "note",
            "message": {"text": f"{text} [{evaluation.finding}]"},
            # No physicalLocation: findings are about synthesized resources, which have no source file and line.
            "locations": [
                {
                    "logicalLocations": [
                        {
                            "name": evaluation.path.rsplit("/", 1)[-1],
                            "fullyQualifiedName": evaluation.path,  # construct paths already start at the app
                            "kind": "resource",
                        }
                    ]
                }
            ],
            "properties": {
                "scope": evaluation.scope,
                "pack": evaluation.pack,
                "finding": evaluation.finding,
                "resourceType": evaluation.resource_type,
            },
        }
        if evaluation.status is Status.ACKNOWLEDGED:
            result["suppressions"] = [{"kind": "inSource", "status": "accepted", "justification": evaluation.reason}]
        results.append(result)

    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": TOOL_NAME, "informationUri": INFORMATION_URI, "rules": descriptors}},
                "results": results,
            }
        ],
    }
