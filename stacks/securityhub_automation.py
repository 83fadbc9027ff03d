"""The Security Hub automation rules that carry this app's acknowledgments, for the administrator account."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_securityhub as securityhub
from constructs import Construct

_Rule = securityhub.CfnAutomationRule


class SecurityHubAutomationStack(cdk.Stack):
    """Automation rules that suppress exactly the control findings the synth gate acknowledged (CA-7, RA-5).

    Not a stage of the pipeline: automation rules can be created only by the Security Hub
    administrator account, and apply in the region they are created in (or, from the home
    region, in its linked regions). Each rule is one document entry of
    `securityhub-automation-rules.json`: it names its control and its resources, and its note
    is the acknowledgment's reason. A resource id that only the deployment knows is a
    parameter of this stack, whose description says how to read it from the stage's stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rules: list[dict[str, Any]],
        parameters: list[dict[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        used = {p["name"] for p in parameters if any("${" + p["name"] + "}" in _ids(rule) for rule in rules)}
        for parameter in parameters:
            if parameter["name"] in used:
                cdk.CfnParameter(
                    self,
                    parameter["name"],
                    type="String",
                    allowed_pattern=r"\S+",
                    description=(
                        f"Physical id of {parameter['logical_id']} in stack {parameter['stack']} (account "
                        f"{parameter['account']}, {parameter['region']}): {parameter['command']}"
                    )[:4000],
                )
        for number, rule in enumerate(rules, start=1):
            _Rule(
                self,
                f"Rule{number}",
                rule_name=rule["RuleName"],
                rule_order=rule["RuleOrder"],
                rule_status=rule["RuleStatus"],
                is_terminal=rule["IsTerminal"],
                description=rule["Description"],
                criteria=_criteria(rule["Criteria"]),
                actions=[_action(action) for action in rule["Actions"]],
            )


def _ids(rule: dict[str, Any]) -> str:
    return " ".join(f["Value"] for f in rule["Criteria"]["ResourceId"])


def _filters(filters: list[dict[str, str]]) -> list[_Rule.StringFilterProperty]:
    # A value that holds a `${Parameter}` is substituted by CloudFormation at deploy time.
    return [
        _Rule.StringFilterProperty(
            comparison=f["Comparison"], value=cdk.Fn.sub(f["Value"]) if "${" in f["Value"] else f["Value"]
        )
        for f in filters
    ]


def _criteria(criteria: dict[str, list[dict[str, str]]]) -> _Rule.AutomationRulesFindingFiltersProperty:
    return _Rule.AutomationRulesFindingFiltersProperty(
        compliance_security_control_id=_filters(criteria["ComplianceSecurityControlId"]),
        compliance_status=_filters(criteria["ComplianceStatus"]),
        aws_account_id=_filters(criteria["AwsAccountId"]),
        resource_id=_filters(criteria["ResourceId"]),
    )


def _action(action: dict[str, Any]) -> _Rule.AutomationRulesActionProperty:
    update = action["FindingFieldsUpdate"]
    return _Rule.AutomationRulesActionProperty(
        type=action["Type"],
        finding_fields_update=_Rule.AutomationRulesFindingFieldsUpdateProperty(
            workflow=_Rule.WorkflowUpdateProperty(status=update["Workflow"]["Status"]),
            note=_Rule.NoteUpdateProperty(text=update["Note"]["Text"], updated_by=update["Note"]["UpdatedBy"]),
        ),
    )
