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
from aws_cdk import aws_s3 as s3

from compliance.catalogue import nag_rules
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
    assert len(rules) > 50, (
        f"cdk-nag {version()}: only {len(rules)} rules read for {pack.name}; pack_rules in {ADAPTER}"
    )
    assert all(r.rule.startswith(pack.finding_prefix) for r in rules)


def test_every_rule_read_names_the_resource_types_it_evaluates() -> None:
    blind = [r.rule for r in nag_rules() if not r.resource_types]
    assert blind == [], f"cdk-nag {version()}: no resource type read for {blind}; rule_types in {ADAPTER} must change"


def test_a_broken_coupling_is_named_not_hidden() -> None:
    class WithoutPackName:
        read_pack_name = "Fake"

    with pytest.raises(NagInternalsChangedError, match=r"no longer has a _pack_name field on NagPack; the blind"):
        every_finding(WithoutPackName(), cdk.App())  # type: ignore[arg-type]
    with pytest.raises(NagInternalsChangedError, match=r"defines no class NoSuchChecks in lib/packs/\*\.js"):
        pack_rules("NoSuch", "NoSuchChecks")
    with pytest.raises(NagInternalsChangedError, match=r"names the pack in packs/aws-solutions\.js \['AwsSolutions'\]"):
        pack_rules("Renamed", "AwsSolutionsChecks")
