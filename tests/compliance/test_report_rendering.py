"""The report renderers, on a small hand-made model: no synth, so these run in milliseconds."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from compliance import preflight
from compliance.model import (
    AcknowledgmentKind,
    AcknowledgmentRecord,
    CheckResult,
    ComplianceModel,
    Control,
    ControlStatus,
    Evaluation,
    Inheritance,
    Rule,
    RunIdentity,
    Status,
    acknowledgment_name,
    baseline,
    cited_controls,
    control_id,
)
from compliance.outputs.controls_csv import render_controls_csv
from compliance.outputs.findings_json import findings_by_scope, render_findings_json
from compliance.outputs.html import render_html
from compliance.outputs.junit import render_junit
from compliance.outputs.markdown import render_markdown
from compliance.outputs.sarif import render_sarif
from compliance.report import write_reports

NIST = "NIST.800.53.R5"
AWS = "AwsSolutions"
LOGGING = f"{NIST}-S3BucketLoggingEnabled"
ENCRYPTION = f"{NIST}-S3DefaultEncryptionKMS"
WILDCARD = f"{AWS}-IAM5"
MANY_RULES = tuple(f"{NIST}-Rule{n}" for n in range(7))
RUN = RunIdentity(
    commit="0123abc",
    commit_source="CODEBUILD_RESOLVED_SOURCE_VERSION",
    config_file="config/environments.yaml",
    config_sha256="a" * 64,
    pipeline_account="710000000001",
    pipeline_region="us-west-2",
    stages={"Dev": "720000000002 us-east-1"},
    tools={"aws-cdk-lib": "2.0.0", "cdk-nag": "3.0.0", "Control Tower rules": "not installed", "cfn-lint": "1.0.0"},
    time="2026-01-02T03:04:05Z",
)


def _evaluation(
    scope: str, pack: str, rule: str, status: Status, path: str, finding: str = "", reason: str = ""
) -> Evaluation:
    return Evaluation(
        scope=scope,
        pack=pack,
        rule=rule,
        finding=finding or rule,
        status=status,
        path=path,
        resource_type="AWS::S3::Bucket" if pack == NIST else "AWS::IAM::Policy",
        message="" if status is Status.COMPLIANT else f"{rule} is not satisfied.",
        reason=reason,
        # An acknowledged finding names the acknowledgment that accepted it, here one on the resource itself.
        acknowledgment=acknowledgment_name(finding or rule, path) if status is Status.ACKNOWLEDGED else "",
    )


@pytest.fixture
def model() -> ComplianceModel:
    """Two scopes, three rules from two packs, every evaluation status, one stale acknowledgment."""
    ok, bad, ack = Status.COMPLIANT, Status.NON_COMPLIANT, Status.ACKNOWLEDGED
    wildcard = f"{WILDCARD}[Resource::*]"
    return ComplianceModel(
        scopes=["Pipeline", "Dev"],
        rules=[
            Rule(
                NIST,
                LOGGING,
                "The S3 Buckets do not have server access logs enabled. Logs help audits - "
                "(Control IDs: AC-2(4), AU-2b, SC-7(4)(b)).",
                ("AC-2(4)", "AU-2b", "SC-7(4)(b)"),
                ("AWS::S3::Bucket",),
            ),
            Rule(
                NIST,
                ENCRYPTION,
                "The S3 Bucket is not encrypted with KMS - (Control IDs: SC-28(1)).",
                ("SC-28(1)",),
                (),
            ),
            Rule(AWS, WILDCARD, "The IAM entity contains wildcard permissions.", (), ("AWS::IAM::Policy",)),
        ],
        evaluations=[
            _evaluation("Pipeline", NIST, LOGGING, ok, "Pipeline/Artifacts/Resource"),
            _evaluation("Pipeline", NIST, LOGGING, bad, "Pipeline/Cache/Resource"),
            _evaluation("Pipeline", NIST, ENCRYPTION, ok, "Pipeline/Artifacts/Resource"),
            _evaluation("Pipeline", AWS, WILDCARD, ack, "Pipeline/Role/Policy", wildcard, "CodeBuild needs | logs:*."),
            _evaluation(
                "Dev", NIST, LOGGING, ack, "Dev/Data/Logs/Resource", reason="The log bucket cannot log to itself."
            ),
            _evaluation("Dev", NIST, ENCRYPTION, bad, "Dev/Data/Logs/Resource"),
            _evaluation("Dev", NIST, ENCRYPTION, bad, "Dev/Data/Exports/Resource"),
            _evaluation("Dev", NIST, ENCRYPTION, ok, "Dev/Data/Archive/Resource"),
            _evaluation("Dev", AWS, WILDCARD, ok, "Dev/Service/Role/Policy"),
        ],
        acknowledgments=[
            AcknowledgmentRecord(
                "Pipeline",
                "Pipeline/Role/Policy",
                wildcard,
                "CodeBuild needs | logs:*.",
                "CW-1",
                ("AC-6",),
                1,
                AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
            ),
            AcknowledgmentRecord(
                "Dev",
                "Dev/Data/Logs/Resource",
                LOGGING,
                "The log bucket cannot log to itself.",
                "CW-2",
                ("AU-9",),
                1,
                AcknowledgmentKind.TOOL_FALSE_POSITIVE,
                approved=True,
            ),
            AcknowledgmentRecord(
                "Dev",
                "Dev/Old/Resource",
                ENCRYPTION,
                "Removed bucket.",
                "none",
                ("SC-28",),
                0,
                AcknowledgmentKind.GENERATED_CONSTRUCT,
            ),
        ],
        controls=[
            Control(
                "ac-2.4", "AC-2(4)", "Automated Audit Actions", "Access Control", ControlStatus.EVIDENCED, (LOGGING,)
            ),
            Control(
                "ac-6",
                "AC-6",
                "Least Privilege",
                "Access Control",
                ControlStatus.PARTIAL_REQUESTED,
                (WILDCARD,),
                deviations=(f"{wildcard} on Pipeline/Role/Policy",),
            ),
            Control("ac-7", "AC-7", "Unsuccessful Logon Attempts", "Access Control", ControlStatus.NOT_CHECKED),
            Control("au-2", "AU-2", "Event Logging", "Audit and Accountability", ControlStatus.EVIDENCED, MANY_RULES),
            Control(
                "sc-28.1",
                "SC-28(1)",
                "Protection of Information at Rest | Cryptographic Protection",
                "System and Communications Protection",
                ControlStatus.FAILING,
                (ENCRYPTION,),
                ("Dev:Dev/Data/Logs/Resource", "Dev:Dev/Data/Exports/Resource"),
            ),
            Control(
                "sc-7", "SC-7", "Boundary Protection", "System and Communications Protection", ControlStatus.NOT_CHECKED
            ),
        ],
        resources_per_scope={"Pipeline": 12, "Dev": 40},
        config_differences=["Dev keeps no access logs for its log bucket, to save cost."],
        external_prerequisites={"Prod": ["An organization CloudTrail trail"]},
    )


def _md_table(markdown: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under `heading`, cells split on unescaped pipes."""
    lines = markdown.splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif rows:
            break
    return rows[2:]  # header and alignment rows


def _pairs_with(model: ComplianceModel, status: Status) -> set[tuple[str, str]]:
    return {(e.scope, e.rule) for e in model.evaluations if e.status is status}


# --- model.py helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("citation", "expected"),
    [
        ("SC-7(4)(b)", "sc-7.4"),
        ("CP-9d", "cp-9"),
        ("AU-12(1)", "au-12.1"),
        ("SI-1a.2", "si-1"),
        ("not a control", None),
    ],
)
def test_control_id(citation: str, expected: str | None) -> None:
    assert control_id(citation) == expected


def test_cited_controls() -> None:
    description = "The S3 ... - (Control IDs: AC-2(4), AU-2b, SC-7(4)(b))."
    assert cited_controls(description) == ("AC-2(4)", "AU-2b", "SC-7(4)(b)")
    assert cited_controls("The IAM entity contains wildcard permissions.") == ()


def test_baseline_has_the_323_moderate_controls() -> None:
    controls = baseline()
    assert len(controls) == 323
    assert len({c.control for c in controls}) == 323


# --- findings.json ----------------------------------------------------------------------------


def test_findings_json_round_trips_through_the_model(model: ComplianceModel) -> None:
    data = json.loads(render_findings_json(model))
    assert data["schema"] == "fedramp-monitoring/compliance-findings/1"
    assert ComplianceModel.from_json(data).evaluations == model.evaluations
    assert ComplianceModel.from_json(data) == model
    assert data["summary"]["Dev"] == {
        "resources": 40,
        "rules_evaluated": 3,
        "compliant": 2,
        "acknowledged": 1,
        "non_compliant": 2,
    }
    assert data["by_scope"] == findings_by_scope(model)
    assert [a["kind"] for a in data["acknowledgments"]] == [str(a.kind) for a in model.acknowledgments]


def test_findings_json_written_before_acknowledgments_had_a_kind_is_refused_by_name(model: ComplianceModel) -> None:
    data = json.loads(render_findings_json(model))
    del data["acknowledgments"][1]["kind"]
    with pytest.raises(
        ValueError, match=re.escape(f"acknowledgment of {LOGGING} on Dev/Data/Logs/Resource has no kind")
    ):
        ComplianceModel.from_json(data)


def test_findings_by_scope_nests_every_evaluation_once(model: ComplianceModel) -> None:
    nested = findings_by_scope(model)
    assert list(nested) == ["Pipeline", "Dev"]
    assert list(nested["Dev"][NIST]) == [LOGGING, ENCRYPTION]
    assert [r["path"] for r in nested["Dev"][NIST][ENCRYPTION]] == [
        "Dev/Data/Logs/Resource",
        "Dev/Data/Exports/Resource",
        "Dev/Data/Archive/Resource",
    ]
    assert nested["Pipeline"][AWS][WILDCARD][0]["finding"] == f"{WILDCARD}[Resource::*]"
    leaves = [r for packs in nested.values() for rules in packs.values() for rs in rules.values() for r in rs]
    assert len(leaves) == len(model.evaluations)


# --- controls.csv -----------------------------------------------------------------------------


def test_controls_csv_has_one_row_per_control_and_parses_back(model: ComplianceModel) -> None:
    text = render_controls_csv(model)
    assert len(list(csv.reader(io.StringIO(text)))) == len(model.controls) + 1
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "control",
        "label",
        "title",
        "family",
        "status",
        "assessment",
        "rules",
        "objectives",
        "resources",
        "deviations",
        "monitored_at_runtime",
        "inherited_from",
        "deviation_kinds",
    ]
    assert [r["control"] for r in rows] == [c.control for c in model.controls]
    # The kind of each acknowledgment behind a deviation, found by its name.
    ac6 = rows[1]
    (behind,) = [a for a in model.acknowledgments if a.name == ac6["deviations"]]
    assert ac6["deviation_kinds"] == str(behind.kind) == "operational requirement"
    assert rows[0]["deviation_kinds"] == ""
    sc28 = rows[4]
    assert sc28["status"] == "failing"
    assert sc28["assessment"] == "not satisfied"
    assert rows[1]["assessment"] == "partial"
    assert sc28["title"] == "Protection of Information at Rest | Cryptographic Protection"
    assert sc28["resources"].split("; ") == ["Dev:Dev/Data/Logs/Resource", "Dev:Dev/Data/Exports/Resource"]
    assert rows[3]["rules"].split("; ") == list(MANY_RULES)
    assert rows[2]["rules"] == ""


# --- report.md --------------------------------------------------------------------------------


def test_markdown_sections_come_in_order(model: ComplianceModel) -> None:
    markdown = render_markdown(model)
    headings = (
        "## What needs attention",
        "## This run",
        "## Summary",
        "## Open findings",
        "## Acknowledgments",
        "## Control matrix",
    )
    positions = [markdown.index(h) for h in headings]
    assert positions == sorted(positions)
    assert set(re.findall(r"</?[a-z]+", markdown)) <= {"<details", "</details", "<summary", "</summary"}


def test_markdown_opens_with_the_verdict_and_the_runs_identity(model: ComplianceModel) -> None:
    # The first paragraph after the title names the gate, not an authorization, and what it rests on; what needs
    # attention follows it, before the run's identity.
    paragraphs = render_markdown(model).split("\n\n")
    first = " ".join(paragraphs[1].split())
    assert first.startswith(
        f"**Synth gate: FAIL** (the compliance gate of this synth, not an authorization). "
        f"{len(model.open_findings)} open finding(s); {len(model.acknowledgments)} acknowledgment(s)"
    )
    assert paragraphs[2] == "## What needs attention"
    # Its open findings, each with its scope and resource, under the heading the first screen links to.
    found = render_markdown(model).split("## Open findings", 1)[1].split("\n## ", 1)[0]
    for e in model.open_findings:
        assert f"{e.scope}: `{e.finding}` on `{e.path}`: {e.message}" in " ".join(found.split())
    assert "[Open findings](#open-findings)" in render_markdown(model)
    run = render_markdown(replace(model, run=RUN)).split("## This run", 1)[1].split("## Summary", 1)[0]
    for text in (
        "- Commit: `0123abc` (CODEBUILD_RESOLVED_SOURCE_VERSION)",
        "- Configuration: `config/environments.yaml`",
        f"- Configuration sha256: `{'a' * 64}`",
        "- Pipeline: account `710000000001`, region `us-west-2`",
        "- Dev: account `720000000002`, region `us-east-1`",
        "Control Tower rules not installed",
        "- Time: 2026-01-02T03:04:05Z",
    ):
        assert text in run


def test_markdown_verdict_passes_only_when_nothing_is_open(model: ComplianceModel) -> None:
    holds = CheckResult("Versioned", "the S3 bucket is versioned", "Dev/Data/Logs/Resource", True, "Enabled")
    clean = replace(
        model,
        evaluations=[e for e in model.evaluations if e.status is not Status.NON_COMPLIANT],
        acknowledgments=[replace(a, checks=(holds,)) for a in model.acknowledgments],
        cfn_lint="pass",
    )
    assert "**Synth gate: FAIL**" in render_markdown(replace(clean, acknowledgments=model.acknowledgments))
    assert " ".join(render_markdown(clean).split("\n\n")[1].split()).startswith(
        "**Synth gate: PASS** (the compliance gate of this synth, not an authorization). 0 open finding(s)"
    )
    drifted = replace(clean, baseline_file="compliance/baseline.json", baseline_differences=["Dev: lost ac-2"])
    assert "**Synth gate: FAIL**" in render_markdown(drifted)
    assert "1 change(s) from the baseline" in " ".join(render_markdown(drifted).split())


def test_no_line_of_the_markdown_needs_sideways_scrolling(model: ComplianceModel) -> None:
    long_id = (
        "AwsSolutions-IAM5[Resource::arn:aws:logs:us-west-2:123456789012:log-group:/aws/codebuild/" + "X" * 60 + ":*]"
    )
    acks = [replace(model.acknowledgments[0], finding=long_id, reason="A reason " * 40), *model.acknowledgments[1:]]
    markdown = render_markdown(replace(model, run=RUN, acknowledgments=acks))
    # Prose wraps at 100 columns; only an identifier that must not be split may stand longer, alone on its line (with
    # its group's number, or its list item's dash).
    long = [line for line in markdown.splitlines() if len(line) > 100]
    assert f"**1.** `{long_id}`" in long
    assert {re.sub(r"^(\*\*\d+\.\*\* |\s*- )", "", line) for line in long} == {f"`{long_id}`"}


def test_markdown_scope_counts_add_up_to_the_evaluations(model: ComplianceModel) -> None:
    rows = _md_table(render_markdown(model), "### Evaluations per scope")
    assert [r[0] for r in rows] == model.scopes
    counts = {r[0]: [int(n) for n in r[1:]] for r in rows}
    assert sum(c[2] + c[3] + c[4] for c in counts.values()) == len(model.evaluations)
    for scope, (resources, rules, passing, acknowledged, failing) in counts.items():
        evaluations = [e for e in model.evaluations if e.scope == scope]
        assert resources == model.resources_per_scope[scope]
        assert rules == len({e.rule for e in evaluations})
        assert passing == sum(e.status is Status.COMPLIANT for e in evaluations)
        assert acknowledged == sum(e.status is Status.ACKNOWLEDGED for e in evaluations)
        assert failing == sum(e.status is Status.NON_COMPLIANT for e in evaluations)
    assert counts["Pipeline"] == [12, 3, 2, 1, 1]


def test_markdown_keeps_evidenced_acknowledged_and_runtime_apart(model: ComplianceModel) -> None:
    markdown = render_markdown(model)
    # Satisfied, partial, not satisfied, not assessed; then runtime and the total.
    assert _md_table(markdown, "### Controls per family") == [
        ["Access Control", "1", "1", "0", "1", "0", "3"],
        ["Audit and Accountability", "1", "0", "0", "0", "0", "1"],
        ["System and Communications Protection", "0", "0", "1", "1", "0", "2"],
    ]
    rows = _md_table(markdown, "### Controls (6 in the FedRAMP Moderate baseline)")
    assert rows == [
        ["evidenced at synth", "satisfied", "2"],
        ["partial, deviation approved", "partial", "0"],
        ["partial, deviation requested", "partial", "1"],
        ["not satisfied, deviation approved", "not satisfied", "0"],
        ["not satisfied, deviation requested", "not satisfied", "0"],
        ["failing", "not satisfied", "1"],
        ["not checked at synth", "not assessed", "2"],
    ]
    assert "an acknowledged finding or an acknowledgment that names the control" in " ".join(markdown.split())
    assert "covered" not in markdown.lower()
    assert "Monitored at runtime, counted apart" in markdown


def test_markdown_groups_repeated_acknowledgments_and_folds_their_resources(model: ComplianceModel) -> None:
    repeated = [replace(model.acknowledgments[0], scope="Pipeline", path=f"Pipeline/Role{n}/Policy") for n in range(3)]
    markdown = render_markdown(replace(model, acknowledgments=[*repeated, *model.acknowledgments[1:]]))
    section = markdown.split("## Acknowledgments", 1)[1].split("## Control matrix", 1)[0]
    assert section.startswith(" (5, in 3 groups)")
    assert f"**1.** `{WILDCARD}[Resource::*]`\n\nIn Pipeline, 3 resources; NIST 800-53 AC-6; deviation" in section
    assert "deviation requested; review by not set." in " ".join(section.split())
    folded = section.split("<details><summary>The 3 resources</summary>", 1)[1].split("</details>", 1)[0]
    assert [line for line in folded.splitlines() if line] == [f"- `Pipeline/Role{n}/Policy`" for n in range(3)]
    assert "Reason: CodeBuild needs | logs:*." in section
    assert "On `Dev/Data/Logs/Resource`" in section


def test_markdown_groups_acknowledgments_by_kind_the_real_deviations_first(model: ComplianceModel) -> None:
    generated, false_positive, operational = (
        AcknowledgmentKind.GENERATED_CONSTRUCT,
        AcknowledgmentKind.TOOL_FALSE_POSITIVE,
        AcknowledgmentKind.OPERATIONAL_REQUIREMENT,
    )
    first = model.acknowledgments[0]

    def ack(n: int, kind: AcknowledgmentKind, reason: str, *, approved: bool = False, matched: int = 1) -> Any:
        path = f"Pipeline/Role{n}/Policy"
        return replace(first, path=path, kind=kind, reason=reason, approved=approved, matched=matched)

    # In code order: the generated constructs first, the operational requirements last.
    acks = [
        ack(1, generated, "CDK Pipelines writes it.", approved=True),
        ack(2, generated, "CDK Pipelines writes it."),
        ack(3, false_positive, "The rule cannot read the other stack's key.", approved=True),
        ack(4, operational, "The smoke test calls any API of the account."),
        ack(5, operational, "The smoke test calls any API of the account.", approved=True),
        ack(6, operational, "The function runs outside the VPC.", matched=0),
    ]
    markdown = render_markdown(replace(model, acknowledgments=acks))
    section = markdown.split("\n## Acknowledgments", 1)[1].split("\n## Control Tower", 1)[0]
    order = [operational, false_positive, generated]
    assert list(AcknowledgmentKind) == order
    # The kinds come first in the section; the stale acknowledgments and the stages' differences after them.
    kinds = section.split("\n### Stale", 1)[0]
    headings = [line for line in kinds.splitlines() if line.startswith("### ")]
    expected = []
    for kind in order:
        members = [a for a in acks if a.kind is kind]
        groups = {(a.finding, a.reason, a.compensating_control, a.controls) for a in members}
        expected.append(f"### {str(kind).capitalize()}s ({len(members)}, in {len(groups)} groups)")
    assert headings == expected
    # Each kind's definition and counts under its heading; its groups numbered on from the kind before.
    numbered: list[str] = []
    parts = re.split(r"^### .*$", kinds, flags=re.M)[1:]
    for kind, part in zip(order, parts, strict=True):
        members = [a for a in acks if a.kind is kind]
        approved = sum(a.approved for a in members)
        awaiting = sum(a.matched != 0 and not a.approved for a in members)
        text = " ".join(part.split())
        assert text.startswith(f"{kind.definition} {approved} approved, {awaiting} awaiting approval.")
        numbered += re.findall(r"Reason: (.*?)\.(?= Compensating)", text)
    reasons = list(dict.fromkeys(a.reason.rstrip(".") for kind in order for a in acks if a.kind is kind))
    assert numbered == reasons
    assert re.findall(r"^\*\*(\d+)\.\*\*", kinds, re.M) == [str(n) for n in range(1, len(reasons) + 1)]

    rows = _md_table(markdown, "### Kinds of acknowledgment")
    assert rows == [
        [
            str(kind),
            str(sum(a.kind is kind for a in acks)),
            str(sum(a.kind is kind and a.approved for a in acks)),
            str(sum(a.kind is kind and a.matched != 0 and not a.approved for a in acks)),
        ]
        for kind in order
    ]
    summary = markdown.split("## Summary", 1)[1].split("## Inherited", 1)[0]
    assert "### Kinds of acknowledgment" in summary


def test_markdown_acknowledgments_stale_and_dev_differences(model: ComplianceModel) -> None:
    markdown = render_markdown(model)
    stale = markdown.split("### Stale acknowledgments", 1)[1].split("###", 1)[0]
    assert "`Dev/Old/Resource`" in stale
    assert "`Pipeline/Role/Policy`" not in stale
    differences = markdown.split("### Where Dev differs from the later stages", 1)[1]
    assert "- Dev keeps no access logs for its log bucket, to save cost." in differences


def test_markdown_control_matrix_lists_every_control_and_abbreviates_rules(model: ComplianceModel) -> None:
    matrix = render_markdown(model).split("## Control matrix", 1)[1]
    items = [line for line in matrix.splitlines() if line.startswith("- **")]
    assert [line.split("**")[1] for line in items] == [c.label for c in model.controls]
    sc28 = next(line for line in items if line.startswith("- **SC-28(1)**"))
    assert "Protection of Information at Rest | Cryptographic Protection: failing" in sc28
    au2 = matrix.split("- **AU-2**", 1)[1].split("\n- ", 1)[0]
    assert "and 2 more" in au2
    assert MANY_RULES[5] not in au2


# --- inherited controls -------------------------------------------------------------------------

PROVIDER = "AWS Control Tower organization trail (log archive account 999999999999)"


@pytest.fixture
def inheriting(model: ComplianceModel) -> ComplianceModel:
    """The model with Dev leaving CloudTrail to its landing zone, which gives it AC-7."""
    return replace(
        model,
        controls=[
            replace(c, status=ControlStatus.INHERITED, inherited_from=(PROVIDER,)) if c.control == "ac-7" else c
            for c in model.controls
        ],
        inheritances=[Inheritance("Dev", "cloudtrail", PROVIDER, ("ac-7",)), Inheritance("Dev", "guardduty", "GD")],
    )


def test_inherited_controls_round_trip_and_read_in_controls_csv(inheriting: ComplianceModel) -> None:
    assert ComplianceModel.from_json(json.loads(render_findings_json(inheriting))) == inheriting
    ac7 = next(r for r in csv.DictReader(io.StringIO(render_controls_csv(inheriting))) if r["control"] == "ac-7")
    assert (ac7["status"], ac7["inherited_from"]) == ("inherited", PROVIDER)


def test_markdown_names_each_inherited_service_its_provider_stages_and_controls(
    model: ComplianceModel, inheriting: ComplianceModel
) -> None:
    markdown = render_markdown(inheriting)
    section = markdown.split("## Inherited", 1)[1].split("\n## ", 1)[0]
    items = " ".join(section.split()).split(" - ")[1:]
    assert items == [
        f"`cloudtrail` from {PROVIDER}, in Dev: AC-7",
        "`guardduty` from GD, in Dev: no control (every one is evidenced there, or the service evidences none)",
    ]
    assert ["inherited", "inherited", "1"] in _md_table(markdown, "### Controls (6 in the FedRAMP Moderate baseline)")
    assert _md_table(markdown, "### Controls per family")[0] == ["Access Control", "1", "1", "0", "0", "1", "0", "3"]
    assert f"Unsuccessful Logon Attempts: inherited from {PROVIDER}" in " ".join(markdown.split())
    assert "No stage leaves a service of its account baseline to a landing zone." in render_markdown(model)
    assert [line for line in markdown.splitlines() if len(line) > 100] == []


# --- report.sarif -----------------------------------------------------------------------------


def test_sarif_has_required_fields_and_one_result_per_open_or_acknowledged_evaluation(
    model: ComplianceModel,
) -> None:
    sarif: dict[str, Any] = json.loads(json.dumps(render_sarif(model)))
    # The parts of the SARIF 2.1.0 schema a consumer relies on.
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    assert len(sarif["runs"]) == 1
    run = sarif["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "fedramp-monitoring-compliance"
    assert driver["informationUri"].startswith("https://")
    for result in run["results"]:
        assert isinstance(result["message"]["text"], str)
        assert result["message"]["text"]
        assert result["ruleId"]
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "note"}
        (location,) = result["locations"]
        # This model records no resource's location, nor the run's configuration to fall back on.
        assert "physicalLocation" not in location
        assert location["logicalLocations"][0]["kind"] == "resource"
        assert len(result["partialFingerprints"]["primaryLocationLineHash"]) == len("0123456789abcdef:1")

    reported = [e for e in model.evaluations if e.status is not Status.COMPLIANT]
    assert len(run["results"]) == len(reported) == 5
    names = [r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] for r in run["results"]]
    assert names == [e.path for e in reported]  # construct paths already name the stage
    for result, evaluation in zip(run["results"], reported, strict=True):
        assert evaluation.finding in result["message"]["text"]
        if evaluation.status is Status.ACKNOWLEDGED:
            assert result["level"] == "note"
            # Accepted only where the signed-off baseline approves the acknowledgment; under review until then.
            approved = any(
                a.approved and a.finding == evaluation.finding and evaluation.path.startswith(a.path)
                for a in model.acknowledgments
            )
            (kind,) = {
                a.kind
                for a in model.acknowledgments
                if a.finding == evaluation.finding and evaluation.path.startswith(a.path)
            }
            assert result["suppressions"] == [
                {
                    "kind": "inSource",
                    "status": "accepted" if approved else "underReview",
                    "justification": evaluation.reason,
                    "properties": {"acknowledgmentKind": str(kind)},
                }
            ]
        else:
            assert result["level"] == "error"
            assert "suppressions" not in result


def test_sarif_describes_only_rules_with_results(model: ComplianceModel) -> None:
    rules = render_sarif(model)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [LOGGING, WILDCARD, ENCRYPTION]
    logging = rules[0]
    assert logging["shortDescription"]["text"] == "The S3 Buckets do not have server access logs enabled."
    assert logging["properties"]["tags"] == ["AC-2(4)", "AU-2b", "SC-7(4)(b)"]
    assert rules[1]["properties"]["tags"] == []


def test_sarif_describes_preflight_rules_from_their_own_metadata(model: ComplianceModel) -> None:
    """A Preflight rule's descriptor takes its short description and its AWS documentation from the rule itself."""
    cited = next(r for r in preflight.RULES if r.source_url)
    uncited = next(r for r in preflight.RULES if not r.source_url)
    ids = [f"{preflight.PACK}-{r.rule_id}" for r in (cited, uncited)]
    evaluations = [
        _evaluation("Dev", preflight.PACK, rule, Status.NON_COMPLIANT, f"Dev/R{n}") for n, rule in enumerate(ids)
    ]
    rendered = render_sarif(replace(model, evaluations=evaluations))
    rules = {r["id"]: r for r in rendered["runs"][0]["tool"]["driver"]["rules"]}

    assert rules[ids[0]]["shortDescription"]["text"] == cited.shortdesc
    assert rules[ids[0]]["helpUri"] == cited.source_url
    assert rules[ids[1]]["shortDescription"]["text"] == uncited.shortdesc
    assert "helpUri" not in rules[ids[1]]


# --- junit.xml --------------------------------------------------------------------------------


def test_junit_fails_each_scope_rule_pair_with_a_non_compliant_resource(model: ComplianceModel) -> None:
    root = ET.fromstring(render_junit(model))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == model.scopes

    failing_pairs = _pairs_with(model, Status.NON_COMPLIANT)
    assert int(root.get("failures", "")) == len(failing_pairs) == 2
    assert int(root.get("tests", "")) == len({(e.scope, e.rule) for e in model.evaluations}) == 6
    for suite in suites:
        suite_cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(suite_cases)
        assert int(suite.get("failures", "")) == sum(c.find("failure") is not None for c in suite_cases)

    failed = {
        (str(c.get("classname")).split(".", 1)[0], c.get("name"))
        for c in root.iter("testcase")
        if c.find("failure") is not None
    }
    assert failed == failing_pairs
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    failure = cases[("Dev.NIST.800.53.R5", ENCRYPTION)].find("failure")
    assert failure is not None
    assert "Dev/Data/Logs/Resource" in failure.get("message", "")
    assert "Dev/Data/Exports/Resource" in failure.get("message", "")
    assert "Dev/Data/Archive/Resource" not in failure.get("message", "")


def test_junit_acknowledged_only_pairs_pass_with_their_reasons(model: ComplianceModel) -> None:
    root = ET.fromstring(render_junit(model))
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    acknowledged_only = _pairs_with(model, Status.ACKNOWLEDGED) - _pairs_with(model, Status.NON_COMPLIANT)
    assert acknowledged_only == {("Pipeline", WILDCARD), ("Dev", LOGGING)}
    case = cases[("Pipeline.AwsSolutions", WILDCARD)]
    assert case.find("failure") is None
    assert "Pipeline/Role/Policy" in (case.findtext("system-out") or "")
    assert "CodeBuild needs | logs:*." in (case.findtext("system-out") or "")
    assert "[AwsSolutions-IAM5[Resource::*]] (operational requirement): " in (case.findtext("system-out") or "")
    assert cases[("Pipeline.NIST.800.53.R5", ENCRYPTION)].find("system-out") is None


# --- write_reports ----------------------------------------------------------------------------


def test_write_reports_writes_the_seven_files(model: ComplianceModel, tmp_path: Path) -> None:
    directory = tmp_path / "reports" / "compliance"
    paths = write_reports(model, directory)
    assert [p.name for p in paths] == [
        "findings.json",
        "controls.csv",
        "report.md",
        "report.html",
        "report.sarif",
        "junit.xml",
        "securityhub-automation-rules.json",
    ]
    assert all(p.parent == directory and p.stat().st_size > 0 for p in paths)
    findings, controls, markdown, page, sarif, junit, automation = paths
    assert json.loads(automation.read_text("utf-8"))["schema"] == "fedramp-monitoring/securityhub-automation-rules/1"
    assert ComplianceModel.from_json(json.loads(findings.read_text("utf-8"))) == model
    assert controls.read_text("utf-8") == render_controls_csv(model)
    assert markdown.read_text("utf-8") == render_markdown(model)
    assert page.read_text("utf-8") == render_html(model)
    assert json.loads(sarif.read_text("utf-8")) == render_sarif(model)
    assert ET.parse(junit).getroot().tag == "testsuites"
