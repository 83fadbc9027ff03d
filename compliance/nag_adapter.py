"""Every use of cdk-nag's internals, in one module, each guarded by a canary (tests/compliance/test_nag_adapter.py).

cdk-nag 3's public API registers packs and acknowledges findings. The compliance report needs two
things it does not offer:

- **The rules of a pack**, with the description that cites their controls and the resource types
  they read, so the report can say what passed and not only what failed. They are read from the
  pack's compiled JavaScript in the jsii bundle the Python package ships (`pack_rules`).
- **Every finding, acknowledged or not.** cdk-nag drops an acknowledged finding before the CDK
  sees it. Its rule ids are built from the pack's protected `packName`; run under a name no
  acknowledgment carries, the pack reports them all (`every_finding`).

So that each pack runs once a synth, the app registers it wrapped (`NagPackPlugin`): the wrapper runs
it blind, keeps every finding for the evaluation (`kept`), and gives the CDK the report cdk-nag would
have given, without the findings an acknowledgment covers. Which those are, and how the report groups
and orders what is left, is cdk-nag's behaviour copied here (`Acknowledged`, `grouped`,
`acknowledged_left_out`); Preflight's plugin gives its report the same way. Its tests compare the
wrapper's report with the stock pack's, so an upgrade of cdk-nag that matches or groups differently
fails there.

When an upgrade of cdk-nag breaks any of this, these functions raise `NagInternalsChangedError`, naming
the version, what changed and what here must change, instead of leaving a report that is silently short.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import tarfile
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance.assembly import ACKNOWLEDGED_RULES, CloudAssembly
from compliance.model import Rule, cited_controls

if TYPE_CHECKING:  # imported where used: reading the rules needs no jsii
    import cdk_nag
    from constructs import IConstruct

ADAPTER = "compliance/nag_adapter.py"
# Raised whenever the rules are read differently, so a catalogue cached on disk by an older reading is not reused.
CATALOGUE_READER = 2
# The pack-name prefix of the blind run: no acknowledgment names a rule id that starts with it.
_BLIND = "Unacknowledged."

_CLASS = re.compile(r"\bclass (\w+) extends ")
_PACK_NAME = re.compile(r"this\.packName = '([^']+)'")
_APPLY = re.compile(r"this\.applyRule\(\{(.*?)\n\s*\}\);", re.DOTALL)
_SUFFIX = re.compile(r"ruleSuffixOverride:\s*'([^']+)'")
_INFO = re.compile(r"""info:\s*(['"])((?:(?!\1)[^\\]|\\.)*)\1""")
_RULE = re.compile(r"rule:\s*(\w+)\.(\w+)")
_RULE_MODULE = re.compile(r"const (\w+) = require\(\"\.\./rules/(\w+)\"\)")
_CDK_MODULE = re.compile(r"const (\w+) = require\(\"aws-cdk-lib/([\w-]+)\"\)")
_INSTANCEOF = re.compile(r"instanceof (\w+)\.(Cfn\w+)")


class NagInternalsChangedError(RuntimeError):
    """cdk-nag no longer looks the way this adapter reads it."""


def version() -> str:
    return metadata.version("cdk-nag")


def changed(what: str, consequence: str) -> NagInternalsChangedError:
    """The error for a coupling that broke: the installed version, what changed, and what must change here."""
    return NagInternalsChangedError(f"cdk-nag {version()} {what}; {consequence} in {ADAPTER} must change")


# --- The packs ------------------------------------------------------------------------------------


def nag_pack(class_name: str) -> cdk_nag.NagPack:
    """A new instance of cdk-nag's pack `class_name` (e.g. "NIST80053R5Checks")."""
    import cdk_nag

    pack_class = getattr(cdk_nag, class_name, None)
    if pack_class is None:
        raise changed(f"has no pack {class_name}", "the pack list (compliance/packs.py) or nag_pack")
    pack: cdk_nag.NagPack = pack_class()
    return pack


# --- Every finding, acknowledged or not -----------------------------------------------------------


@dataclass(frozen=True)
class NagFinding:
    """One finding of a pack on one construct: the finding id as acknowledgments name it, and its message."""

    finding: str  # e.g. "AwsSolutions-IAM5[Resource::*]"
    path: str
    message: str


@dataclass(frozen=True)
class NagResource:
    """A construct a finding names in a pack's report, and where in its resource (cdk-nag: ["Properties"])."""

    path: str
    locations: tuple[str, ...] = ("Properties",)


@dataclass(frozen=True)
class NagViolation:
    """One entry of a pack's report: a finding id (its rule name), the message and severity of the entry's first
    finding, and the construct of each finding, in the order the pack found them."""

    rule: str
    description: str
    severity: str | None
    resources: tuple[NagResource, ...]


@dataclass(frozen=True)
class BlindRun:
    """What one pack found in one synth, blind to acknowledgments, and what a rule-by-rule pass needs besides.

    `findings` holds every finding, acknowledged or not, in the order of the pack's report (each with the
    message of its report entry); `plain` the paths of the plain CfnResources, where the pack notes them;
    `not_applicable` each (rule, path) whose rule said it does not apply, where the pack's rules say so.
    """

    findings: tuple[NagFinding, ...]
    plain: frozenset[str] = frozenset()
    not_applicable: frozenset[tuple[str, str]] = frozenset()


# What each pack kept from its run in an app's synth, by pack name (an app that is gone takes its runs with it).
_KEPT: weakref.WeakKeyDictionary[object, dict[str, BlindRun]] = weakref.WeakKeyDictionary()


def keep(app: object, pack: str, run: BlindRun) -> None:
    """Keep what `pack` found in `app`'s synth for the evaluation (called by the pack's plugin)."""
    _KEPT.setdefault(app, {})[pack] = run


def kept(app: object, pack: str) -> BlindRun | None:
    """What `pack`'s plugin kept from `app`'s synth; None where it did not run in one."""
    return _KEPT.get(app, {}).get(pack)


def blind_report(pack: cdk_nag.NagPack, scope: IConstruct) -> list[NagViolation]:
    """The report of `pack` over `scope` with nothing acknowledged, its finding ids under the pack's own name.

    cdk-nag skips a finding whose rule id (`<packName>-<rule>[...]`) is acknowledged on the resource or
    an ancestor. Under a pack name no acknowledgment carries, nothing is skipped; the finding ids are
    given back their real pack name, and the pack keeps its own name afterwards.
    """
    name = pack.read_pack_name
    blind = _BLIND + name
    _set_pack_name(pack, blind)
    try:
        report = pack.validate_scope(scope)
    finally:
        _set_pack_name(pack, name)
    found: list[NagViolation] = []
    for violation in report.violations:
        if not violation.rule_name.startswith(f"{blind}-"):
            raise changed(
                f"reports {violation.rule_name!r}, a rule id not built from the pack's packName",
                "the blind run (blind_report)",
            )
        rule = violation.rule_name.removeprefix(_BLIND)
        where = violation.violating_resources
        resources = tuple(NagResource(r.construct_path or "", tuple(r.locations)) for r in where)
        found.append(NagViolation(rule, violation.description, violation.severity, resources))
    return found


def findings_of(report: Iterable[NagViolation]) -> list[NagFinding]:
    """Each finding of a report on a construct, with its entry's message, in the report's order."""
    return [NagFinding(v.rule, r.path, v.description) for v in report for r in v.resources if r.path]


def every_finding(pack: cdk_nag.NagPack, scope: IConstruct) -> list[NagFinding]:
    """Every finding of `pack` over `scope`, acknowledged or not, in the order the pack reports them."""
    return findings_of(blind_report(pack, scope))


def _set_pack_name(pack: cdk_nag.NagPack, name: str) -> None:
    """Set the protected `packName` of a pack (jsii's `_pack_name`), and check that cdk-nag took it."""
    if not isinstance(getattr(type(pack), "_pack_name", None), property):
        raise changed("no longer has a _pack_name field on NagPack", "the blind run (blind_report)")
    pack._pack_name = name
    if pack.read_pack_name != name:
        raise changed("no longer reads the pack name from NagPack's _pack_name field", "the blind run (blind_report)")


# --- The report cdk-nag gives the CDK: acknowledged findings left out -----------------------------

# aws-cdk-lib before 2.262.1 wrote an acknowledged id as 'annotation::<id>', later ones 'Annotation::<id>'.
_ANNOTATION = re.compile(r"^annotation::", re.IGNORECASE)


class Acknowledged:
    """The finding ids acknowledged on each construct, matched as cdk-nag's `isAcknowledged` matches them.

    A finding is acknowledged where its exact id is among the ids acknowledged (`Validations.acknowledge`)
    on its resource or on an ancestor of it, each id without an `annotation::` prefix.
    """

    def __init__(self, ids: Mapping[str, Iterable[str]]) -> None:
        self._ids = {path: frozenset(_ANNOTATION.sub("", i) for i in found) for path, found in ids.items()}

    @staticmethod
    def of(app: IConstruct, assembly: CloudAssembly) -> Acknowledged:
        """The acknowledgments in `app`, synthesized into `assembly`: on the constructs of its stacks as the stacks'
        manifests record them, on the few constructs above its stacks (the app itself) as those hold them."""
        ids: dict[str, Iterable[str]] = dict(assembly.acknowledged_ids)
        for path in assembly.outside_stacks():
            entries = construct_at(app, path).node.metadata
            ids[path] = [key for e in entries if e.type == ACKNOWLEDGED_RULES and e.data for key in e.data]
        return Acknowledged(ids)

    def covers(self, path: str, finding: str) -> bool:
        """Whether `finding` on the construct at `path` is acknowledged there or on an ancestor."""
        while finding not in self._ids.get(path, ()):
            if not path:
                return False
            path = path.rpartition("/")[0]
        return True


def construct_at(app: IConstruct, path: str) -> Any:
    """The construct of `app` at `path` ("" for the app itself)."""
    construct: Any = app
    for part in path.split("/") if path else ():
        construct = construct.node.find_child(part)
    return construct


def grouped(found: Iterable[tuple[str, str, str | None, NagResource]]) -> list[NagViolation]:
    """Findings (finding id, description, severity, resource), in the order a pack finds them, as its report
    gives them: one entry per finding id, in the order of its first finding, with that finding's description and
    severity (cdk-nag's `addViolation`)."""
    entries: dict[str, tuple[str, str | None, list[NagResource]]] = {}
    for rule, description, severity, resource in found:
        entries.setdefault(rule, (description, severity, []))[2].append(resource)
    return [NagViolation(rule, text, level, tuple(resources)) for rule, (text, level, resources) in entries.items()]


def acknowledged_left_out(
    report: list[NagViolation],
    acknowledged: Acknowledged,
    walk: Callable[[], Mapping[str, int]],
    alone: Callable[[str], list[NagViolation]],
) -> list[NagViolation]:
    """The report a cdk-nag pack gives the CDK (without what an acknowledgment covers), from its blind `report`.

    The pack adds each finding to the entry of its id in the order it walks the tree (`walk()`: each construct
    path's place in that walk), so an entry starts at its first finding no acknowledgment covers. Where that is
    not the entry's first finding, the blind report tells neither where among the findings on that resource the
    entry starts nor that finding's description: `alone(path)` is the pack's blind report of that resource alone.
    """
    left: list[tuple[int, NagViolation, tuple[NagResource, ...]]] = []
    for position, violation in enumerate(report):
        resources = tuple(r for r in violation.resources if not acknowledged.covers(r.path, violation.rule))
        if resources:
            left.append((position, violation, resources))
    moved = sorted({resources[0].path for _, v, resources in left if resources[0].path != v.resources[0].path})
    there = {path: {v.rule: (index, v) for index, v in enumerate(alone(path))} for path in moved}
    starts: list[tuple[str, int, NagViolation, tuple[NagResource, ...]]] = []
    for position, violation, resources in left:
        path = resources[0].path
        if path not in there:  # the entry starts at its first finding: as in the blind report
            starts.append((path, position, violation, resources))
        elif violation.rule in there[path]:
            index, first = there[path][violation.rule]
            starts.append((path, index, first, resources))
        else:
            raise changed(f"does not report {violation.rule} on {path} when run over it alone", "acknowledged_left_out")
    if len(starts) > 1:
        order = walk()
        starts.sort(key=lambda start: (order[start[0]], start[1]))
    return [NagViolation(first.rule, first.description, first.severity, rs) for _, _, first, rs in starts]


# --- The rules of a pack, from its compiled JavaScript --------------------------------------------


@cache
def package_files() -> dict[str, str]:
    """The text of cdk-nag's JavaScript sources (`lib/...`), from the jsii bundle the Python package ships."""
    spec = importlib.util.find_spec("cdk_nag")  # found, not imported: importing it starts jsii
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    bundles = [p for location in locations for p in sorted((Path(location) / "_jsii").glob("*.tgz"))]
    if len(bundles) != 1:
        raise changed(f"ships {len(bundles)} jsii bundles in cdk_nag/_jsii, not one", "package_files")
    files: dict[str, str] = {}
    with tarfile.open(bundles[0], "r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.startswith("package/lib/") and member.name.endswith(".js"):
                extracted = archive.extractfile(member)
                if extracted is not None:
                    files[member.name.removeprefix("package/lib/")] = extracted.read().decode("utf-8")
    return files


def pack_source(class_name: str) -> tuple[str, str]:
    """(file name, JavaScript) of the pack class `class_name` in cdk-nag's `lib/packs/`."""
    for name, source in sorted(package_files().items()):
        if name.startswith("packs/") and class_name in _CLASS.findall(source):
            return name, source
    raise changed(f"defines no class {class_name} in lib/packs/*.js", "the rule catalogue (pack_source)")


def pack_rules(pack: str, class_name: str) -> tuple[Rule, ...]:
    """Every rule of cdk-nag's pack `class_name`, whose rule ids start with `pack`, in the order it applies them.

    Each rule comes with its description (which cites the NIST controls) and the CloudFormation types it reads.
    """
    source_name, source = pack_source(class_name)
    declared = _PACK_NAME.findall(source)
    if declared != [pack]:
        raise changed(
            f"names the pack in {source_name} {declared} rather than [{pack!r}]",
            "the pack list (compliance/packs.py) or pack_rules",
        )
    rule_modules = dict(_RULE_MODULE.findall(source))
    blocks = _APPLY.findall(source)
    if len(blocks) != source.count("this.applyRule("):
        raise changed(
            f"applies {source.count('this.applyRule(')} rules in {source_name}, of which {len(blocks)} are read",
            "pack_rules",
        )
    rules: dict[str, Rule] = {}
    for block in blocks:
        rule_match = _RULE.search(block)
        info_match = _INFO.search(block)
        if not rule_match or not info_match:
            raise changed(
                f"applies a rule in {source_name} without a rule or info this reads: {block[:200]}", "pack_rules"
            )
        alias, function = rule_match.groups()
        suffix_match = _SUFFIX.search(block)
        rule_id = f"{pack}-{suffix_match.group(1) if suffix_match else function}"
        description = re.sub(r"\\(.)", r"\1", info_match.group(2))
        rules.setdefault(
            rule_id,
            Rule(
                pack=pack,
                rule=rule_id,
                description=description,
                cited=cited_controls(description),
                resource_types=rule_types(rule_modules.get(alias, ""), function),
            ),
        )
    return tuple(rules.values())


def _resource_type(module: str, cfn_class: str) -> str | None:
    """`aws-s3`, `CfnBucket` -> `AWS::S3::Bucket`, asked of the CDK itself."""
    try:
        python_module = importlib.import_module("aws_cdk." + module.replace("-", "_"))
        return str(getattr(python_module, cfn_class).CFN_RESOURCE_TYPE_NAME)
    except (ImportError, AttributeError):
        return None


@cache
def rule_types(directory: str, name: str) -> tuple[str, ...]:
    """The CloudFormation types the rule function `name` of `lib/rules/<directory>/<name>.js` evaluates.

    They are the types its top-level `if` / `else if` chain tests (`node instanceof aws_s3_1.CfnBucket`),
    over as many lines as a condition takes. Types tested inside a branch are of related resources
    (a stage's WAF association, a bucket's policy), not what the rule evaluates.
    """
    source = package_files().get(f"rules/{directory}/{name}.js", "")
    modules = dict(_CDK_MODULE.findall(source))
    body = source.split("exports.default", 1)[-1]
    types: set[str] = set()
    for alias, cfn_class in _top_level(body, _INSTANCEOF):
        resource_type = _resource_type(modules[alias], cfn_class) if alias in modules else None
        if resource_type is None:
            raise changed(f"tests {alias}.{cfn_class} in rules/{directory}/{name}.js, not a CDK L1 class", "rule_types")
        types.add(resource_type)
    if not types:
        raise changed(f"tests no resource type at the top of rules/{directory}/{name}.js", "rule_types")
    return tuple(sorted(types))


def _top_level(function: str, pattern: re.Pattern[str]) -> list[tuple[str, ...]]:
    """The groups of each match of `pattern` in the body of the first function in `function`, outside nested blocks."""
    matches = {m.start(): m.groups() for m in pattern.finditer(function)}
    found: list[tuple[str, ...]] = []
    depth = 0
    for position in range(max(function.find("{"), 0), len(function)):
        if function[position] == "{":
            depth += 1
        elif function[position] == "}":
            depth -= 1
            if depth == 0:
                break
        elif depth == 1 and position in matches:
            found.append(matches[position])
    return found
