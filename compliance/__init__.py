"""Everything cdk-nag: the packs that gate synth, the acknowledgment helper, the gate itself.

This is the only package that imports `cdk_nag`. Stacks and constructs call
`acknowledge(...)` from here; `app.py` calls `register_packs(app)` and, after
synth, `findings(assembly_dir)` to decide whether the build may go on.

Names are loaded on first use, so tools that only read an assembly
(`compliance.gate`) do not start the jsii runtime.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compliance.acknowledgments import (
        Acknowledgment,
        acknowledge,
        acknowledge_generated_inline_policies,
        acknowledgments_in,
    )
    from compliance.gate import Finding, findings, format_findings
    from compliance.model import AcknowledgmentKind
    from compliance.packs import record_acknowledgments_in_templates, register_packs

_EXPORTS = {
    "Acknowledgment": "compliance.acknowledgments",
    "AcknowledgmentKind": "compliance.model",
    "acknowledge": "compliance.acknowledgments",
    "acknowledge_generated_inline_policies": "compliance.acknowledgments",
    "acknowledgments_in": "compliance.acknowledgments",
    "Finding": "compliance.gate",
    "findings": "compliance.gate",
    "format_findings": "compliance.gate",
    "record_acknowledgments_in_templates": "compliance.packs",
    "register_packs": "compliance.packs",
}

__all__ = [
    "Acknowledgment",
    "AcknowledgmentKind",
    "Finding",
    "acknowledge",
    "acknowledge_generated_inline_policies",
    "acknowledgments_in",
    "findings",
    "format_findings",
    "record_acknowledgments_in_templates",
    "register_packs",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'compliance' has no attribute {name!r}")
