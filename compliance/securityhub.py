"""What we acknowledge at synth stays acknowledged in Security Hub: automation rules that suppress exactly that.

Security Hub CSPM's NIST SP 800-53 Rev. 5 standard runs controls backed by AWS Config rules
(`data/securityhub-controls-nist-800-53-r5.tsv`: control id, Config rule, resource types).
An acknowledged synth finding whose rule is the twin of such a Config rule (`compliance.twins`)
will fail that control on the same resource, so it becomes a `Suppression`, and the
suppressions become automation rules (`compliance.outputs.securityhub_rules`): criteria on the control
id, the resource ids, their accounts and a FAILED status; action FINDING_FIELDS_UPDATE with
workflow SUPPRESSED and the acknowledgment's reason as the note. Rules are merged where one
control, region and reason cover several resources, within the limits below.

Only the Security Hub administrator account may create automation rules, so the rules are an
output: a JSON document in the report directory and an optional stack
(`stacks/securityhub_automation.py`, `make securityhub-rules`). A resource id is an ARN; where
its name is generated at deploy time, the ARN holds `${Parameter}` for the physical id, which
the stack takes as a CloudFormation parameter and the document says how to read.

This module is what the rules are made from: the controls table, the service's limits, how a
resource's ARN is formed. Standard library only: the reports are rebuilt from findings.json without
the CDK.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

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
