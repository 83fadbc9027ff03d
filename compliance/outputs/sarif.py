"""report.sarif: open and acknowledged findings as a SARIF 2.1.0 log, for code scanning (GitHub's among others).

GitHub code scanning takes a result only with a physical location (a file and a region of it) and tells
one run's result from the next by `partialFingerprints` (of which it reads `primaryLocationLineHash`):
https://docs.github.com/en/code-security/reference/code-scanning/sarif-files/sarif-support. A result's
location is the line of the stack's source that names the resource's construct where the model has one
(`compliance.locations`), else the resource's line in its template under `cdk.out/`, which a synth makes
and the repository does not hold: GitHub then shows the alert without a preview of the file. Its
fingerprint hashes the pack, the finding and the resource's construct path: the same finding on the same
resource keeps it across runs and commits, whatever line the resource moves to.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from compliance.assembly import OUTPUT_DIRECTORY
from compliance.catalogue import NIST_800_53_R5
from compliance.model import (
    ComplianceModel,
    Evaluation,
    Place,
    ResourceLocation,
    Rule,
    RunIdentity,
    Status,
    acknowledgments_by_name,
)
from compliance.outputs.common import TOOL_NAME
from compliance.preflight import ASSEMBLY_RULES, PACK, RULES, AssemblyRule, PreflightRule

SARIF = "report.sarif"


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


# Most findings come from cdk-nag's packs, whose rule list is the closest public description of what they check.
INFORMATION_URI = "https://github.com/cdklabs/cdk-nag/blob/main/RULES.md"
# Each cdk-nag pack's part of that list (its heading's anchor), the help of its rules.
NAG_RULES_PAGES = {
    NIST_800_53_R5: f"{INFORMATION_URI}#nist-800-53-rev-5",
    "AwsSolutions": f"{INFORMATION_URI}#aws-solutions",
}
# Where each tool the run names (`RunIdentity.tools`) is described, for the log's tool extensions.
TOOL_PAGES = {
    "aws-cdk-lib": "https://github.com/aws/aws-cdk",
    "cdk-nag": "https://github.com/cdklabs/cdk-nag",
    "Control Tower rules": "https://github.com/cdklabs/cdk-validator-cfnguard",
    "cfn-lint": "https://github.com/aws-cloudformation/cfn-lint",
}
# GitHub's limit on a rule's tags (https://docs.github.com/en/code-security/reference/code-scanning/sarif-files/sarif-support).
MAX_TAGS = 20
MAX_DESCRIPTION = 1024  # characters of a rule's short or full description
# GitHub reads this fingerprint only; its value is "<hash>:<occurrence>", as GitHub's upload action writes it.
LINE_HASH = "primaryLocationLineHash"
# The whole digest under a name of our own, for viewers that read every fingerprint.
FINDING_HASH = "findingOnResource/v1"


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


def _descriptor(rule: Rule, own: PreflightRule | AssemblyRule | None) -> dict[str, Any]:
    """A rule's reportingDescriptor, with the short and full description and help text GitHub requires."""
    short = (own.shortdesc if own is not None and own.shortdesc else "") or _first_sentence(rule.description)
    full = rule.description or short or rule.rule
    help_uri = (own.source_url if own is not None else "") or NAG_RULES_PAGES.get(rule.pack, "")
    cited = f" NIST 800-53 controls cited: {', '.join(rule.cited)}." if rule.cited else ""
    descriptor: dict[str, Any] = {
        "id": rule.rule,
        "shortDescription": {"text": _cut(short or rule.rule)},
        "fullDescription": {"text": _cut(full)},
        "help": {"text": f"{full}{cited}" + (f" See {help_uri}" if help_uri else "")},
    }
    if help_uri:
        descriptor["helpUri"] = help_uri
    # GitHub refuses a log with a rule of more tags than it takes: the full list is a property of its own.
    descriptor["properties"] = {"tags": list(rule.cited[:MAX_TAGS]), "controls": list(rule.cited)}
    return descriptor


def _cut(text: str) -> str:
    """`text` within GitHub's limit on a rule's descriptions (the help carries it whole)."""
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def fingerprint(evaluation: Evaluation) -> str:
    """The sha256 of what makes a finding the same one: its pack, its finding id and its resource's path."""
    identity = "\x00".join((evaluation.pack, evaluation.finding, evaluation.path))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def _region(place: Place) -> dict[str, int]:
    return {
        "startLine": place.line,
        "startColumn": place.column,
        "endLine": place.line,
        "endColumn": place.end_column,
    }


def _physical(uri: str, place: Place) -> dict[str, Any]:
    return {"artifactLocation": {"uri": uri}, "region": _region(place)}


def _template_uri(place: Place) -> str:
    """A template's path as a checkout's `make synth` leaves it: the assembly in `cdk.out/` at the root."""
    return f"{OUTPUT_DIRECTORY}/{place.file}"


def _locations(evaluation: Evaluation, location: ResourceLocation | None, run: RunIdentity | None) -> dict[str, Any]:
    """The result's location (the source line, else the template line) and, under a source line, the template.

    A finding on no resource of the assembly (a plugin that named none) is placed on the configuration's first
    line, the input the synth was made from: GitHub shows no result without a file.
    """
    logical = {
        "name": evaluation.path.rsplit("/", 1)[-1],
        "fullyQualifiedName": evaluation.path,  # construct paths already start at the app
        "kind": "resource",
    }
    if location is None:
        if run is None:
            return {"locations": [{"logicalLocations": [logical]}]}
        configuration = _physical(run.config_file, Place(run.config_file, 1, 1, 2))
        return {"locations": [{"physicalLocation": configuration, "logicalLocations": [logical]}]}
    template = _physical(_template_uri(location.template), location.template)
    if location.source is None:
        return {"locations": [{"physicalLocation": template, "logicalLocations": [logical]}]}
    synthesized = f"{location.logical_id}, as synthesized"
    return {
        "locations": [
            {"physicalLocation": _physical(location.source.file, location.source), "logicalLocations": [logical]}
        ],
        "relatedLocations": [{"id": 1, "physicalLocation": template, "message": {"text": synthesized}}],
    }


def _tool(model: ComplianceModel, descriptors: list[dict[str, Any]]) -> dict[str, Any]:
    """The driver (this project at the run's commit, whose code holds Preflight and the claims) and, as
    extensions, the tools whose packs and checks ran, at their installed versions."""
    run: RunIdentity | None = model.run
    driver: dict[str, Any] = {"name": TOOL_NAME, "informationUri": INFORMATION_URI}
    if run is not None:
        driver["version"] = run.commit
    driver["rules"] = descriptors
    extensions = [
        {"name": tool, "version": version, **({"informationUri": TOOL_PAGES[tool]} if tool in TOOL_PAGES else {})}
        for tool, version in (run.tools.items() if run is not None else ())
        if version and version != "not installed"
    ]
    return {"driver": driver, **({"extensions": extensions} if extensions else {})}


def render_sarif(model: ComplianceModel) -> dict[str, Any]:
    """report.sarif as a SARIF 2.1.0 log: a result per non-compliant or acknowledged evaluation.

    Compliant evaluations are left out: SARIF lists problems, and a pass is not one. Acknowledged findings
    stay in, as in-source suppressions: `accepted` where the signed-off baseline approves the acknowledgment,
    `underReview` while its deviation is only requested (SARIF 2.1.0, 3.35.3: a suppression under review does
    not yet hide the result). A suppression's properties name the acknowledgment's kind (`acknowledgmentKind`:
    operational requirement, tool false positive or generated construct).
    """
    rules_by_id = {(r.pack, r.rule): r for r in model.rules}
    # Our own rules document themselves: a short description, and the AWS documentation they rest on.
    preflight = _preflight_metadata()
    locations = {location.path: location for location in model.locations}
    reported = [e for e in model.evaluations if e.status is not Status.COMPLIANT]
    acknowledgments = acknowledgments_by_name(model.acknowledgments)

    descriptors: list[dict[str, Any]] = []
    index: dict[tuple[str, str], int] = {}
    for evaluation in reported:
        key = (evaluation.pack, evaluation.rule)
        if key in index:
            continue
        # A rule missing from `model.rules` still gets a descriptor, described by its own finding's message.
        rule = rules_by_id.get(key) or Rule(evaluation.pack, evaluation.rule, evaluation.message, (), ())
        index[key] = len(descriptors)
        descriptors.append(_descriptor(rule, preflight.get(rule.rule) if evaluation.pack == PACK else None))

    results: list[dict[str, Any]] = []
    for evaluation in reported:
        key = (evaluation.pack, evaluation.rule)
        description = rules_by_id[key].description if key in rules_by_id else ""
        text = evaluation.message or description or evaluation.rule
        digest = fingerprint(evaluation)
        result: dict[str, Any] = {
            "ruleId": evaluation.rule,
            "ruleIndex": index[key],
            "level": "error" if evaluation.status is Status.NON_COMPLIANT else "note",
            # The path in the message: one source line composes the resource in every stage.
            "message": {"text": f"{text} [{evaluation.finding}] on {evaluation.path}"},
            **_locations(evaluation, locations.get(evaluation.path), model.run),
            "partialFingerprints": {LINE_HASH: f"{digest[:16]}:1", FINDING_HASH: digest},
            "properties": {
                "scope": evaluation.scope,
                "pack": evaluation.pack,
                "finding": evaluation.finding,
                "resourceType": evaluation.resource_type,
            },
        }
        if evaluation.status is Status.ACKNOWLEDGED:
            # The acknowledgment the evaluation names accepted it; only its approval makes the suppression accepted.
            accepted_by = acknowledgments.get(evaluation.acknowledgment)
            status = "accepted" if accepted_by is not None and accepted_by.approved else "underReview"
            suppression: dict[str, Any] = {"kind": "inSource", "status": status, "justification": evaluation.reason}
            if accepted_by is not None:
                suppression["properties"] = {"acknowledgmentKind": str(accepted_by.kind)}
            result["suppressions"] = [suppression]
        results.append(result)

    run: dict[str, Any] = {"tool": _tool(model, descriptors)}
    if model.run is not None:
        # One category per configuration, so uploads of two configurations' logs do not close each other's alerts.
        run["automationDetails"] = {"id": f"{TOOL_NAME}/{model.run.config_file}/"}
    run["results"] = results
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
