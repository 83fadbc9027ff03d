"""What every Preflight rule shares: the verdict it returns, what it may know, how it is registered.

A rule is a pure function of one synthesized resource (a `ResourceView`) and a `Context`
(the app's other templates, the stage's declared prerequisites); it returns a `Verdict`
whose message says what is wrong and what to write instead. Nothing here imports the CDK
or cdk-nag, so rules are tested on plain template dictionaries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from compliance.assembly import ResourceView
from compliance.references import TemplateIndex

PACK = "Preflight"  # its name in the list of packs (`compliance.packs`) and the prefix of its finding ids


@dataclass(frozen=True)
class Verdict:
    """A rule's answer for one resource: compliant, or the finding id suffix and what to change."""

    applies: bool = True
    compliant: bool = True
    finding: str = ""
    message: str = ""

    @staticmethod
    def not_applicable() -> Verdict:
        return Verdict(applies=False)

    @staticmethod
    def ok() -> Verdict:
        return Verdict()

    @staticmethod
    def fail(finding: str, message: str) -> Verdict:
        return Verdict(compliant=False, finding=finding, message=message)

    @property
    def failed(self) -> bool:
        return self.applies and not self.compliant


@dataclass(frozen=True)
class Context:
    """What a rule may know besides the resource: the app's other templates and the declared prerequisites."""

    index: TemplateIndex
    external_prerequisites: frozenset[str]


# A rule reads one synthesized resource (its resolved properties, its stack's region and stage).
RuleFunction = Callable[[ResourceView, Context], Verdict]


@dataclass(frozen=True)
class PreflightRule:
    """One deployability check: which resource types it reads, and why it exists."""

    rule_id: str
    resource_types: frozenset[str]
    check: RuleFunction
    explanation: str
    controls: tuple[str, ...] = ()  # the NIST 800-53 controls it evidences
    # What it catches, in a phrase (the rule tables of docs/compliance.md, SARIF's shortDescription).
    shortdesc: str = ""
    source_url: str = ""  # the AWS documentation the rule rests on (SARIF's helpUri); "" where it cites none

    def reads(self, resource_type: str) -> bool:
        return resource_type in self.resource_types or "*" in self.resource_types


@dataclass(frozen=True)
class AssemblyRule:
    """A deployability check of what no single resource shows: a stack's manifest entry, a file of the assembly.

    The pack reads resources one at a time, so these run on the assembly directory after synth and return one line
    per problem.
    """

    rule_id: str
    check: Callable[[Path], list[str]]
    explanation: str
    controls: tuple[str, ...] = ()
    shortdesc: str = ""  # as `PreflightRule`'s
    source_url: str = ""


def failures(
    index: TemplateIndex,
    rules: tuple[PreflightRule, ...],
    external_prerequisites: Mapping[str, frozenset[str]] | None = None,
) -> Iterator[tuple[PreflightRule, ResourceView, Verdict]]:
    """Every failing verdict of `rules` over every resource of `index`, without cdk-nag (for scripts and tests)."""
    prerequisites = external_prerequisites or {}
    for resource in index.all_resources():
        context = Context(index=index, external_prerequisites=prerequisites.get(resource.stack.stage, frozenset()))
        for rule in rules:
            if rule.reads(resource.type):
                verdict = rule.check(resource, context)
                if verdict.failed:
                    yield rule, resource, verdict
