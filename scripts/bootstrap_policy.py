"""`make bootstrap-policy`: least-privilege CloudFormation execution policies, one set per target account.

`cdk bootstrap` gives CloudFormation an execution role that deploys every stack of the
account; by default it holds `AdministratorAccess`. This script derives what that role really
needs from the synthesized templates instead:

- for every resource type the account's templates deploy, the actions CloudFormation's own
  resource handlers call (create, read, update, delete, list), as AWS publishes them in the
  resource provider schemas cfn-lint ships (offline, pinned with cfn-lint);
- a reviewed list for what those schemas do not cover: the legacy `AWS::CodeBuild::Project`
  handler, the `AWS::Serverless` transform that installs the database rotation application,
  custom resources (CloudFormation invokes their functions) and CloudFormation itself
  (SSM parameters of the bootstrap version check, dynamic references to generated secrets);
- IAM write actions limited to roles whose names start with one of the account's stack names
  (CloudFormation names a role `<stack>-<logical id>-<suffix>`, nested stacks included), so the
  execution role cannot change its own role or any role outside this app; managed policies
  only from the list the templates attach; service-linked roles only under `aws-service-role/`.
  A role is created, given a policy or a boundary only with the account's permissions boundary
  (`iam:PermissionsBoundary`), and no boundary is ever removed: a template cannot create a role
  that escapes it. The one exception is the role of the database rotation application, which the
  Serverless Application Repository's template creates without a boundary parameter.
  What a role created by the templates may do is reviewed where the templates change: the
  pipeline's security diff stops every IAM broadening for a person's approval.

Next to them, per account, the permissions boundary every role of the app carries
(`config/permissions_boundary.py`): what the roles' own policies grant, without privilege escalation
(roles or policies without this boundary, changes to the boundary, the execution policies or a
role's trust, IAM user, group and access-key writes), leaving the organization, or stopping the
account's CloudTrail trails and AWS Config recorder (AC-6, AC-6(10), AU-9, CM-5).

Each document stays under IAM's managed-policy size limit (6,144 characters without white
space), split into as many as needed. Written to `<assembly>/bootstrap-policy/<account>/`, with
the commands that create the policies and bootstrap each account and region with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections import defaultdict
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY, CloudAssembly, StackView  # noqa: E402
from config import aws_facts, permissions_boundary  # noqa: E402

MAX_POLICY_CHARACTERS = 6144  # IAM's limit for a managed policy, white space excluded
MAX_POLICIES_PER_ROLE = 10  # IAM's default quota of managed policies attached to one role
HANDLERS = ("create", "read", "update", "delete", "list")
POLICY_NAME = "monitoring-cfn-execution"

# Resource types the provider schemas do not describe, with the actions CloudFormation needs (reviewed).
REVIEWED_TYPES: dict[str, tuple[str, ...]] = {
    # A legacy resource without handler data; the project's service role is passed to CodeBuild.
    "AWS::CodeBuild::Project": (
        "codebuild:BatchGetProjects",
        "codebuild:CreateProject",
        "codebuild:DeleteProject",
        "codebuild:UpdateProject",
        "iam:PassRole",
    ),
    # The AWS::Serverless transform turns the rotation application into a nested stack built from
    # the Serverless Application Repository's template: a Lambda function, its role and permission.
    "AWS::Serverless::Application": (
        "serverlessrepo:CreateCloudFormationTemplate",
        "serverlessrepo:GetApplication",
        "serverlessrepo:GetCloudFormationTemplate",
        "cloudformation:CreateStack",
        "cloudformation:DeleteStack",
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackEvents",
        "cloudformation:GetTemplate",
        "cloudformation:UpdateStack",
        "s3:GetObject",
        "lambda:AddPermission",
        "lambda:RemovePermission",
    ),
    # Metadata CloudFormation records itself.
    "AWS::CDK::Metadata": (),
}
# Resource types the nested stack of a transform creates (their handler data is added too).
TRANSFORM_TYPES = {
    "AWS::Serverless::Application": ("AWS::CloudFormation::Stack", "AWS::Lambda::Function", "AWS::IAM::Role")
}
# AWS-managed policies the rotation application's nested role attaches (not visible in our templates).
TRANSFORM_MANAGED_POLICIES = (
    "service-role/AWSLambdaBasicExecutionRole",
    "service-role/AWSLambdaVPCAccessExecutionRole",
)
# IAM actions that change a role or what it may do: only on the app's own roles.
IAM_ROLE_WRITES = frozenset(
    {
        "iam:AttachRolePolicy",
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:DeleteRolePermissionsBoundary",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PassRole",
        "iam:PutRolePermissionsBoundary",
        "iam:PutRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
    }
)
# Role writes that widen what a role may do: only on a role that carries the account's permissions boundary
# (CreateRole and PutRolePermissionsBoundary: the boundary the request sets; the others: the role's own).
BOUNDED_ROLE_WRITES = frozenset(
    {"iam:AttachRolePolicy", "iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"}
)
# Never granted: a template that drops a role's boundary fails to deploy instead of freeing the role.
UNBOUNDING_ROLE_WRITES = frozenset({"iam:DeleteRolePermissionsBoundary"})
# Writes to a managed policy's document: never to the boundary or the execution policies, by any role of the app.
POLICY_WRITES = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)
# Not for the rotation application's role: it gets no boundary, and only the managed policies its template attaches.
ROTATION_ROLE_EXCLUDED = frozenset({"iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"})
# CloudFormation names a role `<stack name>-<logical id>-<12 random characters>` within IAM's 64; where that is
# too long it keeps the first 25 characters of each name, e.g. `<nested stack>-SecretsManagerRDSPostgreS-<suffix>`
# for the rotation application's role, whose nested stack is named `<stack>-<application's logical id>-<suffix>`.
GENERATED_NAME_PART = 25
# IAM writes to a user or a group (cfn-lint's IAM action data: every action on a `user` or `group` resource but
# reads), which no role of the app makes: the boundary denies them all, access keys and sign-in credentials included.
USER_AND_GROUP_WRITES = (
    "iam:AddUserToGroup",
    "iam:AttachGroupPolicy",
    "iam:AttachUserPolicy",
    "iam:ChangePassword",
    "iam:CreateAccessKey",
    "iam:CreateGroup",
    "iam:CreateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:CreateUser",
    "iam:DeactivateMFADevice",
    "iam:DeleteAccessKey",
    "iam:DeleteGroup",
    "iam:DeleteGroupPolicy",
    "iam:DeleteLoginProfile",
    "iam:DeleteServiceSpecificCredential",
    "iam:DeleteSigningCertificate",
    "iam:DeleteSSHPublicKey",
    "iam:DeleteUser",
    "iam:DeleteUserPermissionsBoundary",
    "iam:DeleteUserPolicy",
    "iam:DetachGroupPolicy",
    "iam:DetachUserPolicy",
    "iam:EnableMFADevice",
    "iam:PutGroupPolicy",
    "iam:PutUserPermissionsBoundary",
    "iam:PutUserPolicy",
    "iam:RemoveUserFromGroup",
    "iam:ResetServiceSpecificCredential",
    "iam:ResyncMFADevice",
    "iam:TagUser",
    "iam:UntagUser",
    "iam:UpdateAccessKey",
    "iam:UpdateGroup",
    "iam:UpdateLoginProfile",
    "iam:UpdateServiceSpecificCredential",
    "iam:UpdateSigningCertificate",
    "iam:UpdateSSHPublicKey",
    "iam:UpdateUser",
    "iam:UploadSigningCertificate",
    "iam:UploadSSHPublicKey",
)


@cache
def _schema_files() -> dict[str, str]:
    text = resources.files("cfnlint.data.schemas.providers").joinpath("us-east-1.json").read_text(encoding="utf-8")
    files: dict[str, str] = json.loads(text)
    return files


@cache
def handler_actions(resource_type: str) -> tuple[str, ...] | None:
    """The actions CloudFormation's handlers of `resource_type` call, or None where no schema says."""
    if resource_type in REVIEWED_TYPES:
        return REVIEWED_TYPES[resource_type]
    digest = _schema_files().get(resource_type)
    if digest is None:
        return None
    schema = json.loads(resources.files("cfnlint.data.schemas.resources").joinpath(f"{digest}.json").read_text())
    handlers = schema.get("handlers") or {}
    if not handlers:
        return None
    return tuple(sorted({a for h in HANDLERS for a in handlers.get(h, {}).get("permissions", [])}))


def _resource_types(stacks: list[StackView]) -> set[str]:
    types = {r["Type"] for s in stacks for r in s.resources.values()}
    for source, created in TRANSFORM_TYPES.items():
        if source in types:
            types.update(created)
    return types


def _managed_policies(stacks: list[StackView], partition: str) -> list[str]:
    """The managed policy ARNs the account's roles attach, as their templates name them."""
    arns: set[str] = set()
    for stack in stacks:
        for resource in stack.resources.values():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
                arns.add(_literal(arn, partition, stack.account))
    return sorted(arns)


# IAM types and properties through which a template reaches users or groups.
_USER_AND_GROUP_TYPES = frozenset({"AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::UserToGroupAddition"})
_USER_AND_GROUP_PROPERTIES = ("Users", "Groups")


def names_users_or_groups(stacks: list[StackView]) -> bool:
    """Whether any template creates an IAM user or group, or attaches a policy to one."""
    return any(
        resource["Type"] in _USER_AND_GROUP_TYPES
        or any(resource.get("Properties", {}).get(key) for key in _USER_AND_GROUP_PROPERTIES)
        for stack in stacks
        for resource in stack.resources.values()
        if resource["Type"].startswith("AWS::IAM::")
    )


def user_or_group_write(action: str) -> bool:
    """`iam:PutUserPolicy`, `iam:AttachGroupPolicy`, ...: a change to a user or a group (reads stay)."""
    if not action.startswith("iam:"):
        return False
    name = action.removeprefix("iam:")
    return ("User" in name or "Group" in name) and not name.startswith(("Get", "List"))


def _literal(value: Any, partition: str, account: str) -> str:
    """A policy ARN from a template value: a literal, or `Fn::Join` or `Fn::Sub` of literals and the
    partition/account pseudo-parameters (custom-resource providers write `Fn::Sub`)."""
    pseudo = {"AWS::Partition": partition, "AWS::AccountId": account}
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        text: str = value["Fn::Sub"]
        for name, literal in pseudo.items():
            text = text.replace(f"${{{name}}}", literal)
        return text
    if isinstance(value, dict) and isinstance(value.get("Fn::Join"), list):
        return "".join(p if isinstance(p, str) else pseudo[p["Ref"]] for p in value["Fn::Join"][1])
    raise SystemExit(f"a managed policy ARN this script cannot read: {json.dumps(value)}")


def account_statements(account: str, stacks: list[StackView]) -> list[dict[str, Any]]:
    """The execution role's statements for one account: what its stacks' resources need, and no more."""
    partition = aws_facts.partition_of(stacks[0].region)
    regions = sorted({s.region for s in stacks})
    actions: set[str] = set()
    missing = []
    for resource_type in sorted(_resource_types(stacks)):
        found = handler_actions(resource_type)
        if found is None and resource_type.startswith("Custom::"):
            continue  # custom resources: CloudFormation invokes their functions (below)
        if found is None:
            missing.append(resource_type)
            continue
        actions.update(found)
    if missing:
        raise SystemExit(f"no permission data for {', '.join(missing)}: add them to REVIEWED_TYPES with a reason")
    functions = [
        f"arn:{partition}:lambda:{region}:{account}:function:{name}-*"
        for region in regions
        for name in sorted({s.stack_name for s in stacks if s.region == region})
    ]
    iam_writes = sorted(a for a in actions if a in IAM_ROLE_WRITES)
    service_linked = sorted(a for a in actions if a == "iam:CreateServiceLinkedRole")
    iam_other = sorted(a for a in actions if a.startswith("iam:") and a not in IAM_ROLE_WRITES | {*service_linked})
    if not names_users_or_groups(stacks):
        # The handlers of AWS::IAM::Policy and ManagedPolicy can also write users' and groups' policies; templates
        # that attach nothing to a user or a group need none of that.
        iam_other = [a for a in iam_other if not user_or_group_write(a)]
    regional = sorted(a for a in actions if not a.startswith("iam:"))
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ResourceHandlers",
            "Effect": "Allow",
            "Action": regional,
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": regions}},
        },
        {"Sid": "ReadIdentities", "Effect": "Allow", "Action": iam_other, "Resource": "*"},
        *_iam_statements(account, stacks, iam_writes),
        {
            "Sid": "CloudFormationItself",
            "Effect": "Allow",
            "Action": ["ssm:GetParameters", "lambda:InvokeFunction", "secretsmanager:GetSecretValue"],
            # The bootstrap version parameter; custom-resource functions of the app's stacks; the secrets
            # the templates generate and read back through dynamic references ({{resolve:secretsmanager:...}}).
            "Resource": [
                *(f"arn:{partition}:ssm:{region}:{account}:parameter/cdk-bootstrap/*" for region in regions),
                *functions,
                *(f"arn:{partition}:secretsmanager:{region}:{account}:secret:*" for region in regions),
            ],
        },
    ]
    if service_linked:
        statements.append(
            {
                "Sid": "ServiceLinkedRolesOnly",
                "Effect": "Allow",
                "Action": service_linked,
                "Resource": f"arn:{partition}:iam::{account}:role/aws-service-role/*",
            }
        )
    return [s for s in statements if s["Action"]]


def _iam_statements(account: str, stacks: list[StackView], writes: list[str]) -> list[dict[str, Any]]:
    """The execution role's writes to the app's roles, those that widen a role only with the account's boundary;
    and never a change to the boundary or to the execution policies themselves."""
    partition = aws_facts.partition_of(stacks[0].region)
    roles = [f"arn:{partition}:iam::{account}:role/{name}-*" for name in sorted({s.stack_name for s in stacks})]
    bounded = {"StringEquals": {"iam:PermissionsBoundary": permissions_boundary.arn(partition, account)}}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnRolesOnly",
            "Effect": "Allow",
            "Action": [a for a in writes if a not in BOUNDED_ROLE_WRITES | UNBOUNDING_ROLE_WRITES],
            "Resource": roles,
        },
        {
            "Sid": "OwnRolesWithTheBoundaryOnly",
            "Effect": "Allow",
            "Action": [a for a in writes if a in BOUNDED_ROLE_WRITES - {"iam:AttachRolePolicy"}],
            "Resource": roles,
            "Condition": bounded,
        },
        {
            "Sid": "AttachOnlyTheManagedPoliciesTheTemplatesName",
            "Effect": "Allow",
            "Action": "iam:AttachRolePolicy",
            "Resource": roles,
            "Condition": {"ArnEquals": {"iam:PolicyARN": _managed_policies(stacks, partition)}, **bounded},
        },
        {
            # The managed-policy handlers may write any policy's versions; never these, which bound the templates.
            "Sid": "NeverTheBoundaryOrTheExecutionPolicies",
            "Effect": "Deny",
            "Action": list(POLICY_WRITES),
            "Resource": guarded_policies(account, partition),
        },
    ]
    rotation = transform_roles(account, stacks)
    if rotation:
        # The rotation application's template has no boundary parameter (aws-samples/aws-secrets-manager-rotation-
        # lambdas#27, aws/aws-cdk#19649): its role alone is created without one, under its nested stack's name.
        statements += [
            {
                "Sid": "RotationApplicationRole",
                "Effect": "Allow",
                "Action": [a for a in writes if a not in UNBOUNDING_ROLE_WRITES | ROTATION_ROLE_EXCLUDED],
                "Resource": rotation,
            },
            {
                "Sid": "RotationApplicationManagedPolicies",
                "Effect": "Allow",
                "Action": "iam:AttachRolePolicy",
                "Resource": rotation,
                "Condition": {
                    "ArnEquals": {
                        "iam:PolicyARN": [f"arn:{partition}:iam::aws:policy/{n}" for n in TRANSFORM_MANAGED_POLICIES]
                    }
                },
            },
        ]
    return statements


def transform_roles(account: str, stacks: list[StackView]) -> list[str]:
    """ARN patterns of the roles the nested stacks of `AWS::Serverless::Application`s create (no boundary on them)."""
    partition = aws_facts.partition_of(stacks[0].region)
    prefixes = sorted(
        f"{stack.stack_name}-{logical_id}"[:GENERATED_NAME_PART]
        for stack in stacks
        for logical_id, resource in stack.resources.items()
        if resource["Type"] in TRANSFORM_TYPES
    )
    return [f"arn:{partition}:iam::{account}:role/{prefix}*" for prefix in prefixes]


def guarded_policies(account: str, partition: str) -> list[str]:
    """The account's permissions boundary and execution policies: no role of the app may change them."""
    return [permissions_boundary.arn(partition, account), f"arn:{partition}:iam::{account}:policy/{POLICY_NAME}-*"]


def boundary_document(account: str, partition: str) -> dict[str, Any]:
    """The permissions boundary of `account`: what the roles' own policies grant, short of escaping it.

    The roles' own policies are the least-privilege grants (reviewed by the packs and by the pipeline's
    security diff); AWS's service-role policies the templates attach (AWS Config's reads every service)
    need more than any fixed list of services, so the boundary allows everything and denies what no
    role of the app does and what would let one lift its own limits (AC-6(10), AU-9, CM-5).
    """
    boundary = permissions_boundary.arn(partition, account)
    role_writes = sorted(BOUNDED_ROLE_WRITES | {"iam:DeleteRolePolicy", "iam:DetachRolePolicy"})
    statements: list[dict[str, Any]] = [
        {"Sid": "WhatTheRolesOwnPoliciesGrant", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            # Creating or changing a role that does not carry this boundary (IAM user guide, "Delegating
            # responsibility to others using permissions boundaries").
            "Sid": "NoRoleWithoutThisBoundary",
            "Effect": "Deny",
            "Action": role_writes,
            "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary}},
        },
        {
            "Sid": "NoBoundaryRemoved",
            "Effect": "Deny",
            "Action": ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
            "Resource": "*",
        },
        {
            "Sid": "NoChangeToTheBoundaryOrTheExecutionPolicies",
            "Effect": "Deny",
            "Action": list(POLICY_WRITES),
            "Resource": guarded_policies(account, partition),
        },
        # A role's trust decides who acts as it: a role that could rewrite one could assume a wider role.
        {"Sid": "NoTrustChanges", "Effect": "Deny", "Action": "iam:UpdateAssumeRolePolicy", "Resource": "*"},
        {
            "Sid": "NoUserGroupOrAccessKeyWrites",
            "Effect": "Deny",
            "Action": list(USER_AND_GROUP_WRITES),
            "Resource": "*",
        },
        {
            "Sid": "NoLeavingTheOrganization",
            "Effect": "Deny",
            "Action": "organizations:LeaveOrganization",
            "Resource": "*",
        },
        {
            "Sid": "NoAuditStopped",
            "Effect": "Deny",
            "Action": [
                "cloudtrail:DeleteTrail",
                "cloudtrail:PutEventSelectors",
                "cloudtrail:StopLogging",
                "cloudtrail:UpdateTrail",
                "config:DeleteConfigurationRecorder",
                "config:DeleteDeliveryChannel",
                "config:PutConfigurationRecorder",
                "config:StopConfigurationRecorder",
            ],
            "Resource": "*",
        },
    ]
    document = {"Version": "2012-10-17", "Statement": statements}
    if _size(document) > MAX_POLICY_CHARACTERS:
        raise SystemExit(f"the permissions boundary of {account} exceeds {MAX_POLICY_CHARACTERS} characters")
    return document


def _size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def split(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Policy documents under the size limit, a long action list split across them."""

    def document(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": items}

    def fits(items: list[dict[str, Any]]) -> bool:
        return _size(document(items)) <= MAX_POLICY_CHARACTERS

    documents: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for statement in statements:
        pending: dict[str, Any] | None = statement
        part = 0
        while pending is not None:
            if fits([*current, pending]):
                current.append(pending)
                pending = None
                continue
            actions = pending["Action"] if isinstance(pending["Action"], list) else [pending["Action"]]
            count = 0
            while count < len(actions) and fits([*current, {**pending, "Action": actions[: count + 1]}]):
                count += 1
            if count == 0 and not current:
                raise SystemExit(f"statement {pending['Sid']} alone exceeds {MAX_POLICY_CHARACTERS} characters")
            if count:
                part += 1
                current.append({**pending, "Sid": f"{statement['Sid']}{part}", "Action": actions[:count]})
                pending = {**pending, "Sid": f"{statement['Sid']}{part + 1}", "Action": actions[count:]}
            documents.append(document(current))
            current = []
    if current:
        documents.append(document(current))
    return documents


def policies(assembly: Path | list[StackView]) -> dict[str, list[dict[str, Any]]]:
    """account -> its execution policy documents, for every account the assembly (or its stacks) deploys to."""
    stacks = list(CloudAssembly(assembly).stacks) if isinstance(assembly, Path) else assembly
    by_account: dict[str, list[StackView]] = defaultdict(list)
    for stack in stacks:
        by_account[stack.account].append(stack)
    result = {account: split(account_statements(account, stacks)) for account, stacks in sorted(by_account.items())}
    for account, documents in result.items():
        if len(documents) > MAX_POLICIES_PER_ROLE:
            raise SystemExit(f"{account} needs {len(documents)} policies, more than a role may attach")
    return result


def commands(
    stacks: list[StackView], documents: dict[str, list[dict[str, Any]]], pipeline_account: str, directory: Path
) -> str:
    """The shell commands that create the permissions boundary and the policies (written under `directory`)
    and bootstrap every account and region with them; the files are named relative to the current directory
    where they are under it."""
    shown = Path(os.path.relpath(directory)) if directory.resolve().is_relative_to(Path.cwd()) else directory.resolve()
    regions: dict[str, set[str]] = defaultdict(set)
    for stack in stacks:
        regions[stack.account].add(stack.region)
    lines = [
        "# Run in each account with an administrator's credentials (IAM is global: once per account).",
        "# The pipeline account is bootstrapped in every region a stage uses: its replication buckets live there.",
    ]
    for account, docs in documents.items():
        partition = aws_facts.partition_of(sorted(regions[account])[0])
        arns = [f"arn:{partition}:iam::{account}:policy/{POLICY_NAME}-{i + 1}" for i in range(len(docs))]
        lines.append(f"\n# account {account}")
        # The boundary first: every role the execution role creates must carry it.
        boundary = shlex.quote(f"file://{shown / account / f'{permissions_boundary.NAME}.json'}")
        lines.append(f"aws iam create-policy --policy-name {permissions_boundary.NAME} --policy-document {boundary}")
        for i in range(len(docs)):
            document = shlex.quote(f"file://{shown / account / f'{POLICY_NAME}-{i + 1}.json'}")
            lines.append(f"aws iam create-policy --policy-name {POLICY_NAME}-{i + 1} --policy-document {document}")
        trust = "" if account == pipeline_account else f" --trust {pipeline_account}"
        for region in sorted(regions[account]):
            lines.append(
                f"npx cdk bootstrap aws://{account}/{region}{trust} "
                f"--cloudformation-execution-policies {','.join(arns)}"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assembly", default=str(ROOT / OUTPUT_DIRECTORY))
    args = parser.parse_args(argv)
    assembly = Path(args.assembly)
    reader = CloudAssembly(assembly)
    if not reader.exists():
        print(f"{assembly} holds no cloud assembly: run `make synth` first", file=sys.stderr)
        return 2
    stacks = list(reader.stacks)
    documents = policies(stacks)
    pipeline_account = next(s.account for s in stacks if s.path == "Pipeline")
    out = assembly / "bootstrap-policy"
    regions = {s.account: s.region for s in stacks}
    for account, docs in documents.items():
        (out / account).mkdir(parents=True, exist_ok=True)
        for i, doc in enumerate(docs):
            (out / account / f"{POLICY_NAME}-{i + 1}.json").write_text(json.dumps(doc, indent=2) + "\n")
        boundary = boundary_document(account, aws_facts.partition_of(regions[account]))
        (out / account / f"{permissions_boundary.NAME}.json").write_text(json.dumps(boundary, indent=2) + "\n")
    script = commands(stacks, documents, pipeline_account, out)
    (out / "commands.sh").write_text(script)
    print(script)
    print(f"Policies: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
