"""Claims about KMS keys: rotation, and keys that only sign."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from compliance.assembly import ResourceView
from compliance.claims.engine import KEY, Check, is_true
from compliance.references import TemplateIndex


@dataclass(frozen=True)
class KeyRotation(Check):
    subject_types: ClassVar[tuple[str, ...]] = (KEY,)
    shortdesc: ClassVar[str] = "key rotation on"
    controls: ClassVar[tuple[str, ...]] = ("SC-12",)

    @property
    def predicate(self) -> str:
        return "rotates its key material yearly"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        rotation = is_true(resource.properties.get("EnableKeyRotation"))
        return rotation, f"EnableKeyRotation is {rotation}"


@dataclass(frozen=True)
class SigningOnly(Check):
    subject_types: ClassVar[tuple[str, ...]] = (KEY,)
    shortdesc: ClassVar[str] = "a sign/verify key"
    controls: ClassVar[tuple[str, ...]] = ("SC-12", "SC-13")

    @property
    def predicate(self) -> str:
        return "is an asymmetric key usable only to sign and verify"

    def judge(self, resource: ResourceView, index: TemplateIndex) -> tuple[bool, str]:
        usage, spec = resource.properties.get("KeyUsage"), resource.properties.get("KeySpec")
        return usage == "SIGN_VERIFY", f"KeyUsage {usage}, KeySpec {spec}"
