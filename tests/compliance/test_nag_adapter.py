"""Canaries for the two couplings to cdk-nag's internals (compliance/nag_adapter.py).

When an upgrade of cdk-nag breaks one, a test here fails with a message that names the version,
what changed and what in the adapter must change, rather than a compliance report that is
quietly short or a KeyError deep inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from compliance.catalogue import nag_rules
from compliance.model import Rule
from compliance.nag_adapter import ADAPTER, NagInternalsChangedError, every_finding, nag_pack, pack_rules, version
from compliance.packs import PACKS, Pack

T = TypeVar("T")


def _unless_changed(read: Callable[[], T]) -> T:
    """`read()`, with the adapter's own account of a broken coupling as the test's failure message."""
    try:
        return read()
    except NagInternalsChangedError as error:
        pytest.fail(str(error))


def test_nag_pack_has_the_pack_name_field_the_blind_rerun_sets() -> None:
    field = getattr(cdk_nag.NagPack, "_pack_name", None)
    message = (
        f"cdk-nag {version()} no longer has a _pack_name field on NagPack; the blind re-run in {ADAPTER} must change"
    )
    assert isinstance(field, property), message
    assert field.fset is not None, message


def test_the_blind_rerun_brings_back_an_acknowledged_finding_under_its_own_name() -> None:
    app = cdk.App()
    bucket = s3.CfnBucket(cdk.Stack(app, "Canary"), "Bucket")
    cdk.Validations.of(bucket).acknowledge(cdk.Acknowledgment(id="AwsSolutions-S1", reason="canary"))
    pack = nag_pack("AwsSolutionsChecks")
    reported = {v.rule_name for v in pack.validate_scope(app).violations}
    assert "AwsSolutions-S1" not in reported, f"cdk-nag {version()} no longer honours the CDK's acknowledgments"
    found = _unless_changed(lambda: every_finding(pack, app))
    assert ("AwsSolutions-S1", "Canary/Bucket") in {(f.finding, f.path) for f in found}, (
        f"cdk-nag {version()} no longer reports an acknowledged finding when its pack runs under another pack name; "
        f"the blind re-run in {ADAPTER} must change"
    )
    assert pack.read_pack_name == "AwsSolutions", "the blind re-run gives the pack its own name back"


@pytest.mark.parametrize("pack", [p for p in PACKS if p.cdk_nag_class], ids=lambda p: p.name)
def test_each_listed_pack_is_found_in_cdk_nag_under_its_name(pack: Pack) -> None:
    rules = _unless_changed(lambda: pack_rules(pack.name, pack.cdk_nag_class))
    assert len(rules) > 50, f"cdk-nag {version()}: {len(rules)} rules read for {pack.name}; pack_rules in {ADAPTER}"
    assert all(r.rule.startswith(pack.finding_prefix) for r in rules)


def test_every_rule_read_names_the_resource_types_it_evaluates() -> None:
    blind = [r.rule for r in nag_rules() if not r.resource_types]
    assert blind == [], f"cdk-nag {version()}: no resource type read for {blind}; rule_types in {ADAPTER} must change"


def _canary_app() -> cdk.App:
    """Resources of several types, each breaking some rules of both packs (some read from multi-line conditions)."""
    app = cdk.App()
    stack = cdk.Stack(app, "Canary", env=cdk.Environment(account="123456789012", region="us-west-2"))
    s3.CfnBucket(stack, "Bucket")
    sqs.CfnQueue(stack, "Queue")
    sns.CfnTopic(stack, "Topic")
    logs.CfnLogGroup(stack, "Logs")
    ec2.CfnVPC(stack, "Vpc", cidr_block="10.0.0.0/16")
    ec2.CfnRoute(stack, "Route", route_table_id="rtb-1", destination_cidr_block="0.0.0.0/0", gateway_id="igw-1")
    ec2.CfnSecurityGroupIngress(
        stack, "Ingress", group_id="sg-1", ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="0.0.0.0/0"
    )
    rds.CfnDBInstance(stack, "Database", db_instance_class="db.t4g.micro", engine="postgres", allocated_storage="20")
    elasticache.CfnReplicationGroup(stack, "Cache", replication_group_description="canary")
    iam.CfnRole(
        stack,
        "Role",
        assume_role_policy_document={"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}]},
        policies=[
            iam.CfnRole.PolicyProperty(
                policy_name="Everything",
                policy_document={"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
            )
        ],
    )
    return app


def test_what_the_packs_report_is_what_the_catalogue_lists() -> None:
    app = _canary_app()
    types = {c.node.path: c.cfn_resource_type for c in app.node.find_all() if isinstance(c, cdk.CfnResource)}
    catalogue: dict[str, Rule] = {r.rule: r for r in nag_rules()}
    unlisted: list[str] = []
    for pack in (p for p in PACKS if p.cdk_nag_class):
        for finding in _unless_changed(lambda pack=pack: every_finding(nag_pack(pack.cdk_nag_class), app)):  # type: ignore[misc]
            rule = catalogue.get(finding.finding.split("[")[0])
            if rule is None or types[finding.path] not in rule.resource_types:
                unlisted.append(f"{finding.finding} on {types[finding.path]}")
    reported = len(unlisted)
    assert reported == 0, (
        f"cdk-nag {version()} reports what the catalogue does not list ({', '.join(sorted(set(unlisted)))}); "
        f"pack_rules in {ADAPTER} must change"
    )


def test_a_broken_coupling_is_named_not_hidden() -> None:
    class WithoutPackName:
        read_pack_name = "Fake"

    with pytest.raises(NagInternalsChangedError, match=r"no longer has a _pack_name field on NagPack; the blind"):
        every_finding(WithoutPackName(), cdk.App())  # type: ignore[arg-type]
    with pytest.raises(NagInternalsChangedError, match=r"defines no class NoSuchChecks in lib/packs/\*\.js"):
        pack_rules("NoSuch", "NoSuchChecks")
    with pytest.raises(NagInternalsChangedError, match=r"names the pack in packs/aws-solutions\.js \['AwsSolutions'\]"):
        pack_rules("Renamed", "AwsSolutionsChecks")
