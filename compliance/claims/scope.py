"""Claims about a grant's scope: what a wildcard grant may touch, rather than how safe that thing is.

A wildcard in an action (`s3:GetObject*`) or in a resource (`<bucket ARN>/*`) is acceptable when the
statements that carry it name nothing but this app's own bucket or key: the worst the wildcard can
do is then bounded by that one resource. That a bucket is versioned or a key rotates says nothing
of the grant's reach; this claim does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from compliance.assembly import ResourceView
from compliance.claims.engine import BUCKET, KEY, MANAGED_POLICY, POLICY, Check, as_list, statements
from compliance.references import TemplateIndex, intrinsics, render

_S3_ARN = re.compile(r"^arn:[^:]+:s3:::([^/*]+)(?:/.*)?$")
_KMS_KEYS = re.compile(r"^arn:[^:]+:kms:[^:]+:[^:]+:key/\*$")
_KINDS = {BUCKET: "S3 buckets (and their objects)", KEY: "KMS keys"}


@dataclass(frozen=True)
class GrantedOnlyOn(Check):
    """Every statement of the policy that grants one of `actions` names only resources of `resource_type` that
    this app creates: the resource (a reference to it), its objects (`<its ARN>/...`), a bucket by the name
    another stack of the app gives it, or keys by a `kms:ResourceAliases` condition that lists only this app's
    aliases."""

    actions: tuple[str, ...] = ()
    resource_type: str = BUCKET
    subject_types: ClassVar[tuple[str, ...]] = (POLICY, MANAGED_POLICY)
    shortdesc: ClassVar[str] = (
        "every statement granting those actions names only this app's own buckets (and their objects) or keys"
    )
    controls: ClassVar[tuple[str, ...]] = ("AC-6",)

    @property
    def noun(self) -> str:
        return "the policy"

    @property
    def predicate(self) -> str:
        return f"grants {', '.join(self.actions)} only on this app's own {_KINDS.get(self.resource_type, 'resources')}"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        selected = [
            s
            for s in statements(resource.properties.get("PolicyDocument"))
            if s.get("Effect") == "Allow" and set(map(str, as_list(s.get("Action")))) & set(self.actions)
        ]
        if not selected:
            return False, f"no statement grants {' or '.join(self.actions)}"
        owned: dict[str, None] = {}
        outside: list[str] = []
        for statement in selected:
            if "NotResource" in statement:
                outside.append(f"NotResource {render(statement['NotResource'])}")
            for value in as_list(statement.get("Resource")):
                found = self._owned(resource, statement, value, index)
                if found:
                    owned.update(dict.fromkeys(found))
                else:
                    outside.append(render(value))
        if outside:
            return False, f"also on: {', '.join(dict.fromkeys(outside))}"
        return True, f"{len(selected)} statement(s), on {', '.join(owned)}"

    def _owned(self, policy: ResourceView, statement: dict[str, Any], value: Any, index: TemplateIndex) -> list[str]:
        """The paths of this app's resources `value` names (the resource or its objects), or [] if it names others."""
        references = intrinsics(value)
        text = render(value)
        if references:
            # The reference must be the whole value, or its start followed by a path under it ("<ARN>/*").
            if not (text == "<ref>" or (text.startswith("<ref>/") and text.count("<ref>") == 1)):
                return []
            target = index.resolve(policy.stack, references[0])
            return [target.path] if target is not None and target.type == self.resource_type else []
        bucket = _S3_ARN.match(text)
        if bucket is not None and self.resource_type == BUCKET:
            named = index.named(BUCKET, "BucketName", bucket.group(1))
            return [named.path] if named is not None else []
        if _KMS_KEYS.match(text) and self.resource_type == KEY:
            return _keys_by_alias(statement, index)
        return []


def _keys_by_alias(statement: dict[str, Any], index: TemplateIndex) -> list[str]:
    """The keys of this app a `kms:ResourceAliases` condition confines `key/*` to; [] if any alias is not the app's."""
    aliases = [
        str(alias)
        for block in (statement.get("Condition") or {}).values()
        if isinstance(block, dict)
        for alias in as_list(block.get("kms:ResourceAliases"))
    ]
    keys = []
    for alias in aliases:
        named = index.named("AWS::KMS::Alias", "AliasName", alias)
        key = index.resolve(named.stack, named.properties.get("TargetKeyId")) if named is not None else None
        if key is None or key.type != KEY:
            return []
        keys.append(key.path)
    return keys
