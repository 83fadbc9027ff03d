"""EventBridge publishes to a topic encrypted with our key: the topic policy names the source, the key policy cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns

from app import cdk_context
from compliance import acknowledgments_in
from compliance.checks import evaluate_checks
from compliance.references import TemplateIndex
from components import EncryptionKey
from components.resource_policies import harden_resource_policies

_SOURCE_KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid"}


@pytest.fixture(scope="module")
def notices(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.Stack, TemplateIndex]:
    """A rule that publishes to a topic encrypted with a key that allows EventBridge, as the pipeline has."""
    context = {"aws:cdk:enable-path-metadata": True, **cdk_context()}
    app = cdk.App(context=context, outdir=str(tmp_path_factory.mktemp("notices")))
    stack = cdk.Stack(app, "Notices", env=cdk.Environment(account="123456789012", region="us-west-2"))
    key = EncryptionKey(
        stack, "TelemetryKey", description="notices", removal_policy=cdk.RemovalPolicy.RETAIN, allow_eventbridge=True
    ).key
    topic = sns.Topic(stack, "Topic", master_key=key, enforce_ssl=True)
    events.Rule(
        stack,
        "Rule",
        event_pattern=events.EventPattern(source=["aws.codepipeline"]),
        targets=[targets.SnsTopic(topic)],
    )
    harden_resource_policies(stack)
    app.synth()
    return stack, TemplateIndex.load(Path(app.outdir))


def _events_statements(index: TemplateIndex, resource_type: str, prop: str) -> list[dict[str, Any]]:
    (resource,) = [r for r in index.all_resources() if r.type == resource_type]
    return [
        s
        for s in resource.properties[prop]["Statement"]
        if s["Effect"] == "Allow" and s.get("Principal", {}).get("Service") == "events.amazonaws.com"
    ]


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key.lower() for values in statement.get("Condition", {}).values() for key in values}


def test_the_key_policy_lets_eventbridge_publish_without_a_source_condition(
    notices: tuple[cdk.Stack, TemplateIndex],
) -> None:
    statements = _events_statements(notices[1], "AWS::KMS::Key", "KeyPolicy")
    assert statements
    assert all(not _condition_keys(s) & _SOURCE_KEYS for s in statements), statements


def test_the_topic_policy_still_ties_eventbridge_to_this_account(notices: tuple[cdk.Stack, TemplateIndex]) -> None:
    (statement,) = _events_statements(notices[1], "AWS::SNS::TopicPolicy", "PolicyDocument")
    assert "aws:sourceaccount" in _condition_keys(statement)


def test_the_unconfined_grant_is_acknowledged_with_checks_that_hold(notices: tuple[cdk.Stack, TemplateIndex]) -> None:
    stack, index = notices
    (acknowledgment,) = [a for a in acknowledgments_in(stack) if "ServicePrincipalCondition" in a.finding]
    results = evaluate_checks(acknowledgment.checks, acknowledgment.path, index)
    assert results
    assert all(r.holds for r in results), results
