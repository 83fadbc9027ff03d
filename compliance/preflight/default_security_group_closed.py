"""DefaultSecurityGroupClosed: a VPC's default security group is stripped of its rules at deploy time.

A new VPC's default security group allows all traffic between its members and all outbound
traffic. AWS Config's `vpc-default-security-group-closed`, in the FedRAMP Moderate pack the
Baseline deploys, reports it until both rule sets are empty. No template holds that group, so
the rule judges the VPC: it passes when the CDK's `restrict_default_security_group=True`
custom resource (`Custom::VpcRestrictDefaultSG`) is given the VPC's default group.
"""

from __future__ import annotations

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict

RESTRICTING_TYPE = "Custom::VpcRestrictDefaultSG"


def default_security_group_closed(resource: ResourceView, ctx: Context) -> Verdict:
    """A custom resource of the app removes every rule of the VPC's default security group."""
    if resource.type != "AWS::EC2::VPC":
        return Verdict.not_applicable()
    for holder in ctx.index.referrers(resource, RESTRICTING_TYPE):
        group = holder.properties.get("DefaultSecurityGroupId")
        if group == {"Fn::GetAtt": [resource.logical_id, "DefaultSecurityGroup"]}:
            return Verdict.ok()
    return Verdict.fail(
        "open",
        "the VPC's default security group keeps its default rules (all traffic between members, all outbound), "
        "which AWS Config's vpc-default-security-group-closed reports in the account's FedRAMP Moderate pack; "
        "create the VPC with restrict_default_security_group=True",
    )


RULE = PreflightRule(
    "DefaultSecurityGroupClosed",
    frozenset({"AWS::EC2::VPC"}),
    default_security_group_closed,
    "A VPC whose default security group keeps its rules is NON_COMPLIANT with the account baseline's "
    "vpc-default-security-group-closed, and lets anything placed in that group talk to anything else in it.",
    ("SC-7", "AC-4"),
    shortdesc="a VPC whose default security group keeps its rules",
)
