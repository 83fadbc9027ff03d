"""Compare the running pipeline's definition with the one a run is about to apply (CM-3, CM-5, AC-5).

The deployed pipeline runs this file before self-mutation: its text is embedded in the check
project's buildspec at synth, so what runs is the version the pipeline was last approved with,
never the pushed commit's. Standard library only; it runs on the build image's Python, beside
`assembly_check.py`, which it runs first.

    python3 definition_check.py ASSEMBLY

refuses an assembly that could steer a privileged step (exit 4, `assembly_check.py`), then
compares every pipeline-account stack the assembly would deploy (the stacks of its top level:
the pipeline stack and its region support stacks) with CloudFormation's copy of the running
one, and the list of those stacks with the running definition's (`PIPELINE_STACKS`). It prints
what differs and exits 0 when nothing does, 3 when something does (the run then waits for a
person), 2 when a running template cannot be read. The whole template is compared: resources
with their metadata, parameters, mappings, conditions, transforms, rules and outputs. Nothing is
masked: these stacks publish no asset but their own templates, so an asset hash in one (a
function's code) is new code in the pipeline account, a change a person approves. The
workload's assets are published by the asset projects from buildspecs the assembly check
admits, so a push that only changes the workload's code goes on by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if __package__:
    from pipeline.assembly_check import REFUSED, check, pipeline_stages
else:  # run as a script in the pipeline's build, beside assembly_check.py
    from assembly_check import REFUSED, check, pipeline_stages  # type: ignore[import-not-found,no-redef]

UNCHANGED, CHANGED, UNREADABLE = 0, 3, 2
_SYNTH_COMMANDS = ("make test", "make synth")
# Template sections besides Resources; each changes what CloudFormation does with the stack.
_SECTIONS = (
    "AWSTemplateFormatVersion",
    "Transform",
    "Parameters",
    "Mappings",
    "Conditions",
    "Rules",
    "Outputs",
    "Metadata",
)
# Resource metadata the CDK writes for people (the construct path, where an asset came from): it changes no
# behaviour. Any other key (AWS::CloudFormation::Init, ...) is compared.
_INFORMATIONAL_METADATA = ("aws:cdk:", "aws:asset:")


def normalized(template: dict[str, Any]) -> dict[str, Any]:
    """The template's resources, without the metadata the CDK writes for people."""
    resources: dict[str, Any] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        kept = {key: value for key, value in resource.items() if key != "Metadata"}
        metadata = {
            key: value
            for key, value in resource.get("Metadata", {}).items()
            if not key.startswith(_INFORMATIONAL_METADATA)
        }
        if metadata:
            kept["Metadata"] = metadata
        resources[logical_id] = kept
    return resources


def stages(template: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, str, int]]]]:
    """Each stage of the template's pipeline with its actions: (name, category, provider, run order)."""
    return [
        (
            str(stage.get("Name")),
            [
                (
                    str(a.get("Name")),
                    str(a.get("ActionTypeId", {}).get("Category")),
                    str(a.get("ActionTypeId", {}).get("Provider")),
                    int(a.get("RunOrder", 1)),
                )
                for a in stage.get("Actions", [])
            ],
        )
        for stage in pipeline_stages(template)
    ]


def invariants(template: dict[str, Any]) -> set[str]:
    """What a pipeline must keep: its approvals, security diffs, the definition check and the gated synth."""
    kept: set[str] = set()
    for stage, actions in stages(template):
        for name, category, _, _ in actions:
            if category == "Approval" and not name.startswith("SecurityDiff"):
                kept.add(f"the manual approval {name} in stage {stage}")
            if name.startswith("SecurityDiff") and name.endswith(".Check"):
                kept.add(f"the security diff {name.removesuffix('.Check')} in stage {stage}")
            if name == "CheckDefinition":
                kept.add(f"the pipeline-definition check in stage {stage}")
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::CodePipeline::Pipeline" and (
            resource.get("Properties", {}).get("ExecutionMode") == "QUEUED"
        ):
            kept.add("one execution at a time (QUEUED): no run's synth writes while another run waits for approval")
        if resource.get("Type") != "AWS::CodeBuild::Project":
            continue
        spec = json.dumps(resource.get("Properties", {}).get("Source", {}).get("BuildSpec", ""))
        if all(command in spec for command in _SYNTH_COMMANDS):
            kept.add("the synth step that runs make test, then make synth (the compliance gate)")
    return kept


def compare(running: dict[str, Any], proposed: dict[str, Any]) -> tuple[bool, list[str]]:
    """(changed, the lines a person reads): lost invariants first, then stages, actions and resources."""
    before, after = normalized(running), normalized(proposed)
    lines = [f"LOST: {item}" for item in sorted(invariants(running) - invariants(proposed))]
    old_stages, new_stages = dict(stages(running)), dict(stages(proposed))
    old_order, new_order = [s for s, _ in stages(running)], [s for s, _ in stages(proposed)]
    if old_order != new_order:
        lines.append(f"stages: {' > '.join(old_order)}  ->  {' > '.join(new_order)}")
    for stage in new_order:
        old = {a[0]: a for a in old_stages.get(stage, [])}
        new = {a[0]: a for a in new_stages[stage]}
        lines += [f"stage {stage}: action {name} added ({new[name][1]})" for name in sorted(new.keys() - old.keys())]
        lines += [f"stage {stage}: action {name} removed" for name in sorted(old.keys() - new.keys())]
        lines += [
            f"stage {stage}: action {name} changed {old[name][1:]} -> {new[name][1:]}"
            for name in sorted(old.keys() & new.keys())
            if old[name] != new[name]
        ]
    for logical_id in sorted(before.keys() | after.keys()):
        if logical_id not in after:
            lines.append(f"resource {logical_id} ({before[logical_id].get('Type')}) removed")
        elif logical_id not in before:
            lines.append(f"resource {logical_id} ({after[logical_id].get('Type')}) added")
        elif before[logical_id] != after[logical_id]:
            keys = sorted(
                k
                for k in before[logical_id].get("Properties", {}).keys() | after[logical_id].get("Properties", {})
                if before[logical_id].get("Properties", {}).get(k) != after[logical_id].get("Properties", {}).get(k)
            )
            others = sorted(
                k
                for k in before[logical_id].keys() | after[logical_id]
                if k != "Properties"
                if before[logical_id].get(k) != after[logical_id].get(k)
            )
            what = ", ".join([*keys, *others])
            lines.append(f"resource {logical_id} ({after[logical_id].get('Type')}) changes {what}")
    lines += [
        f"template section {section} changes" for section in _SECTIONS if running.get(section) != proposed.get(section)
    ]
    return bool(lines), lines


def compare_stacks(
    running: Mapping[str, dict[str, Any] | None], proposed: Mapping[str, dict[str, Any]], *, pipeline_stack: str
) -> tuple[bool, list[str]]:
    """(changed, the lines a person reads) over every pipeline-account stack.

    `running` maps each stack of the running definition to CloudFormation's copy of its template (None
    where no such stack exists yet); `proposed` maps each
    stack the assembly would deploy to its template. The pipeline stack's lines come first, unprefixed.
    """
    lines: list[str] = []
    for name in sorted(running.keys() | proposed.keys(), key=lambda n: (n != pipeline_stack, n)):
        before, after = running.get(name), proposed.get(name)
        if after is None:
            lines.append(f"stack {name} is in the running definition but not in this run's assembly")
        elif name not in running:
            lines.append(f"stack {name} is not one of the running definition's stacks: this run would deploy it")
        elif before is None:
            lines.append(f"stack {name} does not exist yet: this run would create it")
        else:
            _, found = compare(before, after)
            lines += found if name == pipeline_stack else [f"stack {name}: {line}" for line in found]
    return bool(lines), lines


def running_template(stack: str, region: str) -> dict[str, Any] | None:
    """CloudFormation's copy of a stack's template as last deployed, or None if there is no such stack."""
    result = subprocess.run(
        [
            "aws",
            "cloudformation",
            "get-template",
            "--stack-name",
            stack,
            "--region",
            region,
            "--template-stage",
            "Original",
            "--query",
            "TemplateBody",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        if "does not exist" in result.stderr:
            return None
        raise OSError(f"cannot read the running template of {stack} in {region}: {result.stderr.strip()}")
    template = json.loads(result.stdout)
    if isinstance(template, str):  # a template CloudFormation keeps as text
        template = json.loads(template)
    return template if isinstance(template, dict) else None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: definition_check.py ASSEMBLY", file=sys.stderr)
        return UNREADABLE
    try:
        assembly = check(Path(argv[0]))
    except (OSError, ValueError, TypeError, AttributeError) as error:
        print(f"The cloud assembly is refused: it cannot be read as one CDK writes: {error!r}")
        return REFUSED
    if assembly.problems:
        print(
            f"The cloud assembly is refused: it holds {len(assembly.problems)} thing(s) no privileged step may follow:"
        )
        print("\n".join(f"  {line}" for line in assembly.problems))
        return REFUSED
    # The running definition's own stacks, as `name@region`: set at synth, so a stack the assembly drops is seen.
    listed = dict(item.split("@", 1) for item in os.environ.get("PIPELINE_STACKS", "").split())
    pipeline_stack = os.environ.get("STACK_NAME", "")
    try:
        proposed: dict[str, dict[str, Any]] = {
            name: json.loads((assembly.root / f"{name}.template.json").read_text(encoding="utf-8"))
            for name in assembly.top_level_stacks
        }
        running = {name: running_template(name, region) for name, region in listed.items()}
    except (OSError, ValueError) as error:
        print(f"cannot read the templates to compare: {error}", file=sys.stderr)
        return UNREADABLE
    changed, lines = compare_stacks(running, proposed, pipeline_stack=pipeline_stack)
    if not changed:
        print(f"The pipeline's definition is unchanged ({len(proposed)} stacks compared): the run goes on by itself.")
        return UNCHANGED
    print("The pipeline's own definition changes with this run. A person must approve before it applies:")
    print("\n".join(f"  {line}" for line in lines))
    return CHANGED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
