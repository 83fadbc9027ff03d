"""SelfContainedStage on plain templates: a secret or parameter from outside the app is declared or refused."""

from __future__ import annotations

from typing import Any

from compliance.preflight.self_contained_stage import self_contained_stage
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _task(value_from: Any) -> dict[str, dict[str, Any]]:
    container = {"Name": "App", "Secrets": [{"Name": "DB_PASSWORD", "ValueFrom": value_from}]}
    return {"Task": resource("AWS::ECS::TaskDefinition", {"ContainerDefinitions": [container]})}


_EXTERNAL_SECRET = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":secretsmanager:us-west-2:710000000001:secret:monitoring-db-credentials:password::",
        ],
    ]
}


def test_a_secret_the_stage_creates_passes() -> None:
    stack = _task({"Fn::Join": ["", [{"Ref": "Credentials"}, ":password::"]]})
    stack["Credentials"] = resource("AWS::SecretsManager::Secret", {"GenerateSecretString": {}})
    assert_passes(check(self_contained_stage, stack, "Task"))


def test_a_secret_from_outside_the_app_says_to_create_or_declare_it() -> None:
    verdict = check(self_contained_stage, _task(_EXTERNAL_SECRET), "Task")
    assert_fails(verdict, "monitoring-db-credentials", "create it in the stage", "external_prerequisites")


def test_a_declared_prerequisite_passes() -> None:
    verdict = check(
        self_contained_stage, _task(_EXTERNAL_SECRET), "Task", prerequisites=frozenset({"monitoring-db-credentials"})
    )
    assert_passes(verdict)


def test_a_dynamic_reference_to_a_parameter_from_outside_the_app_fails() -> None:
    verdict = check(self_contained_stage, _task("{{resolve:ssm:/monitoring/api-token}}"), "Task")
    assert_fails(verdict, "/monitoring/api-token", "SSM parameter", "external_prerequisites")


def test_a_parameter_read_through_a_template_parameter_fails() -> None:
    stack = {"Resources": _task({"Ref": "TokenParameter"})}
    stack["Parameters"] = {
        "TokenParameter": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/monitoring/api-token"}
    }
    verdict = check(self_contained_stage, {}, "Task", stack="Pipeline/Dev/Other", others={"Pipeline/Dev/Other": stack})
    assert_fails(verdict, "/monitoring/api-token", "reads the SSM parameter", "external_prerequisites")


def test_stacks_outside_a_stage_are_not_applicable() -> None:
    assert_not_applicable(check(self_contained_stage, _task(_EXTERNAL_SECRET), "Task", stack="Pipeline"))
