"""What we acknowledge at synth stays acknowledged in Security Hub: automation rules that suppress exactly that.

Security Hub CSPM's NIST SP 800-53 Rev. 5 standard runs controls backed by AWS Config rules
(`data/securityhub-controls-nist-800-53-r5.tsv`: control id, Config rule, resource types).
An acknowledged synth finding whose rule is the twin of such a Config rule (`compliance.twins`)
will fail that control on the same resource, so it becomes a `Suppression`, and the
suppressions become automation rules (`automation_rules_document`): criteria on the control
id, the resource ids, their accounts and a FAILED status; action FINDING_FIELDS_UPDATE with
workflow SUPPRESSED and the acknowledgment's reason as the note. Rules are merged where one
control, region and reason cover several resources, within the limits below.

Only the Security Hub administrator account may create automation rules, so the rules are an
output: a JSON document in the report directory and an optional stack
(`stacks/securityhub_automation.py`, `make securityhub-rules`). A resource id is an ARN; where
its name is generated at deploy time, the ARN holds `${Parameter}` for the physical id, which
the stack takes as a CloudFormation parameter and the document says how to read.

Standard library only: the reports are rebuilt from findings.json without the CDK.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from compliance.model import ComplianceModel, Suppression

DOCUMENT_SCHEMA = "fedramp-monitoring/securityhub-automation-rules/1"
DOCUMENT_FILE = "securityhub-automation-rules.json"
# Limits of AWS::SecurityHub::AutomationRule (CloudFormation resource schema, as cfn-lint ships it) and
# of the service: at most 100 automation rules per administrator account and region (Security Hub CSPM
# user guide, "Understanding automation rules").
RULES_PER_REGION = 100
RESOURCE_IDS_PER_RULE = 100
ACCOUNT_IDS_PER_RULE = 100
NOTE_MAX = 512
DESCRIPTION_MAX = 1024
RULE_NAME_MAX = 256
FIRST_RULE_ORDER = 100  # room below for the administrator's own rules, which apply first
NOTE_AUTHOR = "compliance-acknowledgment"
ACCOUNT_TYPE = "AWS::::Account"

# The ARN Security Hub gives a resource of each type, from its physical id ({id}: what `Ref` returns).
ARN_FORMATS: dict[str, str] = {
    "AWS::ApiGateway::Stage": "arn:{partition}:apigateway:{region}::/restapis/{rest_api}/stages/{id}",
    "AWS::CloudTrail::Trail": "arn:{partition}:cloudtrail:{region}:{account}:trail/{id}",
    "AWS::CloudWatch::Alarm": "arn:{partition}:cloudwatch:{region}:{account}:alarm:{id}",
    "AWS::CodeBuild::Project": "arn:{partition}:codebuild:{region}:{account}:project/{id}",
    "AWS::DynamoDB::Table": "arn:{partition}:dynamodb:{region}:{account}:table/{id}",
    "AWS::EC2::SecurityGroup": "arn:{partition}:ec2:{region}:{account}:security-group/{id}",
    "AWS::EC2::Subnet": "arn:{partition}:ec2:{region}:{account}:subnet/{id}",
    "AWS::EC2::VPC": "arn:{partition}:ec2:{region}:{account}:vpc/{id}",
    "AWS::EC2::Volume": "arn:{partition}:ec2:{region}:{account}:volume/{id}",
    "AWS::EC2::Instance": "arn:{partition}:ec2:{region}:{account}:instance/{id}",
    "AWS::EFS::FileSystem": "arn:{partition}:elasticfilesystem:{region}:{account}:file-system/{id}",
    "AWS::ElastiCache::ReplicationGroup": "arn:{partition}:elasticache:{region}:{account}:replicationgroup:{id}",
    "AWS::ElastiCache::CacheCluster": "arn:{partition}:elasticache:{region}:{account}:cluster:{id}",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "{id}",
    "AWS::IAM::ManagedPolicy": "{id}",
    "AWS::IAM::Role": "arn:{partition}:iam::{account}:role/{id}",
    "AWS::KMS::Key": "arn:{partition}:kms:{region}:{account}:key/{id}",
    "AWS::Lambda::Function": "arn:{partition}:lambda:{region}:{account}:function:{id}",
    "AWS::Logs::LogGroup": "arn:{partition}:logs:{region}:{account}:log-group:{id}",
    "AWS::RDS::DBInstance": "arn:{partition}:rds:{region}:{account}:db:{id}",
    "AWS::Redshift::Cluster": "arn:{partition}:redshift:{region}:{account}:cluster:{id}",
    "AWS::S3::Bucket": "arn:{partition}:s3:::{id}",
    "AWS::SNS::Topic": "{id}",
}
# Types whose ARN cannot be formed from what `describe-stack-resource` returns (a WAFv2 web ACL's physical id
# is "name|id|scope"): an acknowledgment on one is listed as unwritable, never suppressed by a guess.
NO_ARN_FORM: dict[str, str] = {"AWS::WAFv2::WebACL": "its physical id is name|id|scope, not the ARN"}
# The property that names a resource, where CloudFormation's `Ref` returns that name (and a template may set it).
NAME_PROPERTIES: dict[str, str] = {
    "AWS::ApiGateway::Stage": "StageName",
    "AWS::CloudTrail::Trail": "TrailName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::Redshift::Cluster": "ClusterIdentifier",
    "AWS::S3::Bucket": "BucketName",
}
# Identifiers some services store in lower case whatever the template says.
LOWER_CASE = frozenset({"AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::Redshift::Cluster"})


@dataclass(frozen=True)
class SecurityHubControl:
    """A control of the NIST SP 800-53 Rev. 5 standard and the AWS Config rule behind it."""

    control: str
    config_rule: str
    resource_types: tuple[str, ...]
    title: str
    note: str


@cache
def controls() -> tuple[SecurityHubControl, ...]:
    text = resources.files("compliance.data").joinpath("securityhub-controls-nist-800-53-r5.tsv").read_text("utf-8")
    return tuple(
        SecurityHubControl(
            row["control"], row["config_rule"], tuple(row["resource_types"].split()), row["title"], row["note"] or ""
        )
        for row in csv.DictReader(text.splitlines(), delimiter="\t")
    )


def controls_of(config_rule: str) -> tuple[SecurityHubControl, ...]:
    return tuple(c for c in controls() if c.config_rule == config_rule)


def parameter_name(stack_name: str, logical_id: str) -> str:
    """A CloudFormation parameter name for one resource's physical id: alphanumeric, at most 255 characters."""
    return re.sub(r"[^A-Za-z0-9]", "", f"{stack_name}{logical_id}")[:255]


def read_command(stack_name: str, logical_id: str, region: str) -> str:
    """The command that prints a deployed resource's physical id (with the credentials of its account)."""
    return (
        f"aws cloudformation describe-stack-resource --region {region} --stack-name {stack_name} "
        f"--logical-resource-id {logical_id} --query StackResourceDetail.PhysicalResourceId --output text"
    )


# --- The automation rules -------------------------------------------------------------------------


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
    """Region -> the automation rules (CreateAutomationRule request bodies) that carry the suppressions.

    One rule per control, region and reason (the note), split where it would name more resources or
    accounts than a rule holds. Suppressions without a resource id cannot be written and are left out
    (`unwritable` lists them).
    """
    groups: dict[_Group, list[Suppression]] = defaultdict(list)
    for suppression in suppressions:
        if suppression.resource_ids:
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
        "parameters": parameters(model.suppressions),
        "unwritable": unwritable,
    }


def render_document(model: ComplianceModel) -> str:
    return json.dumps(automation_rules_document(model), indent=2) + "\n"
