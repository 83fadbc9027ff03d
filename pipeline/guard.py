"""The pipeline guards its own definition: a change to the pipeline waits for a person before it applies."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from pipeline.approving_function import (
    acknowledge_approving_function,
    allow_approvals,
    approving_function,
    checking_project,
)
from pipeline.generated import deploy_role_arn

STAGE_NAME = "PipelineChange"
CHECK_ACTION = "CheckDefinition"
APPROVAL_ACTION = "ApprovePipelineChange"
# The checks the deployed pipeline runs on each run's assembly, carried in the buildspecs that run them.
CHECKS = tuple(Path(__file__).with_name(name) for name in ("assembly_check.py", "definition_check.py"))
CHECK_DIRECTORY = "/tmp/pipeline-checks"
ASSEMBLY_CHECK = f"{CHECK_DIRECTORY}/assembly_check.py"
DEFINITION_CHECK = f"{CHECK_DIRECTORY}/definition_check.py"
# A rule in state ENABLED never receives read-only management events delivered through CloudTrail, and
# AssumeRole is one: such a rule must be ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS (EventBridge user guide,
# "Receiving read-only management events from AWS services").
ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
READ_ONLY_EVENT_RULES = frozenset({"DeployRoleAssumedOutsidePipeline"})

# Approves the waiting approval of this very execution, once it has started. Inline, so the deployed
# template carries it and a push cannot change what approves.
_APPROVE_FUNCTION = """
import time
import boto3

pipelines = boto3.client("codepipeline")


def handler(event, context):
    name, stage, action = event["pipeline"], event["stage"], event["action"]
    while context.get_remaining_time_in_millis() > 15000:
        state = pipelines.get_pipeline_state(name=name)
        for stage_state in state["stageStates"]:
            if stage_state["stageName"] != stage:
                continue
            if stage_state.get("latestExecution", {}).get("pipelineExecutionId") != event["execution"]:
                break
            for action_state in stage_state.get("actionStates", []):
                latest = action_state.get("latestExecution", {})
                waiting = latest.get("status") == "InProgress" and latest.get("token")
                if action_state["actionName"] == action and waiting:
                    pipelines.put_approval_result(
                        pipelineName=name,
                        stageName=stage,
                        actionName=action,
                        token=latest["token"],
                        result={
                            "status": "Approved",
                            "summary": "The pipeline's definition is unchanged; approved by the definition check.",
                        },
                    )
                    return {"approved": True}
        time.sleep(5)
    raise TimeoutError(f"{stage}/{action} of execution {event['execution']} did not start waiting in time")
"""


class PipelineGuard(Construct):
    """Holds every change to the pipeline's own definition for a person's approval (CM-3, CM-5, AC-5).

    CDK Pipelines has no hook before self-mutation (aws-cdk#16301), so this adds a stage of its
    own between Build and UpdatePipeline: a CodeBuild check compares the running pipeline stack's
    template (CloudFormation's copy) with the one this run synthesized, then a manual approval.
    Unchanged, a function approves that approval for this execution and the run goes on by
    itself; changed, the check publishes the difference to the approvals topic (lost approvals,
    security diffs or the gated synth named first) and the approval waits. The comparison's code
    is embedded in the check project's buildspec, so a push that edits or removes the check is
    itself a change to the definition, held by the check that is running.

    It also alerts the approvers when the pipeline stack is changed by anyone but the pipeline:
    a CloudFormation call on it by a principal other than the CDK deploy role, or that role
    assumed by anyone but the self-mutation project (CloudTrail management events, which the
    account's trail must record).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: codepipeline.Pipeline,
        after: codepipeline.IStage,
        synth_output: codepipeline.Artifact,
        topic: sns.ITopic,
        artifact_key: kms.IKey,
        telemetry_key: kms.IKey,
        build_logs: logs.ILogGroup,
        self_mutation_role: iam.IRole,
        build_image: codebuild.IBuildImage,
        stacks: Sequence[tuple[str, str]],
        asset_install: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        # The pipeline-account stacks of this definition, (name, region): the pipeline stack first.
        self.stacks = tuple(stacks)
        environment = check_environment(pipeline_account=stack.account, stacks=stacks, asset_install=asset_install)
        self.function = self._approve_function(pipeline, telemetry_key)
        self.project = self._check_project(stack, topic, artifact_key, build_logs, build_image, environment)
        pipeline.add_stage(
            stage_name=STAGE_NAME,
            placement=codepipeline.StagePlacement(just_after=after),
            actions=[
                actions.CodeBuildAction(
                    action_name=CHECK_ACTION,
                    project=self.project,
                    input=synth_output,
                    run_order=1,
                    environment_variables={
                        "EXECUTION_ID": codebuild.BuildEnvironmentVariable(value="#{codepipeline.PipelineExecutionId}")
                    },
                ),
                actions.ManualApprovalAction(
                    action_name=APPROVAL_ACTION,
                    run_order=2,
                    additional_information=(
                        "Approved by itself when the pipeline's definition is unchanged. If it waits, this run "
                        "changes the pipeline itself: read the CheckDefinition action's log (or the approvals "
                        "topic's message) for what changes, and approve only a reviewed change."
                    ),
                ),
            ],
        )
        self._alert_on_changes_outside_the_pipeline(stack, topic, self_mutation_role)
        self._acknowledge()

    def _check_project(
        self,
        stack: cdk.Stack,
        topic: sns.ITopic,
        artifact_key: kms.IKey,
        build_logs: logs.ILogGroup,
        build_image: codebuild.IBuildImage,
        check_environment: dict[str, str],
    ) -> codebuild.PipelineProject:
        """The CodeBuild check, with its comparison embedded, allowed to read the running templates of the
        pipeline-account stacks, invoke the approving function and publish to the approvals topic."""
        project = checking_project(
            self,
            description="Compares the running pipeline's definition with the one this run would apply",
            function=self.function,
            topic=topic,
            artifact_key=artifact_key,
            build_image=build_image,
            build_logs=build_logs,
            variables={"STACK_NAME": stack.stack_name, **check_environment, "TOPIC_ARN": topic.topic_arn},
            build_spec={"version": "0.2", "phases": {"build": {"commands": _check_commands()}}},
        )
        role = project.role
        assert role is not None
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudformation:GetTemplate"],
                # The pipeline stack and its region support stacks; a stack this definition does not list is new
                # to it, whatever CloudFormation holds, and is not read.
                resources=[
                    stack.format_arn(
                        service="cloudformation", region=region, resource="stack", resource_name=f"{name}/*"
                    )
                    for name, region in self.stacks
                ],
            )
        )
        return project

    def _approve_function(self, pipeline: codepipeline.Pipeline, telemetry_key: kms.IKey) -> lambda_.Function:
        function = approving_function(
            self,
            "Approve",
            code=_APPROVE_FUNCTION,
            description="Approves the pipeline-change approval of an execution whose definition is unchanged",
            telemetry_key=telemetry_key,
        )
        allow_approvals(
            self, "ApprovePipelineChange", function=function, pipeline=pipeline, actions=[(STAGE_NAME, APPROVAL_ACTION)]
        )
        return function

    def _alert_on_changes_outside_the_pipeline(
        self, stack: cdk.Stack, topic: sns.ITopic, self_mutation_role: iam.IRole
    ) -> None:
        deploy_role = deploy_role_arn(stack.partition, stack.account, stack.region)
        message = events.RuleTargetInput.from_text(
            f"The pipeline stack {stack.stack_name} was changed outside the pipeline: "
            f"{events.EventField.from_path('$.detail.eventName')} by "
            f"{events.EventField.from_path('$.detail.userIdentity.arn')}. If this was not a documented "
            "break-glass change, investigate it."
        )
        rules = {
            "StackChangedOutsidePipeline": {
                "source": ["aws.cloudformation"],
                "detail": {
                    "eventSource": ["cloudformation.amazonaws.com"],
                    "eventName": ["UpdateStack", "DeleteStack", "CreateChangeSet", "ExecuteChangeSet"],
                    "requestParameters": {"stackName": [{"wildcard": f"*{stack.stack_name}*"}]},
                    "$or": _caller_other_than(deploy_role),
                },
            },
            "DeployRoleAssumedOutsidePipeline": {
                "source": ["aws.sts"],
                "detail": {
                    "eventSource": ["sts.amazonaws.com"],
                    "eventName": ["AssumeRole"],
                    "requestParameters": {"roleArn": [deploy_role]},
                    "$or": _caller_other_than(self_mutation_role.role_arn),
                },
            },
        }
        for construct_id, pattern in rules.items():
            rule = events.Rule(
                self,
                construct_id,
                description="Alerts the approvers when the pipeline stack is changed by anyone but the pipeline",
                event_pattern=events.EventPattern(
                    source=pattern["source"],  # type: ignore[arg-type]
                    detail_type=["AWS API Call via CloudTrail"],
                    detail=pattern["detail"],  # type: ignore[arg-type]
                ),
                targets=[targets.SnsTopic(topic, message=message)],
            )
            if construct_id in READ_ONLY_EVENT_RULES:
                rule.node.default_child.state = ALL_MANAGEMENT_EVENTS  # type: ignore[union-attr]

    def _acknowledge(self) -> None:
        """What cannot change on the approving function, with the checks that hold it."""
        acknowledge_approving_function(
            self.function, invoked_by="The definition check", invocations="One invocation per pipeline run"
        )


def _caller_other_than(role_arn: str) -> list[dict[str, Any]]:
    """Event-pattern alternatives: a call by a session of any role but `role_arn`, or by a principal with no role
    session at all (an IAM user, the root user), whose events carry no `sessionIssuer` for `anything-but` to match."""
    issuer = ("userIdentity", "sessionContext", "sessionIssuer", "arn")

    def nested(value: list[dict[str, Any]]) -> dict[str, Any]:
        pattern: Any = value
        for key in reversed(issuer):
            pattern = {key: pattern}
        return dict(pattern)

    return [nested([{"anything-but": role_arn}]), nested([{"exists": False}])]


def unpack_checks() -> str:
    """The command that writes the deployed pipeline's own checks into a directory the commit never writes.

    Each check travels gzip-compressed and base64-encoded in the buildspec (gzip without a timestamp, so the
    same check gives the same template).
    """
    written = [
        f"echo {base64.b64encode(gzip.compress(path.read_bytes(), mtime=0)).decode('ascii')}"
        f" | base64 -d | gunzip > {CHECK_DIRECTORY}/{path.name}"
        for path in CHECKS
    ]
    return " && ".join([f"mkdir -p {CHECK_DIRECTORY}", *written])


def check_environment(
    *, pipeline_account: str, stacks: Sequence[tuple[str, str]], asset_install: Sequence[str]
) -> dict[str, str]:
    """What the checks compare the assembly with, fixed by the deployed definition: the pipeline's account, its own
    stacks (`name@region`) and the install commands of the asset projects' buildspecs."""
    return {
        "PIPELINE_ACCOUNT": pipeline_account,
        "PIPELINE_STACKS": " ".join(f"{name}@{region}" for name, region in stacks),
        "ASSET_INSTALL_COMMANDS": json.dumps(list(asset_install)),
    }


def _check_commands() -> list[str]:
    """Check the assembly and compare the running templates with this run's; approve if equal, publish the
    difference if not, fail if the assembly is refused."""
    return [
        unpack_checks(),
        # The pipeline's name, from CodeBuild (naming it here would make the pipeline
        # and this project depend on each other).
        'PIPELINE="${CODEBUILD_INITIATOR#codepipeline/}"',
        # Nothing below reads the assembly but the checks, which are given its path.
        'cd "$(mktemp -d)"',
        f'set +e; python3 {DEFINITION_CHECK} "$CODEBUILD_SRC_DIR"'
        " > /tmp/difference.txt; status=$?; set -e; cat /tmp/difference.txt;"
        " if [ $status -eq 0 ]; then"
        ' aws lambda invoke --function-name "$APPROVE_FUNCTION" --invocation-type Event'
        " --cli-binary-format raw-in-base64-out --payload"
        ' "{\\"pipeline\\":\\"$PIPELINE\\",\\"stage\\":\\"'
        + STAGE_NAME
        + '\\",\\"action\\":\\"'
        + APPROVAL_ACTION
        + '\\",\\"execution\\":\\"$EXECUTION_ID\\"}" /dev/null;'
        " elif [ $status -eq 3 ]; then"
        # One argument may not exceed 128 KiB (Linux); SNS takes 256 KB: the message is read from a file.
        " head -c 120000 /tmp/difference.txt > /tmp/message.txt;"
        ' aws sns publish --topic-arn "$TOPIC_ARN"'
        ' --subject "Pipeline change waits for approval"'
        " --message file:///tmp/message.txt > /dev/null;"
        " else exit $status; fi",
    ]
