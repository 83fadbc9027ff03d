"""MasterSecretGrant on plain templates: only the database's administering functions read its master secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compliance.assembly import StackView
from compliance.preflight.base import Context, Verdict
from compliance.preflight.master_secret_grant import administering_roles, master_secret_grant, master_secrets
from compliance.references import TemplateIndex
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

READ = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}
SECRET = "DatabaseSecret"


def _ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def _arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _statement(actions: Any, resources: Any, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **more}


def _policy(resource_type: str, statement: dict[str, Any], roles: list[Any]) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": [statement]}
    return resource(resource_type, {"PolicyDocument": document, "Roles": roles})


def data_stack(**extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A data stack as the app writes it: the generated secret, its attachment, the instance that reads it, and
    the database-user function, whose managed policy reads the secret."""
    password = {"Fn::Join": ["", ["{{resolve:secretsmanager:", _ref(SECRET), ":SecretString:password::}}"]]}
    return {
        SECRET: resource("AWS::SecretsManager::Secret", {"GenerateSecretString": {}}),
        "Attachment": resource(
            "AWS::SecretsManager::SecretTargetAttachment",
            {"SecretId": _ref(SECRET), "TargetId": _ref("Database"), "TargetType": "AWS::RDS::DBInstance"},
        ),
        "Database": resource("AWS::RDS::DBInstance", {"MasterUsername": "dbadmin", "MasterUserPassword": password}),
        "UserRole": resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": TRUST}),
        "UserFunction": resource("AWS::Lambda::Function", {"Role": _arn("UserRole")}),
        "UserPolicy": _policy("AWS::IAM::ManagedPolicy", _statement(READ, _ref("Attachment")), [_ref("UserRole")]),
        "DatabaseUser": resource(
            "Custom::DatabaseUser", {"ServiceToken": _arn("UserFunction"), "MasterSecretArn": _ref("Attachment")}
        ),
        "TaskRole": resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": TRUST}),
        **extra,
    }


def _verdict(logical_id: str, **extra: dict[str, Any]) -> Verdict:
    return check(master_secret_grant, data_stack(**extra), logical_id)


def test_the_database_user_functions_grant_passes() -> None:
    assert_passes(_verdict("UserPolicy"))


def test_a_grant_to_another_role_fails_naming_the_policy_the_principal_and_the_secret() -> None:
    grant = _policy("AWS::IAM::Policy", _statement(READ, _ref("Attachment")), [_ref("TaskRole")])

    assert_fails(
        _verdict("TaskPolicy", TaskPolicy=grant),
        f"role TaskRole/{SECRET}",
        "policy TaskPolicy lets role TaskRole read the database master secret Dev-Data/DatabaseSecret",
        "only the database-user function and the secret's rotation function may",
        "remove the grant",
    )


@pytest.mark.parametrize(
    ("actions", "resources"),
    [
        ("secretsmanager:GetSecretValue", _ref(SECRET)),  # the secret itself rather than its attachment
        ("secretsmanager:*", "*"),
        ("*", "*"),
        ("secretsmanager:Get*", {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:*"}),
        (
            "secretsmanager:GetSecretValue",
            {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":secretsmanager:us-west-2:", "*", ":secret:Data*"]]},
        ),
    ],
)
def test_a_grant_through_a_wildcard_action_or_resource_fails(actions: Any, resources: Any) -> None:
    grant = _policy("AWS::IAM::Policy", _statement(actions, resources), [_ref("TaskRole")])

    assert_fails(_verdict("TaskPolicy", TaskPolicy=grant), f"role TaskRole/{SECRET}")


def test_a_grant_on_other_secrets_or_of_other_actions_is_not_judged() -> None:
    other = resource("AWS::SecretsManager::Secret", {})
    grant = _policy("AWS::IAM::Policy", _statement(READ, _ref("Other")), [_ref("TaskRole")])
    describe = _policy("AWS::IAM::Policy", _statement("secretsmanager:DescribeSecret", "*"), [_ref("TaskRole")])
    elsewhere = _policy(
        "AWS::IAM::Policy", _statement("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:*:*:secret:app/*"), []
    )

    assert_not_applicable(_verdict("TaskPolicy", TaskPolicy=grant, Other=other))
    assert_not_applicable(_verdict("TaskPolicy", TaskPolicy=describe))
    assert_not_applicable(_verdict("TaskPolicy", TaskPolicy=elsewhere))


def test_a_role_inline_policy_or_a_managed_policy_that_reads_every_secret_fails() -> None:
    inline = {"PolicyName": "Reads", "PolicyDocument": {"Statement": [_statement(READ, _ref("Attachment"))]}}
    role = resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": TRUST, "Policies": [inline]})
    broad = resource(
        "AWS::IAM::Role",
        {"AssumeRolePolicyDocument": TRUST, "ManagedPolicyArns": ["arn:aws:iam::aws:policy/SecretsManagerReadWrite"]},
    )

    assert_fails(_verdict("Reader", Reader=role), f"role Reader/{SECRET}", "the policy Reads of role Reader")
    assert_fails(_verdict("Broad", Broad=broad), f"role Broad/{SECRET}", "the policy SecretsManagerReadWrite")


def test_the_secrets_resource_policy_may_deny_but_not_grant() -> None:
    deny = {"Effect": "Deny", "Action": "secretsmanager:DeleteSecret", "Principal": {"AWS": "*"}, "Resource": "*"}

    def policy(*statements: dict[str, Any]) -> dict[str, Any]:
        return resource(
            "AWS::SecretsManager::ResourcePolicy",
            {"SecretId": _ref(SECRET), "ResourcePolicy": {"Statement": list(statements)}},
        )

    anyone = {**_statement("secretsmanager:GetSecretValue", "*"), "Principal": {"AWS": "*"}}
    task = {**_statement("secretsmanager:GetSecretValue", "*"), "Principal": {"AWS": _arn("TaskRole")}}
    user = {**_statement("secretsmanager:GetSecretValue", "*"), "Principal": {"AWS": _arn("UserRole")}}

    assert_not_applicable(_verdict("SecretPolicy", SecretPolicy=policy(deny)))
    assert_fails(_verdict("SecretPolicy", SecretPolicy=policy(deny, anyone)), f"AWS */{SECRET}")
    assert_fails(_verdict("SecretPolicy", SecretPolicy=policy(task)), f"role TaskRole/{SECRET}", "resource policy")
    assert_passes(_verdict("SecretPolicy", SecretPolicy=policy(user)))


def test_a_grant_from_another_stack_through_a_stack_output_fails() -> None:
    output = {"Outputs": {"SecretArn": {"Value": _ref("Attachment")}}}
    grant = _policy(
        "AWS::IAM::Policy",
        _statement(READ, {"Fn::GetStackOutput": {"StackName": "Dev-Data", "OutputName": "SecretArn"}}),
        [_ref("ServiceTask")],
    )
    service = {
        "ServiceTask": resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": TRUST}),
        "TaskPolicy": grant,
    }
    verdict = check(
        master_secret_grant,
        service,
        "TaskPolicy",
        stack="Pipeline/Dev/Service",
        others={"Pipeline/Dev/Data": {"Resources": data_stack(), **output}},
    )

    assert_fails(verdict, f"role ServiceTask/{SECRET}", "Dev-Data/DatabaseSecret")


def test_a_secret_rds_manages_is_a_master_secret_too() -> None:
    managed = resource("AWS::RDS::DBInstance", {"ManageMasterUserPassword": True})
    grant = _policy(
        "AWS::IAM::Policy",
        _statement("secretsmanager:GetSecretValue", {"Fn::GetAtt": ["Managed", "MasterUserSecret.SecretArn"]}),
        [_ref("TaskRole")],
    )

    assert_fails(_verdict("TaskPolicy", Managed=managed, TaskPolicy=grant), "role TaskRole/Managed")


def test_the_rotation_function_the_app_creates_may_read_it() -> None:
    rotation = {
        "RotationRole": resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": TRUST}),
        "RotationFunction": resource("AWS::Lambda::Function", {"Role": _arn("RotationRole")}),
        "Schedule": resource(
            "AWS::SecretsManager::RotationSchedule",
            {"SecretId": _ref("Attachment"), "RotationLambdaARN": _arn("RotationFunction")},
        ),
        "RotationPolicy": _policy("AWS::IAM::Policy", _statement(READ, _ref(SECRET)), [_ref("RotationRole")]),
    }

    assert_passes(_verdict("RotationPolicy", **rotation))


def test_a_wildcard_in_another_accounts_policy_reaches_only_a_secret_it_names_the_account_of() -> None:
    grant = _policy("AWS::IAM::Policy", _statement("secretsmanager:*", "*"), [_ref("BuildRole")])
    named = _policy(
        "AWS::IAM::Policy", _statement("secretsmanager:*", "arn:aws:secretsmanager:*:210987654321:secret:*"), []
    )
    build = {"BuildRole": resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": TRUST}), "Any": grant, "Named": named}
    index = TemplateIndex()
    for path, account, resources in (
        ("Pipeline", "123456789012", build),
        ("Pipeline/Dev/Data", "210987654321", data_stack()),
    ):
        parts = path.split("/")
        index.stacks.append(
            StackView(
                path=path,
                stack_name="-".join(parts[-2:]),
                region="us-west-2",
                stage=parts[-2] if len(parts) > 1 else "",
                template={"Resources": resources},
                account=account,
            )
        )
    context = Context(index=index, external_prerequisites=frozenset())
    views = {r.logical_id: r for r in index.all_resources() if r.stack.path == "Pipeline"}

    assert_not_applicable(master_secret_grant(views["Any"], context))
    assert_fails(master_secret_grant(views["Named"], context), f"whoever it is attached to/{SECRET}")


def test_the_rule_is_silent_on_the_fixture_app_and_judges_each_stages_database_user_policy(
    assembly_dir: Path,
) -> None:
    index = TemplateIndex.load(assembly_dir)
    context = Context(index=index, external_prerequisites=frozenset())
    verdicts = {
        r.path: master_secret_grant(r, context)
        for r in index.all_resources()
        if r.type
        in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::SecretsManager::ResourcePolicy")
    }
    secrets = master_secrets(index)

    assert [(path, v.finding) for path, v in verdicts.items() if v.failed] == []
    # One master secret and one reader (the database-user function's role) per stage.
    assert len(secrets) == len({s.stage for s in index.stacks if s.stage}) > 1
    assert all(len(administering_roles(index, secret)) == 1 for secret in secrets)
    assert sorted(path for path, v in verdicts.items() if v.applies) == sorted(
        f"{secret.stack.path}/ServiceDatabaseUser/Policy/Resource" for secret in secrets
    )
