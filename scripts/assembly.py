"""Read a synthesized cloud assembly without the CDK: its stacks, where each deploys, and its template."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StackTemplate:
    """One stack of the assembly (nested stage assemblies included)."""

    path: str  # construct path, e.g. "Pipeline/Prod/Data"
    stack_name: str
    account: str
    region: str
    template_file: Path
    termination_protection: bool = False

    @cached_property
    def template(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.template_file.read_text(encoding="utf-8"))
        return data


def stack_templates(assembly: Path) -> list[StackTemplate]:
    """Every stack of `assembly`, the top-level ones first, then each stage's in promotion order."""
    found: list[StackTemplate] = []
    manifests = [assembly / "manifest.json"]
    top = json.loads(manifests[0].read_text(encoding="utf-8"))
    manifests += [
        assembly / artifact_id / "manifest.json"
        for artifact_id, artifact in top["artifacts"].items()
        if artifact["type"] == "cdk:cloud-assembly"
    ]
    for manifest_path in manifests:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for artifact in manifest["artifacts"].values():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            props = artifact["properties"]
            account, region = artifact["environment"].removeprefix("aws://").split("/")
            found.append(
                StackTemplate(
                    path=artifact["displayName"],
                    stack_name=props.get("stackName", artifact["displayName"]),
                    account=account,
                    region=region,
                    template_file=manifest_path.parent / props["templateFile"],
                    termination_protection=bool(props.get("terminationProtection")),
                )
            )
    return found
