"""The CloudFormation execution policies `make bootstrap-policy` writes hold against the templates."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from compliance.assembly import CloudAssembly, StackView
from config import aws_facts, permissions_boundary
from scripts import bootstrap_policy


@pytest.fixture(scope="module")
def documents(assembly_dir: Path) -> dict[str, list[dict[str, Any]]]:
    return bootstrap_policy.policies(assembly_dir)


def _statements(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for d in docs for s in d["Statement"]]


def _allowed(docs: list[dict[str, Any]]) -> set[str]:
    return {a for s in _statements(docs) if s["Effect"] == "Allow" for a in _actions(s)}


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
        granted = _allowed(documents[stack.account])
        for resource in stack.template["Resources"].values():
            needed = bootstrap_policy.handler_actions(resource["Type"])
            if resource["Type"].startswith("Custom::"):
                assert "lambda:InvokeFunction" in granted
                continue
            assert needed is not None, resource["Type"]
            # The fixture's templates attach nothing to a user or a group: those writes are left out; and no
            # role's boundary is ever removed.
            needed = tuple(
                a
                for a in needed
                if not bootstrap_policy.user_or_group_write(a) and a not in bootstrap_policy.UNBOUNDING_ROLE_WRITES
            )
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


def _resources(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def test_the_execution_role_can_change_only_the_apps_own_roles(
    assembly_dir: Path, documents: dict[str, list[dict[str, Any]]]
) -> None:
    for account, docs in documents.items():
        stacks = [s for s in CloudAssembly(assembly_dir).stacks if s.account == account]
        names = {s.stack_name for s in stacks}
        for statement in _statements(docs):
            writes = set(_actions(statement)) & bootstrap_policy.IAM_ROLE_WRITES
            if not writes:
                continue
            assert "*" not in _resources(statement)
            if statement["Sid"].startswith("RotationApplication"):
                assert _resources(statement) == bootstrap_policy.transform_roles(account, stacks)
                continue
            assert {r.rsplit("/", 1)[-1].removesuffix("-*") for r in _resources(statement)} == names
        attach = [s for s in _statements(docs) if "iam:AttachRolePolicy" in _actions(s)]
        assert all("iam:PolicyARN" in s["Condition"]["ArnEquals"] for s in attach)


def test_a_role_is_created_or_widened_only_with_the_accounts_boundary(
    assembly_dir: Path, documents: dict[str, list[dict[str, Any]]]
) -> None:
    for account, docs in documents.items():
        stacks = [s for s in CloudAssembly(assembly_dir).stacks if s.account == account]
        boundary = permissions_boundary.arn(aws_facts.partition_of(stacks[0].region), account)
        allows = [s for s in _statements(docs) if s["Effect"] == "Allow"]
        for statement in allows:
            widening = set(_actions(statement)) & bootstrap_policy.BOUNDED_ROLE_WRITES
            if not widening:
                continue
            if statement["Sid"].startswith("RotationApplication"):
                # The one role without a boundary: the rotation application's, under its nested stack's name only.
                assert "iam:PutRolePermissionsBoundary" not in widening
                assert _resources(statement) == bootstrap_policy.transform_roles(account, stacks)
                continue
            assert statement["Condition"]["StringEquals"] == {"iam:PermissionsBoundary": boundary}, statement["Sid"]
        granted = _allowed(docs)
        assert "iam:CreateRole" in granted
        assert "iam:DeleteRolePermissionsBoundary" not in granted
        denied = [s for s in _statements(docs) if s["Effect"] == "Deny"]
        assert [(set(_actions(s)), _resources(s)) for s in denied] == [
            (set(bootstrap_policy.POLICY_WRITES), bootstrap_policy.guarded_policies(account, boundary.split(":")[1]))
        ]


def test_only_the_rotation_applications_nested_roles_go_without_the_boundary(assembly_dir: Path) -> None:
    stacks = list(CloudAssembly(assembly_dir).stacks)
    data = next(s for s in stacks if s.path == "Pipeline/Dev/Data")
    (application,) = [i for i, r in data.resources.items() if r["Type"] == "AWS::Serverless::Application"]
    patterns = bootstrap_policy.transform_roles(data.account, [data])

    # CloudFormation keeps 25 characters of the nested stack's name `Dev-Data-<application's id>-<suffix>`.
    assert patterns == [f"arn:aws:iam::{data.account}:role/{f'Dev-Data-{application}'[:25]}*"]
    assert patterns[0].rsplit("/", 1)[1].startswith("Dev-Data-Database")
    pipeline = next(s for s in stacks if s.path == "Pipeline")
    assert bootstrap_policy.transform_roles(pipeline.account, [pipeline]) == []


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
    # In each account the boundary exists before the execution policies, and before any role names it.
    blocks = script.split("\n# account ")[1:]
    assert len(blocks) == len({s.account for s in CloudAssembly(copy).stacks})
    for block in blocks:
        creates = [line for line in block.splitlines() if line.startswith("aws iam create-policy")]
        assert f"--policy-name {permissions_boundary.NAME} " in creates[0]
        assert all(bootstrap_policy.POLICY_NAME in line for line in creates[1:])


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


# --- the permissions boundary -------------------------------------------------------------------------------

ACCOUNT = "123456789012"


def _by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


@pytest.mark.parametrize("partition", ["aws", "aws-us-gov"])
def test_the_boundary_denies_escalation_and_stopping_the_audit(partition: str) -> None:
    document = bootstrap_policy.boundary_document(ACCOUNT, partition)
    statements = _by_sid(document)
    boundary = f"arn:{partition}:iam::{ACCOUNT}:policy/{permissions_boundary.NAME}"

    assert len(json.dumps(document, separators=(",", ":"))) <= bootstrap_policy.MAX_POLICY_CHARACTERS
    assert [s["Effect"] for s in document["Statement"]] == ["Allow"] + ["Deny"] * (len(statements) - 1)
    # Creating a role, or giving one a policy or a boundary, only with this boundary on it.
    unbounded = statements["NoRoleWithoutThisBoundary"]
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"} <= set(
        _actions(unbounded)
    )
    assert unbounded["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": boundary}}
    assert set(_actions(statements["NoBoundaryRemoved"])) == {
        "iam:DeleteRolePermissionsBoundary",
        "iam:DeleteUserPermissionsBoundary",
    }
    policies = statements["NoChangeToTheBoundaryOrTheExecutionPolicies"]
    assert {"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"} <= set(_actions(policies))
    assert _resources(policies) == [
        boundary,
        f"arn:{partition}:iam::{ACCOUNT}:policy/{bootstrap_policy.POLICY_NAME}-*",
    ]
    assert _actions(statements["NoTrustChanges"]) == ["iam:UpdateAssumeRolePolicy"]
    users = set(_actions(statements["NoUserGroupOrAccessKeyWrites"]))
    assert {"iam:CreateUser", "iam:CreateAccessKey", "iam:AddUserToGroup", "iam:PutGroupPolicy"} <= users
    assert _actions(statements["NoLeavingTheOrganization"]) == ["organizations:LeaveOrganization"]
    assert {"cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "config:StopConfigurationRecorder"} <= set(
        _actions(statements["NoAuditStopped"])
    )
    assert "config:DeleteConfigurationRecorder" in _actions(statements["NoAuditStopped"])


def test_the_user_and_group_writes_are_every_write_iam_lists_on_users_and_groups() -> None:
    """cfn-lint's copy of IAM's action data: every action on a `user` or `group` resource, reads aside."""
    data = json.loads(
        resources.files("cfnlint.data.AdditionalSpecs").joinpath("Policies.json").read_text(encoding="utf-8")
    )
    reads = ("get", "list", "generate", "simulate")
    listed = {
        f"iam:{name}"
        for name, action in data["iam"]["Actions"].items()
        if {"user", "group"} & set(action.get("Resources", [])) and not name.startswith(reads)
    }

    assert {a.lower() for a in bootstrap_policy.USER_AND_GROUP_WRITES} == listed


def _policy_actions(stack: StackView) -> set[str]:
    """Every action the stack's IAM policies (inline, managed, and roles' own) grant."""
    found: set[str] = set()
    for resource in stack.resources.values():
        properties = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties["PolicyDocument"])
        found |= {a for d in documents for s in d["Statement"] if s["Effect"] == "Allow" for a in _actions(s)}
    return found


def test_the_boundary_denies_nothing_the_apps_roles_are_granted(assembly_dir: Path) -> None:
    stacks = list(CloudAssembly(assembly_dir).stacks)
    for account in {s.account for s in stacks}:
        partition = aws_facts.partition_of(next(s.region for s in stacks if s.account == account))
        denied = [
            a.lower()
            for s in bootstrap_policy.boundary_document(account, partition)["Statement"]
            if s["Effect"] == "Deny"
            for a in _actions(s)
        ]
        granted = {a.lower() for s in stacks if s.account == account for a in _policy_actions(s)}
        assert granted, account
        # A granted pattern (s3:GetObject*) and a denied action overlap when either matches the other.
        overlaps = {(g, d) for g in granted for d in denied if fnmatch.fnmatchcase(d, g) or fnmatch.fnmatchcase(g, d)}
        assert overlaps == set(), account


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
