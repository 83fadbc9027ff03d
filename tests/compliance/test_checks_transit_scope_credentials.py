"""The claims of encryption in transit, of a grant's scope and of credentials: each on a template where it holds
and on templates where it does not, one for each way it can fail."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from compliance.checks import (
    Check,
    EncryptedEndToEnd,
    GivenNoCredential,
    GrantedOnlyOn,
    IamAuthenticationRequired,
    IamDatabaseAuthentication,
    MasterSecretReadOnlyByAdministrators,
)
from compliance.references import TemplateIndex

ACCOUNT, REGION = "123456789012", "us-west-2"
SUBJECT = "Fixture/Subject/Resource"
Resources = dict[str, dict[str, Any]]


def _resource(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    return {"Type": kind, "Properties": props}


def _index(resources: Resources) -> TemplateIndex:
    template = {"Resources": copy.deepcopy(resources)}
    for logical_id, resource in template["Resources"].items():
        resource.setdefault("Metadata", {})["aws:cdk:path"] = f"Fixture/{logical_id}/Resource"
    return TemplateIndex.from_templates({"Fixture": template}, region=REGION, account=ACCOUNT)


def _changed(resources: Resources, logical_id: str, **properties: Any) -> Resources:
    changed = copy.deepcopy(resources)
    changed[logical_id]["Properties"].update(properties)
    return changed


def _holds(check: Check, resources: Resources) -> bool:
    results = check.evaluate(SUBJECT, _index(resources))
    assert results
    assert all(r.evidence for r in results)
    return all(r.holds for r in results)


# --- every hop encrypted -------------------------------------------------------------------------


def _integration(uri: str) -> dict[str, Any]:
    return {"Type": "HTTP_PROXY", "Uri": uri, "ConnectionType": "VPC_LINK", "ConnectionId": {"Ref": "Link"}}


API: Resources = {
    "Api": _resource("AWS::ApiGateway::RestApi", {}),
    "Subject": _resource("AWS::ApiGateway::Stage", {"RestApiId": {"Ref": "Api"}}),
    "Root": _resource(
        "AWS::ApiGateway::Method",
        {"RestApiId": {"Ref": "Api"}, "Integration": _integration("https://backend.example.com:443/")},
    ),
    "Link": _resource("AWS::ApiGateway::VpcLink", {"TargetArns": [{"Ref": "Balancer"}]}),
    "Balancer": _resource("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Type": "network"}),
    "Listener": _resource(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "LoadBalancerArn": {"Ref": "Balancer"},
            "Protocol": "TLS",
            "Port": 443,
            "Certificates": [{"CertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/1"}],
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Targets"}}],
        },
    ),
    "Targets": _resource("AWS::ElasticLoadBalancingV2::TargetGroup", {"Protocol": "TLS", "Port": 8080}),
}


def test_encrypted_end_to_end_holds_when_every_hop_is_tls() -> None:
    (result,) = EncryptedEndToEnd().evaluate(SUBJECT, _index(API))
    assert result.holds, result
    assert result.evidence == "1 integration(s) https; 1 listener(s) TLS; 1 target group(s) TLS"


@pytest.mark.parametrize(
    ("logical_id", "properties", "evidence"),
    [
        ("Root", {"Integration": _integration("http://backend.example.com:80/")}, "Fixture/Root/Resource http"),
        ("Listener", {"Protocol": "TCP", "Certificates": []}, "Fixture/Listener/Resource TCP"),
        ("Targets", {"Protocol": "TCP"}, "Fixture/Targets/Resource TCP"),
    ],
    ids=["http-integration", "tcp-listener", "tcp-target-group"],
)
def test_encrypted_end_to_end_fails_on_any_plain_hop(
    logical_id: str, properties: dict[str, Any], evidence: str
) -> None:
    (result,) = EncryptedEndToEnd().evaluate(SUBJECT, _index(_changed(API, logical_id, **properties)))
    assert not result.holds
    assert result.evidence == f"unencrypted: {evidence}"


def test_encrypted_end_to_end_does_not_hold_without_a_load_balancer_behind_the_link() -> None:
    orphan = copy.deepcopy(API)
    del orphan["Listener"], orphan["Targets"]
    (result,) = EncryptedEndToEnd().evaluate(SUBJECT, _index(orphan))
    assert not result.holds
    assert result.evidence == "no listener or target group found behind the stage"


# --- a wildcard grant's scope --------------------------------------------------------------------

BUCKET_ARN = {"Fn::GetAtt": ["Bucket", "Arn"]}
KEY_ARN = {"Fn::GetAtt": ["Key", "Arn"]}


def _grants(*statements: dict[str, Any]) -> Resources:
    return {
        "Bucket": _resource("AWS::S3::Bucket", {}),
        "Named": _resource("AWS::S3::Bucket", {"BucketName": "replication-bucket-of-this-app"}),
        "Key": _resource("AWS::KMS::Key", {}),
        "Alias": _resource("AWS::KMS::Alias", {"AliasName": "alias/replication", "TargetKeyId": {"Ref": "Key"}}),
        "Subject": _resource("AWS::IAM::Policy", {"PolicyDocument": {"Statement": list(statements)}}),
    }


def _allow(actions: list[str], resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    return {**statement, "Condition": condition} if condition else statement


READ = ["s3:GetObject*", "s3:List*"]
OBJECTS = {"Fn::Join": ["", [BUCKET_ARN, "/*"]]}
ALIASED = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/replication"]}}


@pytest.mark.parametrize(
    ("check", "statements"),
    [
        (GrantedOnlyOn(("s3:GetObject*",)), [_allow(READ, [BUCKET_ARN, OBJECTS])]),
        (GrantedOnlyOn(("s3:GetObject*",)), [_allow(READ, "arn:aws:s3:::replication-bucket-of-this-app/*")]),
        (GrantedOnlyOn(("kms:ReEncrypt*",), resource_type="AWS::KMS::Key"), [_allow(["kms:ReEncrypt*"], KEY_ARN)]),
        (
            GrantedOnlyOn(("kms:ReEncrypt*",), resource_type="AWS::KMS::Key"),
            [_allow(["kms:ReEncrypt*"], f"arn:aws:kms:us-east-2:{ACCOUNT}:key/*", ALIASED)],
        ),
    ],
    ids=["bucket-and-objects", "bucket-by-name", "key", "keys-by-alias"],
)
def test_a_grant_confined_to_this_app_s_bucket_or_key_holds(check: Check, statements: list[dict[str, Any]]) -> None:
    assert _holds(check, _grants(*statements))


@pytest.mark.parametrize(
    ("check", "statements", "evidence"),
    [
        (GrantedOnlyOn(("s3:GetObject*",)), [_allow(READ, "*")], "also on: *"),
        (
            GrantedOnlyOn(("s3:GetObject*",)),
            [_allow(READ, [OBJECTS, "arn:aws:s3:::someone-elses-bucket/*"])],
            "also on: arn:aws:s3:::someone-elses-bucket/*",
        ),
        (
            GrantedOnlyOn(("s3:GetObject*",)),
            [_allow(READ, {"Fn::Join": ["", ["arn:aws:s3:::prefix-", {"Ref": "AWS::AccountId"}, "-*"]]})],
            "also on: arn:aws:s3:::prefix-<AWS::AccountId>-*",
        ),
        (
            GrantedOnlyOn(("s3:GetObject*",)),
            [_allow(READ, {"Fn::Join": ["", [KEY_ARN, "/*"]]})],
            "also on: <ref>/*",
        ),
        (
            GrantedOnlyOn(("kms:ReEncrypt*",), resource_type="AWS::KMS::Key"),
            [_allow(["kms:ReEncrypt*"], f"arn:aws:kms:us-east-2:{ACCOUNT}:key/*")],
            f"also on: arn:aws:kms:us-east-2:{ACCOUNT}:key/*",
        ),
        (GrantedOnlyOn(("s3:GetObject*",)), [_allow(["s3:PutObject"], OBJECTS)], "no statement grants s3:GetObject*"),
    ],
    ids=["everything", "another-bucket", "a-name-pattern", "objects-of-a-key", "keys-without-aliases", "no-grant"],
)
def test_a_grant_reaching_beyond_this_app_s_bucket_or_key_does_not_hold(
    check: Check, statements: list[dict[str, Any]], evidence: str
) -> None:
    (result,) = check.evaluate(SUBJECT, _index(_grants(*statements)))
    assert not result.holds
    assert result.evidence == evidence


# --- credentials ---------------------------------------------------------------------------------

SECRET_READ = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "Secret"}}
CONNECT = {
    "Effect": "Allow",
    "Action": "rds-db:connect",
    "Resource": {
        "Fn::Join": [
            "",
            [f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:", {"Fn::GetAtt": ["Database", "DbiResourceId"]}, "/svc"],
        ]
    },
}


def _workload(*, task_grants: list[dict[str, Any]], admin_grants: list[dict[str, Any]]) -> Resources:
    """A task and its roles, a database with a master secret, and the database-user function that reads it."""
    container = {"Environment": [{"Name": "DB_HOST", "Value": {"Fn::GetAtt": ["Database", "Endpoint.Address"]}}]}
    return {
        "Subject": _resource(
            "AWS::ECS::TaskDefinition",
            {
                "ContainerDefinitions": [container],
                "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
                "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
            },
        ),
        "TaskRole": _resource("AWS::IAM::Role", {}),
        "ExecutionRole": _resource("AWS::IAM::Role", {}),
        "TaskPolicy": _resource(
            "AWS::IAM::Policy", {"Roles": [{"Ref": "TaskRole"}], "PolicyDocument": {"Statement": task_grants}}
        ),
        "Secret": _resource("AWS::SecretsManager::Secret", {}),
        "Database": _resource(
            "AWS::RDS::DBInstance",
            {
                "EnableIAMDatabaseAuthentication": True,
                "MasterUserPassword": {
                    "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "Secret"}, ":SecretString:password}}"]]
                },
            },
        ),
        "AdminRole": _resource("AWS::IAM::Role", {}),
        "AdminPolicy": _resource(
            "AWS::IAM::Policy", {"Roles": [{"Ref": "AdminRole"}], "PolicyDocument": {"Statement": admin_grants}}
        ),
        "AdminFunction": _resource("AWS::Lambda::Function", {"Role": {"Fn::GetAtt": ["AdminRole", "Arn"]}}),
        "DatabaseUser": _resource(
            "Custom::DatabaseUser",
            {"ServiceToken": {"Fn::GetAtt": ["AdminFunction", "Arn"]}, "MasterSecretArn": {"Ref": "Secret"}},
        ),
    }


WORKLOAD = _workload(task_grants=[CONNECT], admin_grants=[SECRET_READ])
ALL_CHECKS = (GivenNoCredential(), IamDatabaseAuthentication(), MasterSecretReadOnlyByAdministrators())


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.name)
def test_the_credential_claims_hold_on_a_task_that_signs_in_with_iam(check: Check) -> None:
    assert _holds(check, WORKLOAD)


def test_the_database_claims_name_the_database_user_and_the_master_secret() -> None:
    (iam,) = IamDatabaseAuthentication().evaluate(SUBJECT, _index(WORKLOAD))
    assert iam.evidence == "IAM authentication on; rds-db:connect as svc"
    (master,) = MasterSecretReadOnlyByAdministrators().evaluate(SUBJECT, _index(WORKLOAD))
    assert master.evidence == "master secret Fixture/Secret; read only by 1 administering function role(s)"


def test_a_task_given_a_secret_or_allowed_to_read_one_is_not_given_no_credential() -> None:
    secret_env = copy.deepcopy(WORKLOAD)
    secret_env["Subject"]["Properties"]["ContainerDefinitions"][0]["Secrets"] = [{"Name": "TOKEN", "ValueFrom": "x"}]
    assert not _holds(GivenNoCredential(), secret_env)
    password = copy.deepcopy(WORKLOAD)
    password["Subject"]["Properties"]["ContainerDefinitions"][0]["Environment"].append(
        {"Name": "DB_PASSWORD", "Value": "x"}
    )
    assert not _holds(GivenNoCredential(), password)
    reader = _workload(task_grants=[CONNECT, {**SECRET_READ, "Resource": "*"}], admin_grants=[SECRET_READ])
    (result,) = GivenNoCredential().evaluate(SUBJECT, _index(reader))
    assert not result.holds
    assert result.evidence == "Fixture/TaskPolicy/Resource allows secretsmanager:getsecretvalue"
    parameters = _workload(
        task_grants=[CONNECT, {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}], admin_grants=[SECRET_READ]
    )
    assert not _holds(GivenNoCredential(), parameters)


def test_a_database_without_iam_authentication_or_with_a_grant_for_any_user_fails() -> None:
    off = _changed(WORKLOAD, "Database", EnableIAMDatabaseAuthentication=False)
    assert not _holds(IamDatabaseAuthentication(), off)
    any_user = _workload(
        task_grants=[{**CONNECT, "Resource": f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:*/*"}],
        admin_grants=[SECRET_READ],
    )
    (result,) = IamDatabaseAuthentication().evaluate(SUBJECT, _index(any_user))
    assert not result.holds
    assert result.evidence == "rds-db:connect for any database user: Fixture/TaskPolicy/Resource"


def test_a_master_secret_the_task_may_read_is_not_read_only_by_administrators() -> None:
    leaked = _workload(task_grants=[CONNECT, SECRET_READ], admin_grants=[SECRET_READ])
    (result,) = MasterSecretReadOnlyByAdministrators().evaluate(SUBJECT, _index(leaked))
    assert not result.holds
    assert result.evidence.startswith("also readable through: Fixture/TaskPolicy/Resource")
    managed_elsewhere = _changed(WORKLOAD, "Database", MasterUserPassword="literal-password")
    (result,) = MasterSecretReadOnlyByAdministrators().evaluate(SUBJECT, _index(managed_elsewhere))
    assert not result.holds
    assert result.evidence.startswith("no master secret in Secrets Manager")


def test_a_database_never_admits_only_iam_callers() -> None:
    """Its master user signs in with a password: the claim that only IAM callers get in is refused for it."""
    (result,) = IamAuthenticationRequired(on="AWS::RDS::DBInstance").evaluate(SUBJECT, _index(WORKLOAD))
    assert not result.holds
    assert "master user signs in with a password" in result.evidence
