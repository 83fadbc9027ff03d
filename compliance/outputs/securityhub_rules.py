"""securityhub-automation-rules.json: the Security Hub automation rules that carry the approved acknowledgments.

Each approved `Suppression` of the model (an acknowledged finding that a Security Hub control will also
raise, `compliance.securityhub`, whose acknowledgment the signed-off baseline approves) becomes part of an
automation rule: criteria on the control id, the resource ids, their accounts and a FAILED status; action
FINDING_FIELDS_UPDATE with workflow SUPPRESSED and the acknowledgment's reason as the note. Rules are merged
where one control, region and reason cover several resources, within the service's limits. A deviation
only requested suppresses nothing: the document lists it under `awaiting_approval`. Standard library only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from compliance.model import ComplianceModel, Suppression
from compliance.securityhub import (
    ACCOUNT_IDS_PER_RULE,
    DESCRIPTION_MAX,
    FIRST_RULE_ORDER,
    NOTE_AUTHOR,
    NOTE_MAX,
    RESOURCE_IDS_PER_RULE,
    RULE_NAME_MAX,
    RULES_PER_REGION,
    read_command,
)

DOCUMENT_SCHEMA = "fedramp-monitoring/securityhub-automation-rules/1"


DOCUMENT_FILE = "securityhub-automation-rules.json"


@dataclass(frozen=True)
class _Group:
    region: str
    control: str
    reason: str


def _filter(value: str) -> dict[str, str]:
    return {"Comparison": "EQUALS", "Value": value}


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _chunks(members: list[Suppression]) -> list[list[Suppression]]:
    """Members split so no rule names more than the limits allow."""
    chunks: list[list[Suppression]] = [[]]
    for member in members:
        current = chunks[-1]
        ids = sum(len(m.resource_ids) for m in current) + len(member.resource_ids)
        accounts = len({m.account for m in current} | {member.account})
        if current and (ids > RESOURCE_IDS_PER_RULE or accounts > ACCOUNT_IDS_PER_RULE):
            chunks.append([])
        chunks[-1].append(member)
    return chunks


def automation_rules(suppressions: list[Suppression]) -> dict[str, list[dict[str, Any]]]:
    """Region -> the automation rules (CreateAutomationRule request bodies) that carry the approved suppressions.

    One rule per control, region and reason (the note), split where it would name more resources or
    accounts than a rule holds. Suppressions without a resource id cannot be written and are left out
    (`unwritable` lists them), and so are those whose acknowledgment is not approved (`awaiting_approval`).
    """
    groups: dict[_Group, list[Suppression]] = defaultdict(list)
    for suppression in suppressions:
        if suppression.resource_ids and suppression.approved:
            if len(suppression.reason) > NOTE_MAX:
                raise ValueError(
                    f"the reason of {suppression.finding} on {suppression.path} is {len(suppression.reason)} "
                    f"characters; a Security Hub note holds {NOTE_MAX}: shorten it"
                )
            groups[_Group(suppression.region, suppression.control, suppression.reason)].append(suppression)
    by_region: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for group in sorted(groups, key=lambda g: (g.region, g.control, g.reason)):
        chunks = _chunks(groups[group])
        for part, members in enumerate(chunks, start=1):
            by_region[group.region].append(_rule(group, members, part if len(chunks) > 1 else 0))
    for rules in by_region.values():
        for order, rule in enumerate(rules, start=FIRST_RULE_ORDER):
            rule["RuleOrder"] = order
    return dict(sorted(by_region.items()))


def _rule(group: _Group, members: list[Suppression], part: int) -> dict[str, Any]:
    findings = sorted({m.finding for m in members})
    scopes = sorted({m.scope for m in members})
    ids = sorted({i for m in members for i in m.resource_ids})
    accounts = sorted({m.account for m in members})
    rule = findings[0].split("[")[0]
    name = f"{group.control} acknowledged: {rule}" + (f" (part {part})" if part else "")
    description = (
        f"Suppresses Security Hub control {group.control} on the {len(members)} resource(s) where this app "
        f"acknowledges {', '.join(findings)} at synth ({', '.join(scopes)}). The note is the acknowledgment's "
        "reason; its compensating control and checks are in the compliance report of the run."
    )
    return {
        "RuleName": _truncate(name, RULE_NAME_MAX),
        "RuleOrder": 0,
        "RuleStatus": "ENABLED",
        "IsTerminal": False,
        "Description": _truncate(description, DESCRIPTION_MAX),
        "Criteria": {
            "ComplianceSecurityControlId": [_filter(group.control)],
            "ComplianceStatus": [_filter("FAILED")],
            "AwsAccountId": [_filter(a) for a in accounts],
            "ResourceId": [_filter(i) for i in ids],
        },
        "Actions": [
            {
                "Type": "FINDING_FIELDS_UPDATE",
                "FindingFieldsUpdate": {
                    "Workflow": {"Status": "SUPPRESSED"},
                    "Note": {"Text": group.reason, "UpdatedBy": NOTE_AUTHOR},
                },
            }
        ],
    }


def parameters(suppressions: list[Suppression]) -> list[dict[str, str]]:
    """Each physical id the rules need from a deployed stack: its parameter name and how to read it."""
    found: dict[str, dict[str, str]] = {}
    for s in suppressions:
        if s.parameter and s.resource_ids:
            found.setdefault(
                s.parameter,
                {
                    "name": s.parameter,
                    "account": s.account,
                    "region": s.region,
                    "stack": s.stack_name,
                    "logical_id": s.logical_id,
                    "command": read_command(s.stack_name, s.logical_id, s.region),
                },
            )
    return [found[name] for name in sorted(found)]


def automation_rules_document(model: ComplianceModel) -> dict[str, Any]:
    """The JSON document the Security Hub administrator deploys from (directly, or through the optional stack)."""
    by_region = automation_rules(model.suppressions)
    unwritable = [
        {"control": s.control, "finding": s.finding, "path": s.path, "resource_type": s.resource_type}
        for s in model.suppressions
        if not s.resource_ids
    ]
    return {
        "schema": DOCUMENT_SCHEMA,
        "limits": {
            "rules_per_region": RULES_PER_REGION,
            "resource_ids_per_rule": RESOURCE_IDS_PER_RULE,
            "account_ids_per_rule": ACCOUNT_IDS_PER_RULE,
            "note_characters": NOTE_MAX,
        },
        "count": sum(len(rules) for rules in by_region.values()),
        "over_quota": sorted(region for region, rules in by_region.items() if len(rules) > RULES_PER_REGION),
        "regions": {region: {"count": len(rules), "rules": rules} for region, rules in by_region.items()},
        "parameters": parameters([s for s in model.suppressions if s.approved]),
        "unwritable": unwritable,
        "awaiting_approval": [
            {"control": s.control, "finding": s.finding, "path": s.path, "resource_type": s.resource_type}
            for s in model.suppressions
            if not s.approved
        ],
    }


def render_document(model: ComplianceModel) -> str:
    return json.dumps(automation_rules_document(model), indent=2) + "\n"
