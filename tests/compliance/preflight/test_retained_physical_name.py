"""RetainedPhysicalName on plain templates: a retained resource's name changes with each create of the stack."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.preflight.retained_physical_name import retained_physical_name, same_on_every_create
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

_STACK_UUID = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}


def _stream(name: Any, policy: str | None = "RetainExceptOnCreate") -> dict[str, dict[str, Any]]:
    attributes = {"DeletionPolicy": policy, "UpdateReplacePolicy": policy} if policy else {}
    properties = {"Name": name} if name is not None else {}
    return {"Stream": resource("AWS::Kinesis::Stream", properties, **attributes)}


def test_a_retained_stream_named_from_the_stack_id_passes() -> None:
    name = {"Fn::Join": ["", ["dev-events-", _STACK_UUID]]}  # WorkloadStack.unique_name("dev-events")
    assert_passes(check(retained_physical_name, _stream(name), "Stream"))


def test_a_retained_stream_left_to_cloudformation_passes() -> None:
    assert_passes(check(retained_physical_name, _stream(None, "Retain"), "Stream"))


def test_a_retained_literal_name_collides_on_the_next_create() -> None:
    verdict = check(retained_physical_name, _stream("dev-monitoring-events"), "Stream")
    assert_fails(
        verdict,
        "dev-monitoring-events",
        "DeletionPolicy RetainExceptOnCreate",
        "derive the name from the stack id (WorkloadStack.unique_name) or let CloudFormation name it",
    )


def test_a_retained_name_built_from_region_and_account_collides_too() -> None:
    name = {"Fn::Join": ["-", ["events", {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}]]}
    verdict = check(retained_physical_name, _stream(name, "Retain"), "Stream")
    assert_fails(verdict, "events-<AWS::Region>-<AWS::AccountId>", "let CloudFormation name it")


@pytest.mark.parametrize(
    ("value", "fixed"),
    [
        ("literal", True),
        ({"Fn::Sub": "events-${AWS::Region}-${AWS::StackName}"}, True),
        ({"Fn::Sub": "events-${AWS::StackId}"}, False),
        ({"Fn::Sub": ["events-${Suffix}", {"Suffix": "blue"}]}, True),
        ({"Fn::Sub": ["events-${Suffix}", {"Suffix": _STACK_UUID}]}, False),
        ({"Fn::Sub": "events-${Api.RootResourceId}"}, False),
        ({"Fn::Join": ["", ["/aws/lambda/", {"Ref": "Function"}]]}, False),
        ({"Fn::Join": ["", ["logs-", {"Fn::GetAtt": ["Api", "Id"]}]]}, False),
        ({"Fn::Join": ["", ["events-", _STACK_UUID]]}, False),
    ],
)
def test_which_names_are_the_same_on_every_create(value: Any, fixed: bool) -> None:
    assert same_on_every_create(value) is fixed


def test_resources_deleted_with_their_stack_or_snapshotted_and_unnamed_types_are_not_applicable() -> None:
    assert_not_applicable(check(retained_physical_name, _stream("dev-monitoring-events", None), "Stream"))
    assert_not_applicable(check(retained_physical_name, _stream("dev-monitoring-events", "Delete"), "Stream"))
    database = resource("AWS::RDS::DBInstance", {"DBInstanceIdentifier": "dev-postgres"}, DeletionPolicy="Snapshot")
    assert_not_applicable(check(retained_physical_name, {"Database": database}, "Database"))
    vpc = resource("AWS::EC2::VPC", {}, DeletionPolicy="Retain")
    assert_not_applicable(check(retained_physical_name, {"Vpc": vpc}, "Vpc"))
