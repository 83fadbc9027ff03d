"""What `acknowledge` records: the construct's path, its kind, its own resource type on the checks, one list per app."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from compliance import AcknowledgmentKind, acknowledge, acknowledgments_in, control_tower
from compliance.checks import Versioned

_REASON = "A fixture acknowledgment, whose reason is long enough to be read by an auditor."


def _acknowledge(construct: cdk.CfnResource) -> Versioned:
    record = acknowledge(
        construct,
        "AwsSolutions-S1",
        reason=_REASON,
        kind=AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
        checks=[Versioned()],
        controls=["AU-2"],
        review_by="2027-06-30",
    )
    (check,) = record.checks
    assert isinstance(check, Versioned)
    return check


def test_a_check_of_the_resource_s_own_type_is_bound_to_it() -> None:
    stack = cdk.Stack(cdk.App(), "Fixture")
    generated = s3.Bucket(stack, "Bucket").node.default_child  # created in Node.js, met through jsii
    assert isinstance(generated, s3.CfnBucket)
    assert _acknowledge(generated).on == "AWS::S3::Bucket"
    assert _acknowledge(s3.CfnBucket(stack, "Ours")).on == "AWS::S3::Bucket"


def test_a_generic_resource_is_read_for_its_own_type() -> None:
    """`CfnResource` has no type of its own: the instance's decides, whatever other instances were."""
    stack = cdk.Stack(cdk.App(), "Fixture")
    assert _acknowledge(cdk.CfnResource(stack, "Bucket", type="AWS::S3::Bucket")).on == "AWS::S3::Bucket"
    assert _acknowledge(cdk.CfnResource(stack, "Custom", type="Custom::Thing")).on is None


def test_each_app_keeps_its_own_acknowledgments_by_path() -> None:
    first, second = cdk.App(), cdk.App()
    _acknowledge(s3.CfnBucket(cdk.Stack(first, "Fixture"), "Bucket"))
    _acknowledge(s3.CfnBucket(cdk.Stack(second, "Fixture"), "Other"))
    assert [(a.path, a.finding) for a in acknowledgments_in(first)] == [("Fixture/Bucket", "AwsSolutions-S1")]
    assert [a.path for a in acknowledgments_in(second)] == ["Fixture/Other"]


def test_several_findings_on_one_construct_are_each_recorded_and_written(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    bucket = s3.Bucket(cdk.Stack(app, "Fixture"), "Bucket").node.default_child
    assert isinstance(bucket, s3.CfnBucket)
    for finding in ("AwsSolutions-S1", "ControlTower::CT.S3.PR.4"):
        acknowledge(
            bucket,
            finding,
            reason=_REASON,
            kind=AcknowledgmentKind.TOOL_FALSE_POSITIVE,
            checks=[Versioned()],
            controls=["AU-2"],
            review_by="2027-06-30",
        )
    assert [(a.path, a.finding, a.kind) for a in acknowledgments_in(app)] == [
        ("Fixture/Bucket/Resource", "AwsSolutions-S1", AcknowledgmentKind.TOOL_FALSE_POSITIVE),
        ("Fixture/Bucket/Resource", "ControlTower::CT.S3.PR.4", AcknowledgmentKind.TOOL_FALSE_POSITIVE),
    ]
    app.synth()
    metadata = json.loads((tmp_path / "Fixture.metadata.json").read_text(encoding="utf-8"))
    entries = metadata["/Fixture/Bucket/Resource"]
    assert {rule for e in entries if e["type"] == "aws:cdk:acknowledged-rules" for rule in e["data"]} == {
        "Annotation::AwsSolutions-S1",  # the CDK's namespace for an id without a plugin's
        control_tower.validation_id("ControlTower::CT.S3.PR.4"),
        "ControlTower::CT.S3.PR.4",
    }


def test_an_acknowledgment_declares_its_kind_or_is_refused() -> None:
    bucket = s3.CfnBucket(cdk.Stack(cdk.App(), "Fixture"), "Bucket")
    params = {"reason": _REASON, "checks": [Versioned()], "controls": ["AU-2"], "review_by": "2027-06-30"}
    with pytest.raises(TypeError, match="kind"):
        acknowledge(bucket, "AwsSolutions-S1", **params)  # type: ignore[arg-type]
    # The kind's words are not the kind: a caller names a member of the enum, which a typo cannot be.
    for wrong in ("operational requirement", "false positive", None):
        with pytest.raises(ValueError, match="needs kind") as refused:
            acknowledge(bucket, "AwsSolutions-S1", kind=wrong, **params)  # type: ignore[arg-type]
        assert str(refused.value) == (
            "acknowledgment of AwsSolutions-S1 needs kind, one of AcknowledgmentKind.OPERATIONAL_REQUIREMENT, "
            f"AcknowledgmentKind.TOOL_FALSE_POSITIVE, AcknowledgmentKind.GENERATED_CONSTRUCT; got {wrong!r}"
        )
    assert acknowledgments_in(bucket) == []
