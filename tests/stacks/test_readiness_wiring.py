"""What `/ready` and the smoke step rely on: the service's IAM sign-in, its own database user, one admitted route."""

from __future__ import annotations

import json
from typing import Any

from components.private_api import HEALTH_CHECK_ROUTE
from config import AppConfig
from config.aws_facts import partition_of
from stacks.data import SERVICE_DATABASE_USER
from tests.conftest import StackArtifact, resources_of


def _stage_stacks(stacks: dict[str, StackArtifact], name: str) -> list[StackArtifact]:
    return [artifact for path, artifact in stacks.items() if path.count("/") == 2 and path.endswith(f"/{name}")]


def _statements(template: dict[str, Any], role_fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        if role_fragment in json.dumps(policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_every_stage_is_checked(stacks: dict[str, StackArtifact], fixture_config: AppConfig) -> None:
    assert len(_stage_stacks(stacks, "Service")) == len(fixture_config.environments)


def test_the_task_signs_in_to_the_database_as_its_own_user_only(stacks: dict[str, StackArtifact]) -> None:
    for service in _stage_stacks(stacks, "Service"):
        (connect,) = [s for s in _statements(service.template_json, "TaskRole") if s["Action"] == "rds-db:connect"]
        resource = json.dumps(connect["Resource"])
        assert ":dbuser:" in resource
        assert f"/{SERVICE_DATABASE_USER}" in resource
        (task,) = resources_of(service.template_json, "AWS::ECS::TaskDefinition").values()
        environment = {e["Name"]: e["Value"] for e in task["Properties"]["ContainerDefinitions"][0]["Environment"]}
        assert environment["DB_USER"] == SERVICE_DATABASE_USER
        assert environment["DB_CA_BUNDLE"] == f"/app/certs/rds-ca-{partition_of(service.region)}.pem"


def test_the_database_user_is_created_inside_the_vpc_from_the_master_secret(stacks: dict[str, StackArtifact]) -> None:
    for data in _stage_stacks(stacks, "Data"):
        template = data.template_json
        (user,) = resources_of(template, "Custom::DatabaseUser").values()
        props = user["Properties"]
        assert props["User"] == SERVICE_DATABASE_USER
        assert props["Partition"] == partition_of(data.region)
        (function,) = [
            f
            for f in resources_of(template, "AWS::Lambda::Function").values()
            if f["Properties"]["Handler"] == "index.handler"
        ]
        assert props["ServiceToken"] == {
            "Fn::GetAtt": [next(k for k, v in template["Resources"].items() if v is function), "Arn"]
        }
        fp = function["Properties"]
        assert fp["VpcConfig"]["SubnetIds"]
        assert "ReservedConcurrentExecutions" not in fp  # an unsized account may refuse any reservation
        assert fp["Runtime"].startswith("python3.")
        # One customer-managed policy on the function's role: the master secret, its key, its logs.
        (policy,) = resources_of(template, "AWS::IAM::ManagedPolicy").values()
        assert policy["Properties"]["Roles"] == [{"Ref": fp["Role"]["Fn::GetAtt"][0]}]
        statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
        assert statements["MasterSecret"]["Resource"] == props["MasterSecretArn"]
        assert statements["MasterSecretKey"]["Action"] == "kms:Decrypt"
        assert "secretsmanager." in json.dumps(statements["MasterSecretKey"]["Condition"])
        assert statements["OwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]


def test_only_the_readiness_route_is_admitted_to_the_pipeline_account(stacks: dict[str, StackArtifact]) -> None:
    method, path = HEALTH_CHECK_ROUTE
    assert (method, path) == ("GET", "/ready")
    for service in _stage_stacks(stacks, "Service"):
        (api,) = resources_of(service.template_json, "AWS::ApiGateway::RestApi").values()
        statements = api["Properties"]["Policy"]["Statement"]
        cross_account = [s for s in statements if s["Resource"] != "execute-api:/*"]
        assert [s["Resource"] for s in cross_account] == [f"execute-api:/*/{method}{path}"]
    pipeline = stacks["Pipeline"].template_json
    invokes = [
        statement
        for policy in resources_of(pipeline, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "execute-api:Invoke"
    ]
    assert len(invokes) == len(_stage_stacks(stacks, "Service"))
    for statement in invokes:
        assert json.dumps(statement["Resource"]).endswith(f':*/*/{method}{path}"')
