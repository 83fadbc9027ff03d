"""UniquePhysicalName on plain templates: a literal name carries the stage id or the environment's name."""

from __future__ import annotations

from compliance.preflight.unique_physical_name import unique_physical_name
from config.schema import environment_name_of as environment_name
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

PROD_DR = "Pipeline/ProdDr/Data"  # environment prod-dr


def _stream(name: object = None) -> dict[str, dict[str, object]]:
    return {"Stream": resource("AWS::Kinesis::Stream", {"Name": name} if name is not None else {})}


def test_the_environment_name_is_the_kebab_case_of_the_stage_id() -> None:
    assert [environment_name(s) for s in ("Dev", "ProdDr", "UsGovWest")] == ["dev", "prod-dr", "us-gov-west"]


def test_a_name_with_the_stage_id_or_the_environment_name_passes() -> None:
    assert_passes(check(unique_physical_name, _stream("dev-monitoring-events"), "Stream"))
    assert_passes(check(unique_physical_name, _stream("monitoring-events-proddr"), "Stream", stack=PROD_DR))
    assert_passes(check(unique_physical_name, _stream("prod-dr-monitoring-events"), "Stream", stack=PROD_DR))


def test_a_name_every_deployment_shares_says_to_derive_it_from_the_environment() -> None:
    verdict = check(unique_physical_name, _stream("monitoring-events"), "Stream", stack=PROD_DR)
    assert_fails(verdict, "monitoring-events", "leave the name to CloudFormation", "'prod-dr-monitoring-events'")


def test_generated_and_token_names_pass() -> None:
    assert_passes(check(unique_physical_name, _stream(), "Stream"))
    token = {"Fn::Join": ["-", ["events", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]]}
    assert_passes(check(unique_physical_name, _stream(token), "Stream"))


def test_unnamed_types_and_stacks_outside_a_stage_are_not_applicable() -> None:
    assert_not_applicable(check(unique_physical_name, {"Vpc": resource("AWS::EC2::VPC")}, "Vpc"))
    assert_not_applicable(check(unique_physical_name, _stream("monitoring-events"), "Stream", stack="Pipeline"))
