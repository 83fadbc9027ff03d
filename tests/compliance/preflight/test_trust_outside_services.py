"""TrustOutsideServices on plain templates: a role trusts only the services the app runs its roles in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compliance.preflight.base import Context, Verdict
from compliance.preflight.trust_outside_services import service_of, trust_outside_services, trusted_services
from compliance.references import TemplateIndex
from tests.compliance.preflight.support import assert_fails, assert_not_applicable, assert_passes, check, resource

URL_SUFFIX = {"Fn::Join": ["", ["lambda.", {"Ref": "AWS::URLSuffix"}]]}


def _verdict(*principals: Any, effect: str = "Allow", region: str = "us-west-2") -> Verdict:
    principal = {"Service": list(principals) if len(principals) > 1 else principals[0]}
    trust = {"Statement": [{"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}]}
    role = resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": trust})
    return check(trust_outside_services, {"Role": role}, "Role", region=region)


def test_a_role_trusted_by_a_service_the_app_does_not_use_fails() -> None:
    assert_fails(
        _verdict("sagemaker.amazonaws.com"),
        "sagemaker.amazonaws.com",
        "role Role trusts the service principal sagemaker.amazonaws.com",
        "compliance/data/trusted-service-principals.tsv",
        "add it there with its reason",
    )
    # One unknown service among the app's own is enough.
    assert_fails(_verdict("lambda.amazonaws.com", "ec2.amazonaws.com"), "ec2.amazonaws.com", "ec2.amazonaws.com")
    # The China partition's domain does not make another service one of the app's.
    assert_fails(_verdict("ec2.amazonaws.com.cn", region="cn-north-1"), "ec2.amazonaws.com.cn")


@pytest.mark.parametrize(
    ("principal", "region"),
    [
        ("lambda.amazonaws.com", "us-west-2"),
        ("monitoring.rds.amazonaws.com", "us-west-2"),
        ("ecs-tasks.amazonaws.com", "us-gov-west-1"),  # GovCloud (US) writes the commercial domain
        ("codebuild.amazonaws.com.cn", "cn-north-1"),
        (URL_SUFFIX, "us-west-2"),  # the CDK's partition-neutral form
        ("vpc-flow-logs.us-west-2.amazonaws.com", "us-west-2"),  # a regional principal
    ],
)
def test_a_role_trusted_by_the_apps_services_passes_in_every_partitions_form(principal: Any, region: str) -> None:
    assert_passes(_verdict(principal, region=region))


def test_roles_trusted_by_no_service_and_denials_are_not_judged() -> None:
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
    role = resource("AWS::IAM::Role", {"AssumeRolePolicyDocument": trust})

    assert_not_applicable(check(trust_outside_services, {"Role": role}, "Role"))
    assert_not_applicable(_verdict("sagemaker.amazonaws.com", effect="Deny"))


def test_a_service_is_read_from_each_partitions_principal() -> None:
    assert service_of("monitoring.rds.amazonaws.com") == "monitoring.rds"
    assert service_of("lambda.amazonaws.com.cn") == "lambda"
    assert service_of("lambda.<AWS::URLSuffix>") == "lambda"
    assert service_of("logs.us-gov-west-1.amazonaws.com") == "logs"
    assert service_of("*") == "*"


def _fixture_verdicts(assembly_dir: Path) -> list[tuple[str, Verdict]]:
    index = TemplateIndex.load(assembly_dir)
    context = Context(index=index, external_prerequisites=frozenset())
    return [(r.path, trust_outside_services(r, context)) for r in index.all_resources() if r.type == "AWS::IAM::Role"]


def test_the_rule_is_silent_on_the_fixture_app(assembly_dir: Path) -> None:
    verdicts = _fixture_verdicts(assembly_dir)

    assert [v.applies for _, v in verdicts].count(True) > 50
    assert [(path, v.finding) for path, v in verdicts if v.failed] == []


def test_every_listed_service_is_one_a_role_of_the_fixture_app_trusts(assembly_dir: Path) -> None:
    """The list is what the app uses, not what it might: a service no role trusts any more leaves it."""
    index = TemplateIndex.load(assembly_dir)
    trusted = set()
    for role in index.all_resources():
        if role.type == "AWS::IAM::Role":
            for statement in role.properties["AssumeRolePolicyDocument"]["Statement"]:
                services = statement.get("Principal", {}).get("Service", [])
                trusted |= {service_of(s) for s in (services if isinstance(services, list) else [services])}

    assert set(trusted_services()) == trusted
    assert all(len(reason) > 20 for reason in trusted_services().values())
