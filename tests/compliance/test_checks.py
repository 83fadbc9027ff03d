"""Compensating-control checks: each on one template where its claim holds and one where it does not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from compliance.checks import (
    AccessLogged,
    AssumableOnlyBy,
    AttachedToOneRole,
    BackedUp,
    Check,
    CredentialsOnlyAsSecrets,
    EncryptedAtRest,
    EncryptedWithCmk,
    FlowLogged,
    GrantsConfinedToAccount,
    IamAuthenticationRequired,
    ImagePinnedByDigest,
    InIsolatedSubnets,
    KeptAtLeast,
    KeyRotation,
    NotCached,
    NotInvocableByOthers,
    NotPublic,
    PrivateIntegration,
    PublishConfinedToAccount,
    RetainedOnDelete,
    ServiceGrantsOnly,
    SigningOnly,
    TlsOnly,
    Versioned,
    WildcardGrantsOnly,
    ZonesOfRegion,
    compensating_sentence,
)
from compliance.references import TemplateIndex

ACCOUNT, REGION = "123456789012", "us-west-2"


def _resource(kind: str, props: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    return {"Type": kind, "Properties": props, **attributes}


def _index(resources: dict[str, dict[str, Any]]) -> TemplateIndex:
    """One stack whose resources have paths `Fixture/<logical id>/Resource`."""
    template = {"Resources": copy.deepcopy(resources)}
    for logical_id, resource in template["Resources"].items():
        resource.setdefault("Metadata", {})["aws:cdk:path"] = f"Fixture/{logical_id}/Resource"
    return TemplateIndex.from_templates({"Fixture": template}, region=REGION, account=ACCOUNT)


REF = {"Ref": "Subject"}
KEY = _resource("AWS::KMS::Key", {"EnableKeyRotation": True, "KeyPolicy": {}})
TLS_DENY = {
    "Effect": "Deny",
    "Action": "s3:*",
    "Principal": {"AWS": "*"},
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
SAFE_BUCKET = {
    "VersioningConfiguration": {"Status": "Enabled"},
    "BucketEncryption": {
        "ServerSideEncryptionConfiguration": [
            {
                "ServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]},
                }
            }
        ]
    },
    "LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}},
    "PublicAccessBlockConfiguration": dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    ),
    "LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "ExpirationInDays": 400}]},
}
BUCKET_OK = {
    "Subject": _resource("AWS::S3::Bucket", SAFE_BUCKET, DeletionPolicy="RetainExceptOnCreate"),
    "Key": KEY,
    "Logs": _resource("AWS::S3::Bucket", {}),
    "Policy": _resource("AWS::S3::BucketPolicy", {"Bucket": REF, "PolicyDocument": {"Statement": [TLS_DENY]}}),
}
BUCKET_BAD = {
    "Subject": _resource(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Suspended"},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True},
            "LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "ExpirationInDays": 30}]},
        },
        DeletionPolicy="Delete",
    ),
    # Another bucket's policy that names this one in a condition is not this bucket's TLS policy.
    "Other": _resource("AWS::S3::Bucket", {}),
    "Policy": _resource(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": "Other"},
            "PolicyDocument": {"Statement": [{**TLS_DENY, "Resource": {"Fn::GetAtt": ["Subject", "Arn"]}}]},
        },
    ),
}

ROLE_TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}
POLICY_OK = {
    "Subject": _resource(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {
                "Statement": [
                    {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": f"arn:*:iam::{ACCOUNT}:role/*",
                        "Condition": {"StringEquals": {"iam:ResourceTag/aws-cdk:bootstrap-role": "deploy"}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream"],
                        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/codebuild/*",
                    },
                ]
            },
        },
    ),
    "Role": _resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": ROLE_TRUST}),
}
POLICY_BAD = {
    "Subject": _resource(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": "Role"}, "imported-role"],
            "PolicyDocument": {
                "Statement": [
                    {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "s3:GetObject"], "Resource": "*"},
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:*:iam::{ACCOUNT}:role/*"},
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream"],
                        "Resource": "arn:aws:logs:us-east-1:999999999999:log-group:*",
                    },
                ]
            },
        },
    ),
    "Role": _resource(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com", "AWS": "arn:aws:iam::1:root"},
                    }
                ]
            }
        },
    ),
}


def _network(*, public: bool) -> dict[str, dict[str, Any]]:
    routes: dict[str, dict[str, Any]] = {
        "Vpc": _resource("AWS::EC2::VPC", {"CidrBlock": "10.0.0.0/16"}),
        "Net": _resource("AWS::EC2::Subnet", {"VpcId": {"Ref": "Vpc"}, "AvailabilityZone": "us-west-2a"}),
        "Table": _resource("AWS::EC2::RouteTable", {"VpcId": {"Ref": "Vpc"}}),
        "Association": _resource(
            "AWS::EC2::SubnetRouteTableAssociation", {"SubnetId": {"Ref": "Net"}, "RouteTableId": {"Ref": "Table"}}
        ),
    }
    if public:
        routes["Route"] = _resource(
            "AWS::EC2::Route",
            {"RouteTableId": {"Ref": "Table"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "Igw"}},
        )
        routes["Igw"] = _resource("AWS::EC2::InternetGateway", {})
    else:
        routes["FlowLog"] = _resource("AWS::EC2::FlowLog", {"ResourceId": {"Ref": "Vpc"}, "TrafficType": "ALL"})
    scheme = "internet-facing" if public else "internal"
    routes["Subject"] = _resource(
        "AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": scheme, "Subnets": [{"Ref": "Net"}]}
    )
    return routes


def _api(*, authorization: str, connection: str, caching: bool) -> dict[str, dict[str, Any]]:
    method = {
        "RestApiId": {"Ref": "Api"},
        "AuthorizationType": authorization,
        "Integration": {"ConnectionType": connection},
    }
    stage = {
        "RestApiId": {"Ref": "Api"},
        "MethodSettings": [{"ResourcePath": "/*", "CachingEnabled": caching}],
    }
    if not caching:
        stage["AccessLogSetting"] = {"DestinationArn": {"Fn::GetAtt": ["Logs", "Arn"]}}
    return {
        "Api": _resource("AWS::ApiGateway::RestApi", {}),
        "Method": _resource("AWS::ApiGateway::Method", method),
        "Subject": _resource("AWS::ApiGateway::Stage", stage),
        "Logs": _resource("AWS::Logs::LogGroup", {}),
    }


def _cache(*, iam: bool) -> dict[str, dict[str, Any]]:
    user = {"UserName": "service", "AccessString": "on ~* +@all", "AuthenticationMode": {"Type": "iam"}}
    if not iam:
        user = {
            "UserName": "default",
            "AccessString": "on ~* +@all",
            "AuthenticationMode": {"Type": "no-password-required"},
        }
    return {
        "User": _resource("AWS::ElastiCache::User", user),
        "Group": _resource("AWS::ElastiCache::UserGroup", {"UserIds": [{"Ref": "User"}]}),
        "Key": KEY,
        "Subject": _resource(
            "AWS::ElastiCache::ReplicationGroup",
            {
                "UserGroupIds": [{"Ref": "Group"}],
                "TransitEncryptionEnabled": True,
                "TransitEncryptionMode": "required" if iam else "preferred",
                "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]} if iam else "alias/aws/elasticache",
            },
        ),
    }


DATABASE_OK = {
    "Subject": _resource("AWS::RDS::DBInstance", {"PubliclyAccessible": False}),
    "Plan": _resource("AWS::Backup::BackupPlan", {"BackupPlan": {"BackupPlanRule": [{"RuleName": "Daily"}]}}),
    "Selection": _resource(
        "AWS::Backup::BackupSelection",
        {
            "BackupPlanId": {"Ref": "Plan"},
            "BackupSelection": {"Resources": [{"Fn::Join": ["", ["arn:aws:rds:", {"Ref": "Subject"}]]}]},
        },
    ),
}
FUNCTION_OK = {
    "Subject": _resource("AWS::Lambda::Function", {}),
    "Logs": _resource(
        "AWS::Logs::LogGroup",
        {"LogGroupName": {"Fn::Join": ["", ["/aws/lambda/", {"Ref": "Subject"}]]}, "RetentionInDays": 365},
    ),
}
FUNCTION_BAD = {
    "Subject": _resource("AWS::Lambda::Function", {}),
    "Permission": _resource("AWS::Lambda::Permission", {"FunctionName": {"Ref": "Subject"}, "Principal": "*"}),
}


def _task(*, env: str) -> dict[str, dict[str, Any]]:
    container = {"Environment": [{"Name": env, "Value": "x"}], "Secrets": [{"Name": "DB", "ValueFrom": "arn"}]}
    return {"Subject": _resource("AWS::ECS::TaskDefinition", {"ContainerDefinitions": [container]})}


IMAGE_BY_DIGEST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/build/standard@sha256:{'0123456789abcdef' * 4}"
IMAGE_BY_TAG = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/build/standard:7.0"


CODEARTIFACT = "codeartifact.amazonaws.com"


def _bearer(operator: str, service: str) -> dict[str, dict[str, Any]]:
    statement = {
        "Effect": "Allow",
        "Action": "sts:GetServiceBearerToken",
        "Resource": "*",
        "Condition": {operator: {"sts:AWSServiceName": service}},
    }
    return {"Subject": _resource("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": [statement]}})}


def _build(image: str, credentials: str | None) -> dict[str, dict[str, Any]]:
    environment = {"Image": image, "Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_MEDIUM"}
    if credentials is not None:
        environment["ImagePullCredentialsType"] = credentials
    return {"Subject": _resource("AWS::CodeBuild::Project", {"Environment": environment})}


def _events_grant(actions: list[str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": actions}
    return {**statement, "Condition": condition} if condition else statement


def _encrypted_topic(*, confined: bool) -> dict[str, dict[str, Any]]:
    """A topic encrypted with a key that EventBridge may use, and the topic's policy for EventBridge."""
    source = {"StringEquals": {"aws:SourceAccount": ACCOUNT}} if confined else None
    actions = ["kms:Decrypt", "kms:GenerateDataKey*"] if confined else ["kms:Decrypt", "kms:*"]
    return {
        "Subject": _resource("AWS::KMS::Key", {"KeyPolicy": {"Statement": [_events_grant(actions)]}}),
        "Topic": _resource("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": ["Subject", "Arn"]}}),
        "TopicPolicy": _resource(
            "AWS::SNS::TopicPolicy",
            {"Topics": [{"Ref": "Topic"}], "PolicyDocument": {"Statement": [_events_grant(["sns:Publish"], source)]}},
        ),
    }


CASES: list[tuple[Check, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]] = [
    (Versioned(), BUCKET_OK, BUCKET_BAD),
    (RetainedOnDelete(), BUCKET_OK, BUCKET_BAD),
    (TlsOnly(), BUCKET_OK, BUCKET_BAD),
    (TlsOnly(), _cache(iam=True), _cache(iam=False)),
    (EncryptedWithCmk(), BUCKET_OK, BUCKET_BAD),
    (EncryptedWithCmk(), _cache(iam=True), _cache(iam=False)),
    (EncryptedAtRest(), BUCKET_OK, BUCKET_BAD),
    (AccessLogged(), BUCKET_OK, BUCKET_BAD),
    (
        AccessLogged(),
        _api(authorization="AWS_IAM", connection="VPC_LINK", caching=False),
        _api(authorization="NONE", connection="INTERNET", caching=True),
    ),
    (NotPublic(), BUCKET_OK, BUCKET_BAD),
    (NotPublic(), _network(public=False), _network(public=True)),
    (KeptAtLeast(365), BUCKET_OK, BUCKET_BAD),
    (
        KeptAtLeast(365, on="AWS::Logs::LogGroup"),
        FUNCTION_OK,
        {"Subject": _resource("AWS::Logs::LogGroup", {"RetentionInDays": 30})},
    ),
    (KeyRotation(), {"Subject": KEY}, {"Subject": _resource("AWS::KMS::Key", {"EnableKeyRotation": False})}),
    (IamAuthenticationRequired(), _cache(iam=True), _cache(iam=False)),
    (
        IamAuthenticationRequired(),
        _api(authorization="AWS_IAM", connection="VPC_LINK", caching=False),
        _api(authorization="NONE", connection="INTERNET", caching=True),
    ),
    (
        PrivateIntegration(),
        _api(authorization="AWS_IAM", connection="VPC_LINK", caching=False),
        _api(authorization="NONE", connection="INTERNET", caching=True),
    ),
    (
        NotCached(),
        _api(authorization="AWS_IAM", connection="VPC_LINK", caching=False),
        _api(authorization="NONE", connection="INTERNET", caching=True),
    ),
    (InIsolatedSubnets(), _network(public=False), _network(public=True)),
    (FlowLogged(), _network(public=False), _network(public=True)),
    (AssumableOnlyBy("ecs-tasks.amazonaws.com"), POLICY_OK, POLICY_BAD),
    (WildcardGrantsOnly(("ecr:GetAuthorizationToken",)), POLICY_OK, POLICY_BAD),
    (
        WildcardGrantsOnly(("sts:AssumeRole",), "arn:*:iam::*:role/*", "iam:ResourceTag/aws-cdk:bootstrap-role"),
        POLICY_OK,
        POLICY_BAD,
    ),
    (GrantsConfinedToAccount(("logs",)), POLICY_OK, POLICY_BAD),
    (AttachedToOneRole(), POLICY_OK, POLICY_BAD),
    (
        ZonesOfRegion(),
        _network(public=False),
        {"Subject": _resource("AWS::EC2::Subnet", {"AvailabilityZone": "us-east-1a"})},
    ),
    (BackedUp(), DATABASE_OK, {"Subject": _resource("AWS::RDS::DBInstance", {})}),
    (CredentialsOnlyAsSecrets(), _task(env="DATABASE_HOST"), _task(env="DATABASE_PASSWORD")),
    (NotInvocableByOthers(), FUNCTION_OK, FUNCTION_BAD),
    (
        ServiceGrantsOnly(service="events.amazonaws.com", actions=("kms:Decrypt", "kms:GenerateDataKey*")),
        _encrypted_topic(confined=True),
        _encrypted_topic(confined=False),
    ),
    (
        PublishConfinedToAccount(service="events.amazonaws.com"),
        _encrypted_topic(confined=True),
        _encrypted_topic(confined=False),
    ),
    (
        SigningOnly(),
        {"Subject": _resource("AWS::KMS::Key", {"KeyUsage": "SIGN_VERIFY", "KeySpec": "ECC_NIST_P256"})},
        {"Subject": KEY},
    ),
    (
        WildcardGrantsOnly(
            ("sts:GetServiceBearerToken",), condition="sts:AWSServiceName", condition_value=CODEARTIFACT
        ),
        _bearer("StringEquals", CODEARTIFACT),
        _bearer("StringLike", CODEARTIFACT),
    ),
    (
        WildcardGrantsOnly(
            ("sts:GetServiceBearerToken",), condition="sts:AWSServiceName", condition_value=CODEARTIFACT
        ),
        _bearer("StringEquals", CODEARTIFACT),
        _bearer("StringEquals", "*"),
    ),
    (ImagePinnedByDigest(), _build(IMAGE_BY_DIGEST, "SERVICE_ROLE"), _build(IMAGE_BY_DIGEST, "CODEBUILD")),
    (ImagePinnedByDigest(), _build(IMAGE_BY_DIGEST, "SERVICE_ROLE"), _build(IMAGE_BY_TAG, "SERVICE_ROLE")),
    (ImagePinnedByDigest(), _build(IMAGE_BY_DIGEST, "SERVICE_ROLE"), _build("aws/codebuild/standard:7.0", None)),
]


@pytest.mark.parametrize(("check", "holds", "fails"), CASES, ids=[f"{c.name}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_check_holds_on_one_resource_and_not_on_another(
    check: Check, holds: dict[str, dict[str, Any]], fails: dict[str, dict[str, Any]]
) -> None:
    good = check.evaluate("Fixture/Subject/Resource", _index(holds))
    bad = check.evaluate("Fixture/Subject/Resource", _index(fails))
    assert good
    assert all(r.holds for r in good), good
    assert bad
    assert not all(r.holds for r in bad), bad
    assert all(r.claim == check.claim and r.evidence for r in good + bad)


def test_a_check_with_nothing_to_judge_does_not_hold() -> None:
    (result,) = Versioned().evaluate("Fixture/Subject/Resource", _index({"Subject": KEY}))
    assert not result.holds
    assert result.subject == ""
    assert "no AWS::S3::Bucket" in result.evidence


def test_checks_follow_references_to_the_resources_they_judge() -> None:
    # A policy granting on a bucket: the bucket is what Versioned judges.
    index = _index(
        {
            **BUCKET_OK,
            "Grant": _resource(
                "AWS::IAM::Policy",
                {
                    "PolicyDocument": {
                        "Statement": [{"Effect": "Allow", "Resource": {"Fn::GetAtt": ["Subject", "Arn"]}}]
                    }
                },
            ),
        }
    )
    (result,) = Versioned().evaluate("Fixture/Grant/Resource", index)
    assert result.holds
    assert result.subject == "Fixture/Subject/Resource"


def test_the_compensating_sentence_is_generated_from_the_checks() -> None:
    sentence = compensating_sentence(
        [Versioned(), RetainedOnDelete(on="AWS::S3::Bucket"), TlsOnly(on="AWS::S3::Bucket")]
    )
    assert sentence == (
        "the S3 bucket is versioned; the S3 bucket is retained when its stack is deleted; "
        "and the S3 bucket refuses connections without TLS"
    )


def test_via_judges_only_what_the_policy_grants_that_action_on() -> None:
    index = _index(
        {
            "Rotated": KEY,
            "Signing": _resource("AWS::KMS::Key", {"KeyUsage": "SIGN_VERIFY", "EnableKeyRotation": False}),
            "Subject": _resource(
                "AWS::IAM::Policy",
                {
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["kms:ReEncrypt*"],
                                "Resource": {"Fn::GetAtt": ["Rotated", "Arn"]},
                            },
                            {"Effect": "Allow", "Action": ["kms:Sign"], "Resource": {"Fn::GetAtt": ["Signing", "Arn"]}},
                        ]
                    }
                },
            ),
        }
    )
    assert not all(r.holds for r in KeyRotation().evaluate("Fixture/Subject/Resource", index))
    (result,) = KeyRotation(via="kms:ReEncrypt*").evaluate("Fixture/Subject/Resource", index)
    assert result.holds
    assert result.subject == "Fixture/Rotated/Resource"
    assert result.claim == "the KMS key it grants kms:ReEncrypt* on rotates its key material yearly"


def test_a_bucket_encrypted_through_its_keys_alias_is_encrypted_with_that_key() -> None:
    alias_arn = {"Fn::Join": ["", [f"arn:aws:kms:{REGION}:{ACCOUNT}:", {"Ref": "Alias"}]]}
    encryption = {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": alias_arn}}
    index = _index(
        {
            "Key": KEY,
            "Alias": _resource("AWS::KMS::Alias", {"AliasName": "alias/replication", "TargetKeyId": {"Ref": "Key"}}),
            "Subject": _resource(
                "AWS::S3::Bucket", {"BucketEncryption": {"ServerSideEncryptionConfiguration": [encryption]}}
            ),
        }
    )
    (result,) = EncryptedWithCmk().evaluate("Fixture/Subject/Resource", index)
    assert result.holds
    assert result.evidence == "encrypted with Fixture/Key/Resource"
