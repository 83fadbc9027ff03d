"""Compare the running pipeline's definition with the one a run is about to apply (CM-3, CM-5, AC-5).

The deployed pipeline runs this file before self-mutation: its text is embedded in the check
project's buildspec at synth, so what runs is the version the pipeline was last approved with,
never the pushed commit's. Standard library only; it runs on the build image's Python.

    python3 definition_check.py RUNNING.json PROPOSED.json

prints what differs and exits 0 when the definitions are the same, 3 when they differ (the run
then waits for a person), 2 when a template cannot be read. Asset hashes (64 hexadecimal digits,
which change with every image or file asset) and template metadata are not part of a definition:
a push that only changes the workload's code goes on by itself. An image digest (`@sha256:` and 64
hexadecimal digits: the build image every CodeBuild project runs) is part of it.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

UNCHANGED, CHANGED, UNREADABLE = 0, 3, 2
# A digest pins an image's content (a build image by `@sha256:`): a new one is a change, never masked.
_ASSET_HASH = re.compile(r"(?<!sha256:)\b[0-9a-f]{64}\b")
_SYNTH_COMMANDS = ("make test", "make synth")


def normalized(template: dict[str, Any]) -> dict[str, Any]:
    """The template's resources without metadata, with asset hashes masked."""
    resources = {
        logical_id: {key: value for key, value in resource.items() if key != "Metadata"}
        for logical_id, resource in template.get("Resources", {}).items()
    }
    masked: dict[str, Any] = json.loads(_ASSET_HASH.sub("<asset>", json.dumps(resources, sort_keys=True)))
    return masked


def stages(template: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, str, int]]]]:
    """Each stage of the template's pipeline with its actions: (name, category, provider, run order)."""
    found: list[tuple[str, list[tuple[str, str, str, int]]]] = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::CodePipeline::Pipeline":
            continue
        for stage in resource.get("Properties", {}).get("Stages", []):
            actions = [
                (
                    str(a.get("Name")),
                    str(a.get("ActionTypeId", {}).get("Category")),
                    str(a.get("ActionTypeId", {}).get("Provider")),
                    int(a.get("RunOrder", 1)),
                )
                for a in stage.get("Actions", [])
            ]
            found.append((str(stage.get("Name")), actions))
    return found


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
            what = ", ".join(keys) if keys else "its policies"
            lines.append(f"resource {logical_id} ({after[logical_id].get('Type')}) changes {what}")
    return bool(lines), lines


def _read(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


def main(argv: list[str]) -> int:
    try:
        running, proposed = (_read(path) for path in argv[:2])
    except (OSError, ValueError, IndexError) as error:
        print(f"cannot read the templates to compare: {error}", file=sys.stderr)
        return UNREADABLE
    changed, lines = compare(running, proposed)
    if not changed:
        print("The pipeline's definition is unchanged: the run goes on by itself.")
        return UNCHANGED
    print("The pipeline's own definition changes with this run. A person must approve before it applies:")
    print("\n".join(f"  {line}" for line in lines))
    return CHANGED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
