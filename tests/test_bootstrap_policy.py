"""The CloudFormation execution policies `make bootstrap-policy` writes hold against the templates."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from compliance.assembly import CloudAssembly, StackView
from scripts import bootstrap_policy


@pytest.fixture(scope="module")
def documents(assembly_dir: Path) -> dict[str, list[dict[str, Any]]]:
    return bootstrap_policy.policies(assembly_dir)


def _statements(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for d in docs for s in d["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_every_account_of_the_assembly_gets_its_policies(
    assembly_dir: Path, documents: dict[str, list[dict[str, Any]]]
) -> None:
    assert set(documents) == {s.account for s in CloudAssembly(assembly_dir).stacks}


def test_every_resource_type_deployed_has_its_handler_actions(
    assembly_dir: Path, documents: dict[str, list[dict[str, Any]]]
) -> None:
    for stack in CloudAssembly(assembly_dir).stacks:
        granted = {a for s in _statements(documents[stack.account]) for a in _actions(s)}
        for resource in stack.template["Resources"].values():
            needed = bootstrap_policy.handler_actions(resource["Type"])
            if resource["Type"].startswith("Custom::"):
                assert "lambda:InvokeFunction" in granted
                continue
            assert needed is not None, resource["Type"]
            # The fixture's templates attach nothing to a user or a group: those writes are left out.
            needed = tuple(a for a in needed if not bootstrap_policy.user_or_group_write(a))
            assert set(needed) <= granted, (stack.path, resource["Type"], set(needed) - granted)


def test_no_action_is_a_wildcard_and_every_document_fits(documents: dict[str, list[dict[str, Any]]]) -> None:
    for account, docs in documents.items():
        assert 1 <= len(docs) <= bootstrap_policy.MAX_POLICIES_PER_ROLE
        for doc in docs:
            assert len(json.dumps(doc, separators=(",", ":"))) <= bootstrap_policy.MAX_POLICY_CHARACTERS
            sids = [s["Sid"] for s in doc["Statement"]]
            assert len(sids) == len(set(sids)), account
        for statement in _statements(docs):
            for action in _actions(statement):
                assert action != "*", account
                assert not action.endswith(":*"), (account, action)


def test_the_execution_role_can_change_only_the_apps_own_roles(
    assembly_dir: Path, documents: dict[str, list[dict[str, Any]]]
) -> None:
    for account, docs in documents.items():
        names = {s.stack_name for s in CloudAssembly(assembly_dir).stacks if s.account == account}
        for statement in _statements(docs):
            writes = set(_actions(statement)) & bootstrap_policy.IAM_ROLE_WRITES
            if not writes:
                continue
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert "*" not in resources
            assert {r.rsplit("/", 1)[-1].removesuffix("-*") for r in resources} == names
        attach = [s for s in _statements(docs) if "iam:AttachRolePolicy" in _actions(s)]
        assert all("iam:PolicyARN" in s["Condition"]["ArnEquals"] for s in attach)


def test_a_resource_type_without_permission_data_stops_the_script(assembly_dir: Path) -> None:
    (stack, *_) = CloudAssembly(assembly_dir).stacks
    fake = StackView(
        path="Fake",
        stack_name="Fake",
        region=stack.region,
        stage="",
        template={"Resources": {"Thing": {"Type": "AWS::Example::Unknown"}}},
        account=stack.account,
    )
    with pytest.raises(SystemExit, match=r"AWS::Example::Unknown"):
        bootstrap_policy.account_statements(stack.account, [fake])


def test_the_commands_name_the_policy_files_where_they_were_written(assembly_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "other assembly"
    shutil.copytree(assembly_dir, copy, ignore=shutil.ignore_patterns("asset.*"))
    assert bootstrap_policy.main(["--assembly", str(copy)]) == 0
    script = (copy / "bootstrap-policy" / "commands.sh").read_text()
    words = [word for line in script.splitlines() if not line.startswith("#") for word in shlex.split(line)]
    named = [Path(word.removeprefix("file://")) for word in words if word.startswith("file://")]
    assert named
    for path in named:
        assert path.is_file(), path
        assert json.loads(path.read_text())["Statement"]


def _policy_stack(like: StackView, properties: dict[str, Any]) -> StackView:
    document = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    resource = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": document, **properties}}
    return StackView(
        path="Fake",
        stack_name="Fake",
        region=like.region,
        stage="",
        template={"Resources": {"Policy": resource}},
        account=like.account,
    )


def test_no_account_may_change_users_or_groups_unless_its_templates_name_one(
    assembly_dir: Path, documents: dict[str, list[dict[str, Any]]]
) -> None:
    # iam:PutUserPolicy, AttachGroupPolicy, ... on every user and group would let the execution role widen any
    # person's access in the account; the app creates no user or group.
    for account, docs in documents.items():
        writes = {a for s in _statements(docs) for a in _actions(s) if bootstrap_policy.user_or_group_write(a)}
        assert writes == set(), account
    (stack, *_) = CloudAssembly(assembly_dir).stacks
    for properties, expected in (({"Roles": ["r"]}, False), ({"Users": ["someone"]}, True)):
        statements = bootstrap_policy.account_statements(stack.account, [_policy_stack(stack, properties)])
        granted = {a for s in statements for a in _actions(s)}
        assert ("iam:PutUserPolicy" in granted or "iam:AttachUserPolicy" in granted) is expected, properties


def test_every_managed_policy_a_template_attaches_is_named_literally(assembly_dir: Path) -> None:
    # Custom-resource providers write their managed policy as Fn::Sub, the CDK's own roles as Fn::Join.
    stacks = list(CloudAssembly(assembly_dir).stacks)
    for account in {s.account for s in stacks}:
        own = [s for s in stacks if s.account == account]
        statements = bootstrap_policy.account_statements(account, own)
        (attach,) = [s for s in statements if s["Sid"] == "AttachOnlyTheManagedPoliciesTheTemplatesName"]
        allowed = attach["Condition"]["ArnEquals"]["iam:PolicyARN"]
        assert all(re.fullmatch(r"arn:aws[a-z-]*:iam::aws:policy/[\w/+=,.@-]+", arn) for arn in allowed), allowed
    with pytest.raises(SystemExit, match="cannot read"):
        bootstrap_policy.account_statements(
            stacks[0].account, [_role_stack(stacks[0], {"Fn::GetAtt": ["Policy", "Arn"]})]
        )


def _role_stack(like: StackView, managed_policy: Any) -> StackView:
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {}, "ManagedPolicyArns": [managed_policy]},
    }
    return StackView(
        path="Fake",
        stack_name="Fake",
        region=like.region,
        stage="",
        template={"Resources": {"Role": role}},
        account=like.account,
    )
