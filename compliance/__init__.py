"""Everything cdk-nag: the packs that gate synth, the acknowledgment helper, the gate itself.

This is the only package that imports `cdk_nag`. Stacks and constructs call
`acknowledge(...)` from here; `app.py` calls `register_packs(app)` and, after
synth, `findings(assembly_dir)` to decide whether the build may go on.
"""

from compliance.acknowledgments import (
    Acknowledgment,
    acknowledge,
    acknowledge_generated_inline_policies,
    acknowledgments_in,
)
from compliance.gate import Finding, findings, format_findings
from compliance.packs import register_packs

__all__ = [
    "Acknowledgment",
    "Finding",
    "acknowledge",
    "acknowledge_generated_inline_policies",
    "acknowledgments_in",
    "findings",
    "format_findings",
    "register_packs",
]
