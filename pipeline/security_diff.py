"""The security diff before each stage deploys: an IAM or security-group broadening waits for a person."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines
from constructs import Construct

from config import EnvironmentConfig
from pipeline.approving_function import (
    acknowledge_approving_function,
    allow_approvals,
    approving_function,
    checking_project,
)
from pipeline.generated import lookup_role_arn

# What the approval says when nothing broadens: CDK Pipelines' own summary, which approvers know.
APPROVED_SUMMARY = "No security changes detected. Automatically approved by Lambda."
CONFIRMATIONS_VARIABLE = "CONFIRMATIONS"

# Approves a security diff's confirmation once it waits, given CDK Pipelines' payload
# {"PipelineName", "StageName", "ActionName"}: it polls the pipeline's state every five seconds and
# approves the action's waiting token, as CDK Pipelines' own handler does. It refuses any other
# action, such as a promotion approval; IAM allows it no other either. Inline, so the deployed
# template carries its code and a push cannot change what approves without the definition check
# seeing it.
_CONFIRM_FUNCTION = f"""
import json
import os
import time

import boto3

pipelines = boto3.client("codepipeline")
CONFIRMATIONS = frozenset(json.loads(os.environ["{CONFIRMATIONS_VARIABLE}"]))


def handler(event, context):
    name, stage, action = event["PipelineName"], event["StageName"], event["ActionName"]
    if f"{{stage}}/{{action}}" not in CONFIRMATIONS:
        print(f"Refused: {{stage}}/{{action}} is not a security diff's confirmation")
        return {{"approved": False}}
    while context.get_remaining_time_in_millis() > 15000:
        state = pipelines.get_pipeline_state(name=name)
        for stage_state in state.get("stageStates", []):
            if stage_state.get("stageName") != stage:
                continue
            for action_state in stage_state.get("actionStates", []):
                token = action_state.get("latestExecution", {{}}).get("token")
                if action_state.get("actionName") == action and token:
                    pipelines.put_approval_result(
                        pipelineName=name,
                        stageName=stage,
                        actionName=action,
                        token=token,
                        result={{"summary": "{APPROVED_SUMMARY}", "status": "Approved"}},
                    )
                    return {{"approved": True}}
        time.sleep(5)
    return {{"approved": False}}
"""

_BROADENS = [
    "An upcoming change would broaden security changes in $PIPELINE_NAME.",
    "Review and approve the changes in CodePipeline to proceed with the deployment.",
    "",
    "Review the changes in CodeBuild:",
    "",
    "$LINK",
    "",
    "Approve the changes in CodePipeline (stage $STAGE_NAME, action $ACTION_NAME):",
    "",
    "$PIPELINE_LINK",
]


def diff_commands(console_host: str) -> list[str]:
    """The diff project's build: CDK Pipelines' security check, run from an empty directory on the template diff.

    `cdk` loads plug-ins from a `cdk.json` in its working directory, and the cloud assembly is what the
    pushed commit's synth wrote: the diff runs elsewhere, so nothing of the commit's runs with this role.
    `--method=template` compares templates through the stage accounts' lookup roles (read-only) instead
    of creating a change set through their deploy roles.
    """
    diff = (
        'cd "$(mktemp -d)" && cdk diff --app "$CODEBUILD_SRC_DIR" --method=template --security-only --fail'
        ' "$STAGE_PATH/*"'
    )
    invoke = (
        'aws lambda invoke --function-name "$APPROVE_FUNCTION" --invocation-type Event'
        ' --cli-binary-format raw-in-base64-out --payload "$payload" /dev/null'
    )
    publish = (
        '[ -z "${NOTIFICATION_ARN}" ] || aws sns publish --topic-arn "$NOTIFICATION_ARN"'
        f' --subject "$NOTIFICATION_SUBJECT" --message "{chr(10).join(_BROADENS)}" > /dev/null'
    )
    return [
        # CODEBUILD_INITIATOR is "codepipeline/<pipeline name>" when the pipeline starts the build.
        'export PIPELINE_NAME="${CODEBUILD_INITIATOR#codepipeline/}"',
        'payload="$(node -pe \'JSON.stringify({ "PipelineName": process.env.PIPELINE_NAME, '
        '"StageName": process.env.STAGE_NAME, "ActionName": process.env.ACTION_NAME })\')"',
        # CODEBUILD_BUILD_ARN is arn:<partition>:codebuild:<region>:<account>:build/<project>:<build id>.
        'REGION="$(node -pe \'`${process.env.CODEBUILD_BUILD_ARN}`.split(":")[3]\')"',
        'ACCOUNT_ID="$(node -pe \'`${process.env.CODEBUILD_BUILD_ARN}`.split(":")[4]\')"',
        'PROJECT_NAME="$(node -pe \'`${process.env.CODEBUILD_BUILD_ARN}`.split(":")[5].split("/")[1]\')"',
        'PROJECT_ID="$(node -pe \'`${process.env.CODEBUILD_BUILD_ARN}`.split(":")[6]\')"',
        f'export LINK="https://{console_host}/codesuite/codebuild/$ACCOUNT_ID/projects/$PROJECT_NAME'
        '/build/$PROJECT_NAME:$PROJECT_ID/?region=$REGION"',
        f'export PIPELINE_LINK="https://{console_host}/codesuite/codepipeline/pipelines/$PIPELINE_NAME'
        '/view?region=$REGION"',
        f'if ({diff}); then {invoke}; export MESSAGE="No security-impacting changes detected."; '
        f'else {publish}; export MESSAGE="Deployment would make security-impacting changes. Click the link '
        'below to inspect them, then click Approve if all changes are expected."; fi',
    ]


class SecurityDiff(Construct):
    """The security diff of every stage: one diff project and the function that confirms an unbroadened diff
    (CM-3, CM-4, CM-5, AC-6).

    It does what CDK Pipelines' `ConfirmPermissionsBroadening` does, with its action names and payload:
    before a stage deploys, `cdk diff --security-only` compares the stage's stacks with what is deployed;
    with no IAM or security-group broadening, the function approves the confirmation that follows and the
    run goes on; with one (or when the diff fails), the approvals topic is told and the confirmation waits
    for a person. It is ours rather than CDK Pipelines' because theirs grants the diff every account's
    deploy role (`sts:AssumeRole` on `*`) and the function every approval of the pipeline, promotions
    included, and ships the function's code as a file asset that a commit's synth writes. Here the diff
    may assume only the configured stages' lookup roles, the function may approve only these
    confirmations, and its code is inline in the template.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environments: Sequence[EnvironmentConfig],
        topic: sns.ITopic,
        artifact_key: kms.IKey,
        telemetry_key: kms.IKey,
        build_logs: logs.ILogGroup,
        build_image: codebuild.IBuildImage,
        cli_version: str,
        login: Sequence[str],
        console_host: str,
        check: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = topic
        self._confirmations: list[tuple[str, str]] = []
        self._sealed = False
        self.function = self._confirm_function(telemetry_key)
        self.project = checking_project(
            self,
            description="Stops a stage's deployment on any IAM or security-group broadening until a person confirms",
            function=self.function,
            topic=topic,
            artifact_key=artifact_key,
            build_image=build_image,
            build_logs=build_logs,
            variables={},
            build_spec={
                "version": "0.2",
                "phases": {
                    # The deployed pipeline's assembly check runs before anything reads the assembly, and
                    # npm logs in and installs from an empty directory (it reads an .npmrc in its working
                    # directory).
                    "install": {
                        "commands": [
                            *(['cd "$(mktemp -d)"'] if login else []),
                            *login,
                            f'{check} && cd "$(mktemp -d)" && npm install -g aws-cdk@{cli_version}',
                        ]
                    },
                    "build": {"commands": diff_commands(console_host)},
                },
                "env": {"exported-variables": ["LINK", "MESSAGE"]},
            },
        )
        role = self.project.role
        assert role is not None
        lookup_roles = sorted({lookup_role_arn(env.partition, env.account, env.region) for env in environments})
        role.add_to_principal_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=lookup_roles))
        self._acknowledge()

    def step(self, construct_id: str, *, stage: cdk.Stage) -> pipelines.Step:
        """The diff of `stage` and its confirmation, as a step before the stage's wave deploys."""
        return _ConfirmBroadening(construct_id, stage=stage, diff=self)

    @property
    def confirmations(self) -> tuple[tuple[str, str], ...]:
        """(pipeline stage, action) of each confirmation the pipeline has, once it is built."""
        return tuple(self._confirmations)

    def confirm_only(self, pipeline: codepipeline.Pipeline) -> None:
        """Let the function approve this pipeline's confirmations and nothing else. Call after `build_pipeline()`.

        PutApprovalResult is granted on each confirmation's action ARN,
        arn:<partition>:codepipeline:<region>:<account>:<pipeline>/<stage>/<action> (Service Authorization
        Reference, AWS CodePipeline: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodepipeline.html).
        """
        if self._sealed:
            raise ValueError(f"{self.node.path}: confirm_only() was called already")
        self._sealed = True
        self.function.add_environment(
            CONFIRMATIONS_VARIABLE, json.dumps(sorted(f"{stage}/{action}" for stage, action in self._confirmations))
        )
        allow_approvals(
            self, "ConfirmOnly", function=self.function, pipeline=pipeline, actions=sorted(self._confirmations)
        )

    def _record(self, stage_name: str, action_name: str) -> None:
        if self._sealed:
            raise ValueError(f"{self.node.path}: a confirmation was added after confirm_only()")
        self._confirmations.append((stage_name, action_name))

    def _confirm_function(self, telemetry_key: kms.IKey) -> lambda_.Function:
        return approving_function(
            self,
            "Confirm",
            code=_CONFIRM_FUNCTION,
            description="Approves a security diff's confirmation when the diff finds no broadening",
            telemetry_key=telemetry_key,
        )

    def _acknowledge(self) -> None:
        """What cannot change on the confirming function, with the checks that hold it."""
        acknowledge_approving_function(
            self.function, invoked_by="The security diff", invocations="One invocation per security diff"
        )


@jsii.implements(pipelines.ICodePipelineActionFactory)
class _ConfirmBroadening(pipelines.Step):
    """One stage's security diff (`<id>.Check`) and its confirmation (`<id>.Confirm`), as CDK Pipelines names them."""

    def __init__(self, construct_id: str, *, stage: cdk.Stage, diff: SecurityDiff) -> None:
        super().__init__(construct_id)
        self._stage, self._diff = stage, diff

    def produce_action(
        self,
        stage: codepipeline.IStage,
        *,
        action_name: str,
        artifacts: pipelines.ArtifactMap,
        pipeline: pipelines.CodePipeline,
        run_order: jsii.Number,
        **_: Any,
    ) -> pipelines.CodePipelineActionFactoryResult:
        namespace = self._stage.node.addr
        confirm = f"{action_name}.Confirm"
        variables = {
            "STAGE_PATH": self._stage.node.path,
            "STAGE_NAME": stage.stage_name,
            "ACTION_NAME": confirm,
            "NOTIFICATION_ARN": self._diff.topic.topic_arn,
            "NOTIFICATION_SUBJECT": f"Confirm permission broadening in {self._stage.stage_name}",
        }
        stage.add_action(
            actions.CodeBuildAction(
                action_name=f"{action_name}.Check",
                run_order=run_order,
                input=artifacts.to_code_pipeline(pipeline.cloud_assembly_file_set),
                project=self._diff.project,
                variables_namespace=namespace,
                environment_variables={k: codebuild.BuildEnvironmentVariable(value=v) for k, v in variables.items()},
            )
        )
        stage.add_action(
            actions.ManualApprovalAction(
                action_name=confirm,
                run_order=run_order + 1,
                additional_information=f"#{{{namespace}.MESSAGE}}",
                external_entity_link=f"#{{{namespace}.LINK}}",
            )
        )
        self._diff._record(stage.stage_name, confirm)
        return pipelines.CodePipelineActionFactoryResult(run_orders_consumed=2)
