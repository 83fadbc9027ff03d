"""The Control Tower plugin run over groups of templates, with only the controls they can fail.

`cdklabs.cdk-validator-cfnguard` runs one cfn-guard process over every template with every
bundled rule file (237), and cfn-guard re-reads the template for each rule file: on this app,
26 of the synth's 37 seconds of validation, growing with templates times rules. Every bundled
Guard rule judges a template only when it has a resource of a type the rule names, so a control
whose rule names none of a template's types cannot change the result for it. Here the plugin is
given the templates with every other control disabled (on our stages about 30 of 237), templates
that can fail the same controls in one run: 6 seconds in all. The findings, their messages and
the report's plugin name are the plugin's own, each with severity "error" (see `_as_error`).
tests/compliance/test_control_tower.py checks the property in every bundled Guard file, so a
plugin upgrade that breaks it fails there, and compares both ways on a small app.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

from compliance.control_tower import MAX_BUFFER_BYTES, PLUGIN_NAME, Control, controls, record_run


@jsii.implements(cdk.IPolicyValidationContextBeta1)
class TemplatesContext:
    """A validation context of some templates: of the app's (`context`'s), or of any (no `context`)."""

    def __init__(self, templates: list[str], context: cdk.IPolicyValidationContextBeta1 | None = None) -> None:
        self._context = context
        self._templates = templates

    @property
    def template_paths(self) -> list[str]:
        return self._templates

    @property
    def app_construct(self) -> Any:
        # Read from the whole-app context only when the plugin asks for it (it does not today).
        if self._context is None:
            raise ValueError("no app: this context names templates only")
        return self._context.app_construct


@jsii.implements(cdk.IPolicyValidationPluginBeta1)
class ControlTowerValidator:
    """Control Tower's proactive controls over every template, except `disabled_controls` (control ids)."""

    def __init__(self, disabled_controls: Iterable[str] = ()) -> None:
        off = set(disabled_controls)
        self._enabled: tuple[Control, ...] = tuple(c for c in controls() if c.control_id not in off)
        self._every: CfnGuardValidator = self._plugin(self._enabled)

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
        if app is not None:
            record_run(app, context.template_paths)
        # Templates that can fail the same controls (a stack of each stage, say) go to one cfn-guard run.
        groups: dict[tuple[Control, ...], list[str]] = defaultdict(list)
        for template in context.template_paths:
            types = _resource_types(template)
            relevant = tuple(c for c in self._enabled if c.applies_to(types))
            if relevant:
                groups[relevant].append(template)
        violations: list[cdk.PolicyViolationBeta1] = []
        success = True
        for relevant, templates in groups.items():
            report = self._plugin(relevant).validate(TemplatesContext(templates, context))
            success = success and report.success
            violations.extend(_as_error(v) for v in report.violations)
        return cdk.PolicyValidationPluginReportBeta1(success=success, violations=violations)

    @staticmethod
    def _plugin(enabled: Sequence[Control]) -> CfnGuardValidator:
        running = {c.file_stem for c in enabled}
        return CfnGuardValidator(
            control_tower_rules_enabled=True,
            disabled_rules=sorted(c.file_stem for c in controls() if c.file_stem not in running),
            max_buffer=MAX_BUFFER_BYTES,
        )


def _as_error(violation: cdk.PolicyViolationBeta1) -> cdk.PolicyViolationBeta1:
    """The violation with severity 'error' where the plugin gave none (it never does).

    Once the CDK has suppressed an acknowledged violation of a report, it decides the report's
    conclusion again from the severities of what is left, and counts a violation without one as
    passing: one open finding next to an acknowledged one would let the CDK CLI accept the assembly.
    """
    if violation.severity:
        return violation
    return cdk.PolicyViolationBeta1(
        rule_name=violation.rule_name,
        description=violation.description,
        violating_resources=violation.violating_resources,
        fix=violation.fix,
        rule_metadata=violation.rule_metadata,
        severity="error",
    )


def _resource_types(template: str) -> set[str]:
    resources = json.loads(Path(template).read_text(encoding="utf-8")).get("Resources") or {}
    return {str(r.get("Type")) for r in resources.values() if isinstance(r, dict)}
