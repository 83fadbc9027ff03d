"""DefaultSecurityGroupClosed on plain templates: a VPC's default security group loses its rules at deploy."""

from __future__ import annotations

from typing import Any

from compliance.preflight.default_security_group_closed import RESTRICTING_TYPE, default_security_group_closed
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource


def _vpc(restricted: Any = None) -> dict[str, dict[str, Any]]:
    resources = {"Vpc": resource("AWS::EC2::VPC", {"CidrBlock": "10.0.0.0/16"}), "Other": resource("AWS::EC2::VPC")}
    if restricted is not None:
        resources["Restrict"] = resource(RESTRICTING_TYPE, {"ServiceToken": "x", "DefaultSecurityGroupId": restricted})
    return resources


def test_a_vpc_whose_default_group_is_restricted_passes() -> None:
    restricted = {"Fn::GetAtt": ["Vpc", "DefaultSecurityGroup"]}
    assert_passes(check(default_security_group_closed, _vpc(restricted), "Vpc"))


def test_a_vpc_without_it_or_with_another_vpcs_group_fails() -> None:
    for restricted in (None, {"Fn::GetAtt": ["Other", "DefaultSecurityGroup"]}):
        verdict = check(default_security_group_closed, _vpc(restricted), "Vpc")
        assert_fails(verdict, "open", "vpc-default-security-group-closed", "restrict_default_security_group=True")


def test_other_types_are_not_applicable() -> None:
    group = {"Group": resource("AWS::EC2::SecurityGroup", {"GroupDescription": "x"})}
    assert_not_applicable(check(default_security_group_closed, group, "Group"))
