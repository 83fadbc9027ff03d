"""The Control Tower plugin run over groups of templates, with only the controls they can fail.

`cdklabs.cdk-validator-cfnguard` runs one cfn-guard process over every template with every
bundled rule file (237), and cfn-guard reads the whole template again for every rule file: on
this app, 26 of the synth's 37 seconds of validation, growing with templates times rules times
template size. Two properties of every bundled Guard rule, checked in every Guard file by
tests/compliance/test_control_tower.py (a plugin upgrade that breaks one fails there, naming the
file), make two savings safe:

- A rule judges a template only when it has a resource of a type the rule names. So templates
  that can fail the same controls (a stack of each stage, say) go to one run with only those
  controls enabled (on our stages about 30 of 237).
- A rule reads the properties only of resources it selects by a type it names; of any other
  resource at most its key and type (a reference it follows). So each run gets copies of its
  templates in which every other resource keeps its key, type and attributes but not its
  properties, and no resource its metadata (our acknowledgments' reasons, a third of a template).
  The controls of a group are split into runs where a smaller copy saves more than a run costs
  (`_runs`): the IAM controls over the pipeline's policies, say, and the rest without them.

The runs go at once, one per core (`workers`), each the plugin's cfn-guard run as the plugin runs it,
its output read as the plugin reads it (`compliance.cfn_guard`, a port of the plugin's JavaScript):
through jsii, the plugin runs cfn-guard synchronously, and a synth waited on one run at a time.

The findings, their messages and the report's plugin name are the plugin's own, with each
violation's template the app's (not the copy's) and severity "error" (see `_as_error`). The same
test module compares this with the stock plugin, running every rule over the whole templates.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import jsii
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

from compliance import cfn_guard
from compliance.control_tower import MAX_BUFFER_BYTES, PLUGIN_NAME, Control, controls, record_run
from compliance.plugin_time import CONTROL_TOWER, timed
from config.control_tower_controls import cfn_guard_binary

# What one cfn-guard run costs besides reading its templates (cfn-guard started, the rule files parsed), in
# the unit of the rest: one rule over this many bytes of template. Measured through jsii with the bundled
# cfn-guard on this app's templates: about 50 ms a run, and 55 ms a rule over the pipeline's template (about
# 270 KB as written, 215 KB compact). Started directly a run costs about 20 ms, but the splits made with anything
# from 50 000 to 400 000 here (24 to 12 runs) cost this app the same cfn-guard CPU time, within the tenth it varies
# by from run to run, so the runs (and the order of the report's violations) stay as they were.
RUN_COST_RULE_BYTES = 200_000


@jsii.implements(cdk.IPolicyValidationContextBeta1)
class TemplatesContext:
    """A validation context of some templates and no app: what tests give the validator and the stock plugin."""

    def __init__(self, templates: list[str]) -> None:
        self._templates = templates

    @property
    def template_paths(self) -> list[str]:
        return self._templates

    @property
    def app_construct(self) -> Any:
        raise ValueError("no app: this context names templates only")


@jsii.implements(cdk.IPolicyValidationPluginBeta1)
class ControlTowerValidator:
    """Control Tower's proactive controls over every template, except `disabled_controls` (control ids).

    `run_cost_rule_bytes` is what the split of a group's controls into runs takes a run to cost (see
    `_runs`); 0 gives a run per set of types, the most and smallest copies. `workers` is how many runs go at
    once (default: one per core this process may use).
    """

    def __init__(
        self,
        disabled_controls: Iterable[str] = (),
        *,
        run_cost_rule_bytes: int = RUN_COST_RULE_BYTES,
        workers: int | None = None,
    ) -> None:
        cfn_guard_binary()  # one clear error on a machine the plugin bundles no cfn-guard for, before the plugin's own
        cfn_guard.check_port()
        off = set(disabled_controls)
        self._enabled: tuple[Control, ...] = tuple(c for c in controls() if c.control_id not in off)
        # The stock plugin with the same controls: the name, version and rule ids the CDK's report shows.
        self._every: CfnGuardValidator = CfnGuardValidator(
            control_tower_rules_enabled=True, disabled_rules=_disabled(self._enabled), max_buffer=MAX_BUFFER_BYTES
        )
        self._run_cost = run_cost_rule_bytes
        self._workers = workers or _cores()

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def version(self) -> str | None:
        return self._every.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._every.rule_ids

    def validate(self, context: cdk.IPolicyValidationContextBeta1) -> cdk.PolicyValidationPluginReportBeta1:
        try:
            app = context.app_construct
        except ValueError:  # a context of templates only (`TemplatesContext` without an app): nothing to record
            app = None
        with timed(app, CONTROL_TOWER):
            return self._validate(context, app)

    def _validate(self, context: cdk.IPolicyValidationContextBeta1, app: Any) -> cdk.PolicyValidationPluginReportBeta1:
        if app is not None:
            record_run(app, context.template_paths)
        # Templates that can fail the same controls (a stack of each stage, say) go to the same runs.
        groups: dict[tuple[Control, ...], list[_Template]] = defaultdict(list)
        for path in context.template_paths:
            template = _Template.read(path)
            relevant = tuple(c for c in self._enabled if c.applies_to(template.types))
            if relevant:
                groups[relevant].append(template)
        runs = [run for relevant, group in groups.items() for run in _runs(relevant, group, self._run_cost)]
        with tempfile.TemporaryDirectory(prefix="control-tower-") as scratch:

            def check(number: int) -> tuple[cfn_guard.Report, dict[str, str]]:
                copies = runs[number].write_copies(Path(scratch) / str(number))
                return cfn_guard.run(list(copies), _disabled(runs[number].controls)), copies

            # The costliest runs first, so that no long run starts last; the reports are read in the runs' order.
            by_cost = sorted(range(len(runs)), key=lambda n: -runs[n].cost(self._run_cost))
            with ThreadPoolExecutor(max_workers=max(1, min(self._workers, len(runs)))) as pool:
                started = {number: pool.submit(check, number) for number in by_cost}
                reports = [started[number].result() for number in range(len(runs))]
        violations = [_as_error(v, copies) for report, copies in reports for v in report.violations]
        success = all(report.success for report, _ in reports)
        return cdk.PolicyValidationPluginReportBeta1(success=success, violations=violations)


def _cores() -> int:
    """The cores this process may run on (each run of cfn-guard uses one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _disabled(enabled: Iterable[Control]) -> list[str]:
    """The plugin's `disabledRules` that leave only `enabled`: every other control's Guard file, by name."""
    running = {c.file_stem for c in enabled}
    return sorted(c.file_stem for c in controls() if c.file_stem not in running)


def _as_error(violation: cfn_guard.Violation, originals: Mapping[str, str]) -> cdk.PolicyViolationBeta1:
    """The plugin's violation with the app's templates where it names a copy, and severity 'error'.

    The plugin never gives a severity. Once the CDK has suppressed an acknowledged violation of a
    report, it decides the report's conclusion again from the severities of what is left, and counts
    a violation without one as passing: one open finding next to an acknowledged one would let the
    CDK CLI accept the assembly.
    """
    return cdk.PolicyViolationBeta1(
        rule_name=violation.rule_name,
        description=violation.description,
        violating_resources=[
            cdk.PolicyViolatingResourceBeta1(
                locations=list(r.locations),
                resource_logical_id=r.logical_id,
                template_path=_original(r.template_path, originals),
            )
            for r in violation.resources
        ],
        fix=violation.fix,
        rule_metadata=violation.rule_metadata,
        severity="error",
    )


def _original(copy: str, originals: Mapping[str, str]) -> str:
    """The app's template a violation's copy stands for: the CDK finds the construct by the app's file."""
    found = originals.get(copy) or {str(Path(k).resolve()): v for k, v in originals.items()}.get(
        str(Path(copy).resolve())
    )
    if found is None:
        raise RuntimeError(f"cfn-guard reported a template the Control Tower run did not give it: {copy}")
    return found


def _compact_size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")))


@dataclass(frozen=True)
class _Template:
    """One template of the app, and what copies of it that keep the properties of some types weigh."""

    path: str
    document: dict[str, Any]

    @classmethod
    def read(cls, path: str) -> _Template:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(path, document if isinstance(document, dict) else {})

    @property
    def resources(self) -> dict[str, Any]:
        resources = self.document.get("Resources")
        return {k: v for k, v in resources.items() if isinstance(v, dict)} if isinstance(resources, dict) else {}

    @cached_property
    def types(self) -> frozenset[str]:
        return frozenset(str(r.get("Type")) for r in self.resources.values())

    @cached_property
    def _property_bytes(self) -> dict[str, int]:
        sizes: dict[str, int] = defaultdict(int)
        for resource in self.resources.values():
            sizes[str(resource.get("Type"))] += _compact_size(resource.get("Properties", {}))
        return dict(sizes)

    @cached_property
    def _skeleton_bytes(self) -> int:
        return _compact_size(self.view(frozenset()))

    def size(self, types: frozenset[str]) -> int:
        """The size of `view(types)`, about."""
        return self._skeleton_bytes + sum(self._property_bytes.get(t, 0) for t in types)

    def view(self, types: frozenset[str]) -> dict[str, Any]:
        """The template with every resource's key, type and attributes, the properties of resources of `types`
        only, and no resource's metadata (anything in `Resources` that is not a resource is kept as it is)."""
        resources = self.document.get("Resources")
        if not isinstance(resources, dict):
            return self.document
        return {**self.document, "Resources": {key: _cut(value, types) for key, value in resources.items()}}


def _cut(resource: object, types: frozenset[str]) -> object:
    """A resource without its metadata, and without its properties unless its type is one of `types`."""
    if not isinstance(resource, dict):
        return resource
    kept = isinstance(resource.get("Type"), str) and resource["Type"] in types
    return {k: v for k, v in resource.items() if k != "Metadata" and (k != "Properties" or kept)}


@dataclass(frozen=True)
class _Run:
    """One cfn-guard run: some controls, over copies of some templates that keep the properties of `types`."""

    controls: tuple[Control, ...]
    types: frozenset[str]
    templates: tuple[_Template, ...]

    def cost(self, run_cost_rule_bytes: int) -> int:
        return run_cost_rule_bytes + len(self.controls) * sum(t.size(self.types) for t in self.templates)

    def merged(self, other: _Run) -> _Run:
        return _Run(self.controls + other.controls, self.types | other.types, self.templates)

    def write_copies(self, directory: Path) -> dict[str, str]:
        """Write the run's copies of its templates into `directory`: {copy's path: the app's template path}."""
        copies = {}
        for number, template in enumerate(self.templates):
            copy = directory / str(number) / Path(template.path).name  # the app's file name, in a folder of its own
            copy.parent.mkdir(parents=True)
            copy.write_text(json.dumps(template.view(self.types), separators=(",", ":")), encoding="utf-8")
            copies[str(copy)] = template.path
        return copies


def _runs(relevant: Sequence[Control], templates: Sequence[_Template], run_cost_rule_bytes: int) -> list[_Run]:
    """The runs that check `relevant` over `templates`, each control in one of them.

    First a run per set of types the controls name (of those the templates have), then, greedily,
    the two runs whose merging saves the most, while a merge saves anything: a run costs
    `run_cost_rule_bytes` plus its controls times the size of its copies.
    """
    present = frozenset().union(*(t.types for t in templates))
    by_types: dict[frozenset[str], list[Control]] = defaultdict(list)
    for control in relevant:
        by_types[control.queried_types & present].append(control)
    runs = [_Run(tuple(group), types, tuple(templates)) for types, group in by_types.items()]
    while len(runs) > 1:
        saving, i, j = max(
            (a.cost(run_cost_rule_bytes) + b.cost(run_cost_rule_bytes) - a.merged(b).cost(run_cost_rule_bytes), i, j)
            for i, a in enumerate(runs)
            for j, b in enumerate(runs)
            if i < j
        )
        if saving <= 0:
            break
        runs[i] = runs[i].merged(runs.pop(j))
    return runs


def validator(disabled_controls: Iterable[str] = ()) -> cdk.IPolicyValidationPlugin:
    """The plugin with every bundled control enabled except `disabled_controls` (Control Tower ids).

    It runs over groups of templates with only the controls they can fail; the findings are the plugin's own.
    """
    # Written against the CDK's Beta1 plugin interface, which `Validations.add_plugins` still runs.
    return cast("cdk.IPolicyValidationPlugin", ControlTowerValidator(disabled_controls))
