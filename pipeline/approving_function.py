"""A function that approves chosen approval actions of the pipeline, and nothing else (AC-6, CM-3).

The definition guard approves an unchanged definition; the security diff approves a confirmation
when nothing broadens. Each function's code is inline in the template (so the definition check
sees any change to it), it logs to an encrypted, retained group of its own, and its role may read
the pipeline's state and approve exactly the actions it is given, by their ARNs.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from compliance import AcknowledgmentKind, acknowledge
from compliance.checks import EncryptedWithCmk, KeptAtLeast, NotInvocableByOthers
from components import EncryptedLogGroup

# FedRAMP's AU-11 retention (OMB M-21-31: 12 months active, 18 cold) in CloudWatch Logs' next period.
LOG_RETENTION_DAYS = 1096


def approving_function(
    scope: Construct, name: str, *, code: str, description: str, telemetry_key: kms.IKey
) -> lambda_.Function:
    """The function `name` in `scope` (with `<name>Logs` and `<name>Role` beside it), running `code` inline."""
    log_group = EncryptedLogGroup(
        scope,
        f"{name}Logs",
        encryption_key=telemetry_key,
        retention_days=LOG_RETENTION_DAYS,
        removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ).log_group
    # Its own role, with exactly the log group it writes to, instead of AWS's basic execution policy.
    role = iam.Role(
        scope, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
    )
    log_group.grant_write(role)
    return lambda_.Function(
        scope,
        name,
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline(code),
        timeout=cdk.Duration.minutes(5),
        log_group=log_group,
        role=role,
    )


def checking_project(
    scope: Construct,
    *,
    description: str,
    function: lambda_.Function,
    topic: sns.ITopic,
    artifact_key: kms.IKey,
    build_image: codebuild.IBuildImage,
    build_logs: logs.ILogGroup,
    variables: dict[str, str],
    build_spec: dict[str, object],
) -> codebuild.PipelineProject:
    """The CodeBuild project `Check` in `scope` that decides whether `function` approves: it may invoke that function
    (named to it as APPROVE_FUNCTION) and publish to the approvals `topic` when a person must decide."""
    project = codebuild.PipelineProject(
        scope,
        "Check",
        description=description,
        encryption_key=artifact_key,
        environment=codebuild.BuildEnvironment(build_image=build_image, compute_type=codebuild.ComputeType.SMALL),
        logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=build_logs)),
        environment_variables={
            name: codebuild.BuildEnvironmentVariable(value=value)
            for name, value in {**variables, "APPROVE_FUNCTION": function.function_name}.items()
        },
        build_spec=codebuild.BuildSpec.from_object(build_spec),
    )
    role = project.role
    assert role is not None
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
    )
    topic.grant_publish(role)
    return project


def allow_approvals(
    scope: Construct,
    construct_id: str,
    *,
    function: lambda_.Function,
    pipeline: codepipeline.Pipeline,
    actions: Sequence[tuple[str, str]],
) -> None:
    """Let `function` read `pipeline`'s state and approve exactly `actions` (stage, action).

    A managed policy of its own, not the role's default one: the function must not depend on the pipeline,
    which depends on the project that names the function. PutApprovalResult takes the action's ARN,
    arn:<partition>:codepipeline:<region>:<account>:<pipeline>/<stage>/<action> (Service Authorization
    Reference, AWS CodePipeline: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodepipeline.html).
    """
    role = function.role
    assert role is not None
    stack = cdk.Stack.of(scope)
    iam.ManagedPolicy(
        scope,
        construct_id,
        roles=[role],
        statements=[
            iam.PolicyStatement(actions=["codepipeline:GetPipelineState"], resources=[pipeline.pipeline_arn]),
            iam.PolicyStatement(
                actions=["codepipeline:PutApprovalResult"],
                resources=[
                    stack.format_arn(service="codepipeline", resource=pipeline.pipeline_name, resource_name=f"{s}/{a}")
                    for s, a in actions
                ],
            ),
        ],
    )


def acknowledge_approving_function(function: lambda_.Function, *, invoked_by: str, invocations: str) -> None:
    """What cannot change on an approving function, with the checks that hold it: `invoked_by` invokes it
    asynchronously, `invocations` says how often."""
    resource = function.node.default_child
    assert isinstance(resource, lambda_.CfnFunction)
    acknowledge(
        resource,
        "NIST.800.53.R5-LambdaDLQ",
        reason=(
            f"{invoked_by} invokes this function asynchronously to approve; if it fails, the approval keeps waiting "
            "for a person, which is the safe outcome, so there is no event to dead-letter."
        ),
        kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
        checks=[
            NotInvocableByOthers(),
            EncryptedWithCmk(on="AWS::Logs::LogGroup"),
            KeptAtLeast(LOG_RETENTION_DAYS, on="AWS::Logs::LogGroup"),
        ],
        controls=["SI-2", "CM-3"],
        review_by="2027-09-30",
    )
    for finding in ("NIST.800.53.R5-LambdaInsideVPC", "ControlTower::CT.LAMBDA.PR.3"):
        acknowledge(
            resource,
            finding,
            reason=(
                "The function calls only the CodePipeline API of this pipeline; it reaches no private resource, "
                "and a VPC would add a network path without protecting anything."
            ),
            kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            checks=[NotInvocableByOthers()],
            controls=["SC-7", "AC-6"],
            review_by="2027-09-30",
        )
    acknowledge(
        resource,
        "NIST.800.53.R5-LambdaConcurrency",
        reason=(
            f"{invocations} at most; a reserved concurrency would take from the account's unreserved pool, which "
            "new accounts keep at the minimum Lambda allows."
        ),
        kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
        checks=[NotInvocableByOthers()],
        controls=["SC-5", "AC-6"],
        review_by="2027-09-30",
    )
