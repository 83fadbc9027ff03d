"""ContainerSecrets on plain templates: secrets are credentials and read keys their generated secret holds."""

from __future__ import annotations

from typing import Any

from compliance.preflight.container_secrets import container_secrets
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _secret_ref(secret: str, key: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Ref": secret}, f":{key}::"]]}


def _stack(secrets: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    container = {"Name": "App", "Secrets": [{"Name": n, "ValueFrom": v} for n, v in secrets.items()]}
    generator = {"SecretStringTemplate": '{"username": "app"}', "GenerateStringKey": "password"}
    return {
        "Credentials": resource("AWS::SecretsManager::Secret", {"GenerateSecretString": generator}),
        "Task": resource("AWS::ECS::TaskDefinition", {"ContainerDefinitions": [container]}),
    }


def test_credentials_read_from_keys_the_secret_holds_pass() -> None:
    stack = _stack(
        {"DB_USERNAME": _secret_ref("Credentials", "username"), "DB_PASSWORD": _secret_ref("Credentials", "password")}
    )
    assert_passes(check(container_secrets, stack, "Task"))


def test_a_key_the_secret_does_not_hold_names_the_keys_it_does() -> None:
    verdict = check(container_secrets, _stack({"DB_PASSWORD": _secret_ref("Credentials", "passwd")}), "Task")
    assert_fails(verdict, "DB_PASSWORD:passwd", "which the secret does not contain (its keys: password, username)")


def test_an_endpoint_passed_as_a_secret_says_to_pass_it_as_environment() -> None:
    verdict = check(container_secrets, _stack({"DB_HOST": _secret_ref("Credentials", "username")}), "Task")
    assert_fails(verdict, "DB_HOST", "pass it as a plain environment variable")


def test_a_database_attribute_read_from_an_attached_secret_says_to_pass_it_as_environment() -> None:
    stack = _stack({"DB_ADDRESS": _secret_ref("Attachment", "host")})
    stack["Attachment"] = resource("AWS::SecretsManager::SecretTargetAttachment", {"SecretId": {"Ref": "Credentials"}})
    verdict = check(container_secrets, stack, "Task")
    assert_fails(verdict, "DB_ADDRESS:host", "not a credential", "from the database's attributes")


def test_other_types_are_not_applicable() -> None:
    assert_not_applicable(check(container_secrets, {"Secret": resource("AWS::SecretsManager::Secret")}, "Secret"))
