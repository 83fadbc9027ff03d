"""The signed-off compliance baseline: what a reviewer accepted, compared with every synth.

`compliance/baseline.json` is committed. Per scope (the pipeline and each stage, by
name), it records the status at synth of every control that synth assesses and the
set of acknowledgments, each with the resources it accepts a finding on; a stage that
leaves services of its account baseline to a landing zone also records them under
`inherited`, each with its provider and the controls the stage inherits from it. Paths are
stage-relative and stage-neutral, and account ids, regions, partitions and the
source repository's name are written as placeholders, so editing what a team is
told to edit (accounts, regions, zones, sizes, e-mails) never changes it; adding or
removing an environment does, because that is a change to review.

A run regresses when a scope disappears or appears, a control's status drops
(evidenced -> acknowledged -> not checked -> failing), a control becomes or stops being
inherited, a service is inherited from another provider (or newly, or no longer), or an
acknowledgment is added or accepts more resources than recorded. Each regression is one
line, and fails the gate unless the baseline committed with the change records it (`make baseline`
rewrites the file from a synth; the diff is then part of the review). Improvements
(a control evidenced, an acknowledgment removed) pass, and the report lists them
until the baseline records them too. Standard library only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.model import (
    ComplianceModel,
    ControlStatus,
    Evaluation,
    Inheritance,
    Status,
    controls_from,
    inherited_controls,
)

SCHEMA = "fedramp-monitoring/compliance-baseline/1"
DEFAULT_PATH = Path(__file__).resolve().parent / "baseline.json"
# Higher is better: losing rank is a regression.
_RANK = {
    ControlStatus.EVIDENCED: 3,
    ControlStatus.ACKNOWLEDGED: 2,
    ControlStatus.NOT_CHECKED: 1,
    ControlStatus.FAILING: 0,
}
_ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_REGION = re.compile(r"\b[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9](?![0-9])")
_PARTITION = re.compile(r"\barn:aws(?:-[a-z-]+)?:")
_SOURCE_ACTION = re.compile(r"/Source/[^/]+/")
# The replication bucket of a pipeline support stack ('PipelineSupport-ap-southeast-2') is named from the
# stack's name, cut short: 'pipelinesupport-ap-southeeplicationbucket<hash>'. The cut region is a region.
_SUPPORT_BUCKET = re.compile(r"\bpipelinesupport-[a-z0-9-]+?(?=r?eplicationbucket)")


def deployment_neutral(text: str) -> str:
    """Text with partitions, account ids and regions written as placeholders (a provider's name, for one)."""
    text = _PARTITION.sub("arn:<partition>:", text)
    text = _SUPPORT_BUCKET.sub("pipelinesupport-<region>", text)
    text = _ACCOUNT.sub("<account>", text)
    return _REGION.sub("<region>", text)


def neutral(text: str, scope: str) -> str:
    """A path or finding id with the stage, logical-id hashes, subnet numbers and deployment targets taken out."""
    if scope != "Pipeline":
        text = text.removeprefix(f"Pipeline/{scope}/").replace(scope, "<stage>").replace(scope.lower(), "<stage>")
    text = deployment_neutral(text)
    text = re.sub(r"Subnet\d+/", "Subnet<n>/", text)
    text = re.sub(r"[0-9A-F]{8}\b", "<hash>", text)
    text = re.sub(r"[0-9a-f]{12,}", "<hash>", text)  # the hash in a generated physical name
    return _SOURCE_ACTION.sub("/Source/<repository>/", text)


def snapshot(model: ComplianceModel) -> dict[str, Any]:
    """The baseline document of a run."""
    scopes: dict[str, Any] = {}
    for scope in model.scopes:
        evaluations = [e for e in model.evaluations if e.scope == scope]
        inheritances = [i for i in model.inheritances if i.scope == scope]
        controls = controls_from(model.rules, evaluations, inherited=inherited_controls(inheritances))
        scopes[scope] = {
            "controls": {c.control: str(c.status) for c in controls if c.status is not ControlStatus.NOT_CHECKED},
            "acknowledgments": _acknowledgments(model, scope, evaluations),
        }
        if inheritances:  # only where a stage inherits: a baseline without any keeps its form
            scopes[scope]["inherited"] = _inherited(inheritances)
    return {"schema": SCHEMA, "scopes": scopes}


def _acknowledgments(model: ComplianceModel, scope: str, evaluations: list[Evaluation]) -> dict[str, list[str]]:
    """Each acknowledgment of the scope ("<finding> on <path>") with the resources it accepts a finding on."""
    accepted = [e for e in evaluations if e.status is Status.ACKNOWLEDGED]
    acknowledgments: dict[str, list[str]] = {}
    for ack in (a for a in model.acknowledgments if a.scope == scope):
        resources = {
            neutral(e.path, scope)
            for e in accepted
            if e.finding == ack.finding and (e.path == ack.path or e.path.startswith(ack.path + "/"))
        }
        key = f"{neutral(ack.finding, scope)} on {neutral(ack.path, scope)}"
        entry = acknowledgments.setdefault(key, [])
        entry[:] = sorted(set(entry) | resources)
    return dict(sorted(acknowledgments.items()))


def _inherited(inheritances: list[Inheritance]) -> dict[str, Any]:
    """Each inherited service with its provider (accounts and regions as placeholders) and the controls it gives."""
    return {i.service: {"from": deployment_neutral(i.provider), "controls": list(i.controls)} for i in inheritances}


@dataclass
class Comparison:
    regressions: list[str] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)


def compare(committed: dict[str, Any], current: dict[str, Any]) -> Comparison:
    """One line per difference between the committed baseline and this run, regressions apart from improvements."""
    result = Comparison()
    old_scopes, new_scopes = committed.get("scopes", {}), current.get("scopes", {})
    for scope in old_scopes.keys() - new_scopes.keys():
        result.regressions.append(f"{scope}: in the baseline but not in this run (an environment was removed)")
    for scope in new_scopes.keys() - old_scopes.keys():
        result.regressions.append(f"{scope}: in this run but not in the baseline (an environment was added)")
    for scope in [s for s in new_scopes if s in old_scopes]:
        old, new = old_scopes[scope], new_scopes[scope]
        _compare_inherited(scope, old.get("inherited", {}), new.get("inherited", {}), result)
        _compare_controls(scope, old, new, result)
        _compare_acknowledgments(scope, old["acknowledgments"], new["acknowledgments"], result)
    return result


def _compare_inherited(scope: str, old: dict[str, Any], new: dict[str, Any], result: Comparison) -> None:
    """A service inherited from another provider, newly or no longer: each is a change to review."""
    for service in sorted(old.keys() | new.keys()):
        before, after = old.get(service, {}).get("from"), new.get(service, {}).get("from")
        if before == after:
            continue
        if before is None:
            line = f"{scope}: {service} is now inherited from {after}"
        elif after is None:
            line = f"{scope}: {service} was inherited from {before}, is no longer inherited"
        else:
            line = f"{scope}: {service} was inherited from {before}, is now inherited from {after}"
        result.regressions.append(line)


def _described(control: str, status: str, scope: dict[str, Any]) -> str:
    """A control's status as a difference names it: an inherited one with its providers."""
    if status != ControlStatus.INHERITED:
        return status
    providers = [entry["from"] for entry in scope.get("inherited", {}).values() if control in entry["controls"]]
    return f"inherited from {' and '.join(providers) or 'a landing zone'}"


def _compare_controls(scope: str, old: dict[str, Any], new: dict[str, Any], result: Comparison) -> None:
    """Each control whose status changed; into or out of inherited is a change to review, like a drop."""
    not_checked, inherited = str(ControlStatus.NOT_CHECKED), str(ControlStatus.INHERITED)
    for control in sorted(old["controls"].keys() | new["controls"].keys()):
        before, after = old["controls"].get(control, not_checked), new["controls"].get(control, not_checked)
        if before == after:
            continue
        worse = inherited in (before, after) or _RANK[ControlStatus(after)] < _RANK[ControlStatus(before)]
        (result.regressions if worse else result.improvements).append(
            f"{scope}: {control} was {_described(control, before, old)}, is now {_described(control, after, new)}"
        )


def _compare_acknowledgments(
    scope: str, old: dict[str, list[str]], new: dict[str, list[str]], result: Comparison
) -> None:
    for ack in sorted(old.keys() | new.keys()):
        if ack not in old:
            result.regressions.append(f"{scope}: new acknowledgment of {ack}")
        elif ack not in new:
            result.improvements.append(f"{scope}: acknowledgment removed: {ack}")
        else:
            wider, narrower = sorted(set(new[ack]) - set(old[ack])), sorted(set(old[ack]) - set(new[ack]))
            if wider:
                result.regressions.append(f"{scope}: acknowledgment of {ack} widened to {', '.join(wider)}")
            if narrower:
                result.improvements.append(f"{scope}: acknowledgment of {ack} no longer needed on {len(narrower)}")


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def write(model: ComplianceModel, path: Path) -> Path:
    """Record this run as the baseline (what `make baseline` does)."""
    path.write_text(render(snapshot(model)), encoding="utf-8", newline="\n")
    return path


def apply(model: ComplianceModel, path: Path, *, shown_as: str) -> None:
    """Compare the run with the baseline at `path` and record the outcome in the model (for the reports)."""
    model.baseline_file = shown_as
    if not path.exists():
        model.baseline_differences = [f"{shown_as}: no compliance baseline; run `make baseline` and commit it"]
        return
    comparison = compare(json.loads(path.read_text(encoding="utf-8")), snapshot(model))
    model.baseline_differences = comparison.regressions
    model.baseline_improvements = comparison.improvements
