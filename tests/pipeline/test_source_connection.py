"""The source action may use its connection under the service prefix the connection's ARN has."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk.assertions import Template

from app import cdk_context
from pipeline import generated

CONNECTION = "{partition}:{prefix}:us-west-2:123456789012:connection/7e5d0c1b-0000-4000-8000-00000000c0de"


@pytest.mark.parametrize("prefix", ["codeconnections", "codestar-connections"])
def test_the_source_role_may_use_the_connection_of_its_prefix(prefix: str) -> None:
    arn = "arn:" + CONNECTION.format(partition="aws", prefix=prefix)
    stack = cdk.Stack(cdk.App(context=cdk_context()), "Pipeline")
    source = codepipeline.Artifact()
    pipeline = codepipeline.Pipeline(stack, "CodePipeline", pipeline_type=codepipeline.PipelineType.V2)
    pipeline.add_stage(
        stage_name="Source",
        actions=[
            actions.CodeStarConnectionsSourceAction(
                action_name="Source", owner="owner", repo="repo", connection_arn=arn, output=source
            )
        ],
    )
    pipeline.add_stage(stage_name="Approve", actions=[actions.ManualApprovalAction(action_name="Approve")])
    generated.grant_connection_use(pipeline, arn)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    granted = {a for s in statements if s["Resource"] == arn for a in _list(s["Action"])}
    assert f"{prefix}:UseConnection" in granted, granted


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value
