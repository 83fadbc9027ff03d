"""What `/ready` and the smoke step rely on: the service's IAM sign-in, its own database user, one admitted route."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Capture, Match, Matcher, Template

from components.private_api import HEALTH_CHECK_ROUTE
from config import AppConfig
from config.aws_facts import partition_of
from stacks.data import SERVICE_DATABASE_USER
from tests.conftest import StackArtifact


def _stage_stacks(stacks: dict[str, StackArtifact], name: str) -> list[StackArtifact]:
    return [artifact for path, artifact in stacks.items() if path.count("/") == 2 and path.endswith(f"/{name}")]


def _statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if role_fragment in json.dumps(policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _statement(**pattern: Any) -> Matcher:
    """A policy document with a statement like `pattern`, among others."""
    return Match.object_like({"Statement": Match.array_with([Match.object_like(pattern)])})


def test_every_stage_is_checked(stacks: dict[str, StackArtifact], fixture_config: AppConfig) -> None:
    assert len(_stage_stacks(stacks, "Service")) == len(fixture_config.environments)


def test_the_task_signs_in_to_the_database_as_its_own_user_only(stacks: dict[str, StackArtifact]) -> None:
    for service in _stage_stacks(stacks, "Service"):
        template = service.template
        template.has_resource_properties(
            "AWS::IAM::Policy",
            {
                "Roles": [{"Ref": Match.string_like_regexp("TaskRole")}],
                "PolicyDocument": _statement(
                    Action="rds-db:connect",
                    Resource={
                        "Fn::Join": [
                            "",
                            [Match.string_like_regexp(":dbuser:$"), Match.any_value(), f"/{SERVICE_DATABASE_USER}"],
                        ]
                    },
                ),
            },
        )
        connects = [s for s in _statements(template, "TaskRole") if s["Action"] == "rds-db:connect"]
        assert len(connects) == 1  # its own user only
        for name, value in {
            "DB_USER": SERVICE_DATABASE_USER,
            "DB_CA_BUNDLE": f"/app/certs/rds-ca-{partition_of(service.region)}.pem",
        }.items():
            template.has_resource_properties(
                "AWS::ECS::TaskDefinition",
                {
                    "ContainerDefinitions": [
                        Match.object_like({"Environment": Match.array_with([{"Name": name, "Value": value}])})
                    ]
                },
            )


def test_the_database_user_is_created_inside_the_vpc_from_the_master_secret(stacks: dict[str, StackArtifact]) -> None:
    for data in _stage_stacks(stacks, "Data"):
        template = data.template
        (function,) = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": "index.handler"}})
        secret = Capture()
        template.has_resource_properties(
            "Custom::DatabaseUser",
            {
                "User": SERVICE_DATABASE_USER,
                "Partition": partition_of(data.region),
                "ServiceToken": {"Fn::GetAtt": [function, "Arn"]},
                "MasterSecretArn": secret,
            },
        )
        role, subnets = Capture(), Capture()
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": "index.handler",
                "VpcConfig": Match.object_like({"SubnetIds": subnets}),
                "ReservedConcurrentExecutions": Match.absent(),  # an unsized account may refuse any reservation
                "Runtime": Match.string_like_regexp(r"^python3\."),
                "Role": {"Fn::GetAtt": [role, "Arn"]},
            },
        )
        assert subnets.as_array()
        # The function's role holds one customer-managed policy: the master secret, its key, its logs.
        for statement in (
            {"Sid": "MasterSecret", "Resource": secret.as_object()},
            {
                "Sid": "MasterSecretKey",
                "Action": "kms:Decrypt",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": {
                            "Fn::Join": ["", Match.array_with([Match.string_like_regexp("^secretsmanager\\.")])]
                        }
                    }
                },
            },
            {"Sid": "OwnLogs", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"]},
        ):
            template.has_resource_properties(
                "AWS::IAM::ManagedPolicy",
                {"Roles": [{"Ref": role.as_string()}], "PolicyDocument": _statement(**statement)},
            )


def test_only_the_readiness_route_is_admitted_to_the_pipeline_account(stacks: dict[str, StackArtifact]) -> None:
    method, path = HEALTH_CHECK_ROUTE
    assert (method, path) == ("GET", "/ready")
    for service in _stage_stacks(stacks, "Service"):
        statements = Capture()
        service.template.has_resource_properties(
            "AWS::ApiGateway::RestApi", {"Policy": Match.object_like({"Statement": statements})}
        )
        cross_account = [s for s in statements.as_array() if s["Resource"] != "execute-api:/*"]
        assert [s["Resource"] for s in cross_account] == [f"execute-api:/*/{method}{path}"]
    invokes = [
        statement
        for policy in stacks["Pipeline"].template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "execute-api:Invoke"
    ]
    assert len(invokes) == len(_stage_stacks(stacks, "Service"))  # each stage's smoke step, and nothing else
    for statement in invokes:
        assert json.dumps(statement["Resource"]).endswith(f':*/*/{method}{path}"')
