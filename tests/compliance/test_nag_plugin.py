"""The packs run once a synth: each wrapped cdk-nag pack and Preflight give the CDK the report cdk-nag gives, and keep
every finding for the evaluation.

cdk-nag leaves out of its report what an acknowledgment covers; the wrapper runs the pack blind and leaves those
out itself (compliance/nag_adapter.py copies how). Both sit in one app here, beside the stock packs, so a cdk-nag
upgrade that matches acknowledgments, groups or orders its report differently fails these tests, naming the adapter.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import jsii
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, ConstructOrder

from compliance.assembly import CloudAssembly
from compliance.evaluation import evaluate
from compliance.nag_adapter import ADAPTER, BlindRun, every_finding, kept, nag_pack, version
from compliance.nag_plugin import NagPackPlugin
from compliance.packs import CONTEXT, PACKS, register_packs
from compliance.preflight import RULES
from compliance.preflight.base import PACK as PREFLIGHT
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.preflight.pack import PreflightChecks
from compliance.references import TemplateIndex

ENV = cdk.Environment(account="123456789012", region="us-west-2")
NAG_CLASSES = {"AwsSolutions": "AwsSolutionsChecks", "NIST.800.53.R5": "NIST80053R5Checks"}
# The statement of a role that grants too much: findings of one rule under two finding ids (IAM5's granular ids).
_WILDCARDS = {"Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:Decrypt"], "Resource": "*"}]}
_TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _acknowledge(scope: Construct, *findings: str) -> None:
    for finding in findings:
        cdk.Validations.of(scope).acknowledge(
            cdk.Acknowledgment(id=finding, reason=f"{finding} accepted in the fixture")
        )


def _role(scope: Construct, construct_id: str) -> iam.CfnRole:
    policy = iam.CfnRole.PolicyProperty(policy_name="Wildcards", policy_document=_WILDCARDS)
    return iam.CfnRole(scope, construct_id, assume_role_policy_document=_TRUST, policies=[policy])


class FixtureStage(cdk.Stage):
    """Findings acknowledged on a resource, on an ancestor, on the stage and on the app, by granular id, and open.

    Several findings' first resource is acknowledged and a later one is not, so an entry of the report starts
    later than in the blind report: on a role (IAM5), and on a bucket among findings that start there (S1, S10).
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id, env=ENV)
        stack = cdk.Stack(self, "Store")
        logged = s3.CfnBucket(stack, "Logged", logging_configuration={"destinationBucketName": "elsewhere"})
        _acknowledge(logged, "AwsSolutions-S10", "Preflight-S3ObjectLock[disabled]")
        group = Construct(stack, "Group")
        _acknowledge(group, "NIST.800.53.R5-S3BucketLoggingEnabled", "Preflight-S3ObjectLock[disabled]")
        s3.CfnBucket(group, "Inner")
        _acknowledge(_role(stack, "Accepted"), "AwsSolutions-IAM5[Resource::*]")
        _role(stack, "Open")
        s3.CfnBucket(stack, "Plain")
        logs.LogGroup(stack, "Logs", retention=logs.RetentionDays.THREE_MONTHS)
        # Plain CfnResources: the provider of the custom resource that closes the default security group.
        ec2.Vpc(cdk.Stack(self, "Network"), "Vpc", max_azs=1, nat_gateways=0, restrict_default_security_group=True)
        _acknowledge(self, "NIST.800.53.R5-S3BucketVersioningEnabled", "Preflight-LogGroupRetention[90-days]")


@jsii.implements(cdk_nag.IApplyRule)
class _Applied:
    """A verdict of a Preflight rule, handed to cdk-nag's `applyRule` as its rule's result."""

    def __init__(self, node: cdk.CfnResource, rule: PreflightRule, verdict: Verdict) -> None:
        self._node, self._rule, self._verdict = node, rule, verdict

    @property
    def node(self) -> cdk.CfnResource:
        return self._node

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.rule_id

    @property
    def info(self) -> str:
        return self._verdict.message or self._rule.explanation

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> cdk_nag.NagMessageLevel:
        return cdk_nag.NagMessageLevel.ERROR

    def rule(self, node: cdk.CfnResource) -> Any:
        del node
        if not self._verdict.finding:
            return cdk_nag.NagRuleCompliance.NON_COMPLIANT
        return [re.sub(r"[^A-Za-z0-9._/:@+=-]", "-", self._verdict.finding)]


class StockPreflight(cdk_nag.NagPack):
    """Preflight's rules applied by cdk-nag itself, resource by resource as its walk reaches them: the reference."""

    def __init__(self) -> None:
        super().__init__()
        self._pack_name = PREFLIGHT
        self._index: TemplateIndex | None = None
        self.plain: set[str] = set()
        self.not_applicable: set[tuple[str, str]] = set()

    @property
    def name(self) -> str:
        return PREFLIGHT

    def validate_scope(self, scope: Any) -> Any:
        self._index, self.plain, self.not_applicable = None, set(), set()
        return super().validate_scope(scope)

    def _check_resource(self, node: cdk.CfnResource) -> None:
        if self._index is None:
            app = node.node.root
            assert isinstance(app, cdk.Stage)
            self._index = TemplateIndex.load(app.outdir)
        index = self._index
        if type(node) is cdk.CfnResource:
            self.plain.add(node.node.path)
        stack = cdk.Stack.of(node)
        resource = index.resource(node.node.path) or index.resource_by_logical_id(
            node.node.path, stack.resolve(stack.get_logical_id(node))
        )
        if resource is None:
            return
        context = Context(index=index, external_prerequisites=frozenset())
        for rule in (r for r in RULES if r.reads(resource.type)):
            verdict = rule.check(resource, context)
            if not verdict.applies:
                self.not_applicable.add((f"{PREFLIGHT}-{rule.rule_id}", node.node.path))
            if verdict.failed:
                self._apply_rule(_Applied(node, rule, verdict))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, Path, StockPreflight]:
    """One app checked by each stock pack and by its counterpart run once: each name reports twice."""
    outdir = tmp_path_factory.mktemp("packs-once")
    app = cdk.App(outdir=str(outdir), context=CONTEXT)
    FixtureStage(app, "Fixture")
    _acknowledge(app, "NIST.800.53.R5-S3BucketReplicationEnabled")
    stock = [nag_pack(c) for c in NAG_CLASSES.values()]
    reference = StockPreflight()
    once = [NagPackPlugin(nag_pack(c)) for c in NAG_CLASSES.values()]
    cdk.Validations.of(app).add_plugins(*stock, reference, *once, PreflightChecks())
    app.synth()
    return app, outdir, reference


def _reports(outdir: Path) -> dict[str, list[dict[str, Any]]]:
    reports: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for report in json.loads((outdir / "validation-report.json").read_text())["pluginReports"]:
        reports[report["pluginName"]].append(report)
    return reports


@pytest.mark.parametrize("name", [*NAG_CLASSES, PREFLIGHT])
def test_a_pack_run_once_reports_to_the_cdk_what_the_stock_pack_reports(
    canary: tuple[cdk.App, Path, StockPreflight], name: str
) -> None:
    _, outdir, _ = canary
    stock, once = _reports(outdir)[name]
    open_ids = [v["ruleName"] for v in stock["violations"]]
    assert open_ids, "the fixture leaves findings of every pack open"
    assert once == stock, (
        f"cdk-nag {version()} reports {name}'s findings otherwise than the pack run once "
        f"({open_ids} against {[v['ruleName'] for v in once['violations']]}): what {ADAPTER} copies of its "
        "acknowledgment matching (isAcknowledged) or its report (addViolation) must change"
    )


def test_the_fixture_shows_what_the_report_of_a_blind_run_cannot_tell(
    canary: tuple[cdk.App, Path, StockPreflight],
) -> None:
    """An entry that starts after findings of it were acknowledged, on a resource where other entries start."""
    app, outdir, _ = canary
    blind = [f.finding for f in every_finding(nag_pack(NAG_CLASSES["AwsSolutions"]), app)]
    (stock, _) = _reports(outdir)["AwsSolutions"]
    reported = [v["ruleName"] for v in stock["violations"]]
    assert "AwsSolutions-IAM5[Resource::*]" in reported, "a granular finding id is open"
    assert [f for f in dict.fromkeys(blind) if f in reported] != reported, "the blind report's order is not the CDK's"


@pytest.mark.parametrize("name", [*NAG_CLASSES, PREFLIGHT])
def test_a_pack_run_once_keeps_every_finding_acknowledged_or_not(
    canary: tuple[cdk.App, Path, StockPreflight], name: str
) -> None:
    app, _, reference = canary
    run = kept(app, name)
    assert run is not None
    pack = reference if name == PREFLIGHT else nag_pack(NAG_CLASSES[name])
    assert list(run.findings) == every_finding(pack, app)
    (report, _) = _reports(canary[1])[name]
    reported = {(v["ruleName"], c["constructPath"]) for v in report["violations"] for c in v["violatingConstructs"]}
    assert reported < {(f.finding, f.path) for f in run.findings}, "the acknowledged findings are kept too"
    if name == PREFLIGHT:
        assert (set(run.plain), set(run.not_applicable)) == (reference.plain, reference.not_applicable)
        assert any("Custom::VpcRestrictDefaultSG" in p for p in run.plain)
        assert run.not_applicable


def test_the_tree_is_read_in_the_order_the_packs_walk_it(tmp_path: Path) -> None:
    """Depth first, each construct before its children, as `node.children` lists them, subtree files included."""
    for max_nodes in (None, 7):
        context = {} if max_nodes is None else {"@aws-cdk/core.TreeMetadata:maxNodes": max_nodes}
        app = cdk.App(outdir=str(tmp_path / str(max_nodes)), context=context)
        FixtureStage(app, "Fixture")
        app.synth()
        constructs = CloudAssembly(app.outdir).constructs
        assert constructs is not None
        assert [c.path for c in constructs] == [c.node.path for c in app.node.find_all(ConstructOrder.PREORDER)]
        assert bool(list(tmp_path.glob(f"{max_nodes}/trees-*.json"))) == bool(max_nodes), (
            "subtrees in files of their own"
        )


def test_the_evaluation_reads_what_the_packs_kept_and_runs_those_the_synth_did_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same evaluations either way: from the packs' runs in the synth, or from runs after it."""
    ran: list[str] = []

    def counted(plugin: type[Any]) -> Any:
        original = plugin.run_blind

        def run_blind(self: Any, app: cdk.App) -> BlindRun:
            ran.append(self.name)
            return original(self, app)  # type: ignore[no-any-return]

        return run_blind

    for plugin in (NagPackPlugin, PreflightChecks):
        monkeypatch.setattr(plugin, "run_blind", counted(plugin))

    def evaluated(registered: bool) -> list[Any]:
        outdir = tmp_path / ("registered" if registered else "not-registered")
        app = cdk.App(outdir=str(outdir), context={**CONTEXT, "aws:cdk:enable-path-metadata": True})
        FixtureStage(app, "Fixture")
        if registered:
            register_packs(app)
        app.synth()
        model = evaluate(app, outdir, stages=["Fixture"])
        return [e for e in model.evaluations if e.pack in {p.name for p in PACKS if p.keeps_findings}]

    kept_in_synth = evaluated(registered=True)
    assert ran == []
    run_after = evaluated(registered=False)
    assert sorted(ran) == sorted(p.name for p in PACKS if p.keeps_findings)
    assert {e.pack for e in kept_in_synth} == {p.name for p in PACKS if p.keeps_findings}
    assert kept_in_synth == run_after
