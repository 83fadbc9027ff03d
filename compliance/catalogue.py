"""The rules each pack evaluates, read from the installed packs themselves.

cdk-nag's packs are JavaScript classes whose `checkResource` applies each rule with
its description (which cites the NIST controls) and a rule function that tests the
resource's L1 type. Reading them from the cdk-nag package that is actually
installed keeps the report true to what ran: upgrading cdk-nag changes the
catalogue with no list to maintain by hand.
"""

from __future__ import annotations

import importlib
import json
import re
import tarfile
from dataclasses import asdict
from functools import cache
from importlib import metadata, resources
from pathlib import Path

from compliance.model import Rule, cited_controls

# The pack names (rule id prefixes) and their source files in the cdk-nag package.
PACK_SOURCES = {
    "NIST.800.53.R5": "nist-800-53-r5.js",
    "AwsSolutions": "aws-solutions.js",
}

_APPLY = re.compile(r"this\.applyRule\(\{(.*?)\n\s*\}\);", re.DOTALL)
_SUFFIX = re.compile(r"ruleSuffixOverride:\s*'([^']+)'")
_INFO = re.compile(r"info:\s*'((?:[^'\\]|\\.)*)'")
_RULE = re.compile(r"rule:\s*(\w+)\.(\w+)")
_RULE_MODULE = re.compile(r"const (\w+) = require\(\"\.\./rules/(\w+)\"\)")
_CDK_MODULE = re.compile(r"const (\w+) = require\(\"aws-cdk-lib/([\w-]+)\"\)")
_INSTANCEOF = re.compile(r"instanceof (\w+)\.(Cfn\w+)")


@cache
def _package_files() -> dict[str, str]:
    """The text of cdk-nag's JavaScript sources, from the jsii bundle the Python package ships."""
    bundle = next(p for p in resources.files("cdk_nag._jsii").iterdir() if p.name.endswith(".tgz"))
    files: dict[str, str] = {}
    with tarfile.open(str(Path(str(bundle))), "r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.startswith("package/lib/") and member.name.endswith(".js"):
                extracted = archive.extractfile(member)
                if extracted is not None:
                    files[member.name.removeprefix("package/lib/")] = extracted.read().decode("utf-8")
    return files


def _resource_type(module: str, cfn_class: str) -> str | None:
    """`aws-s3`, `CfnBucket` -> `AWS::S3::Bucket`, asked of the CDK itself."""
    try:
        python_module = importlib.import_module("aws_cdk." + module.replace("-", "_"))
        return str(getattr(python_module, cfn_class).CFN_RESOURCE_TYPE_NAME)
    except (ImportError, AttributeError):
        return None


@cache
def _rule_types(directory: str, name: str) -> tuple[str, ...]:
    source = _package_files().get(f"rules/{directory}/{name}.js", "")
    modules = dict(_CDK_MODULE.findall(source))
    # The rule's own subject is tested on the first line that tests a type; later tests look at
    # related resources (a stage's WAF association, a bucket's policy) and are not what it evaluates.
    body = source.split("exports.default", 1)[-1]
    first = next((line for line in body.splitlines() if "instanceof" in line), "")
    types = {
        resource_type
        for alias, cfn_class in _INSTANCEOF.findall(first)
        if alias in modules and (resource_type := _resource_type(modules[alias], cfn_class))
    }
    return tuple(sorted(types))


# Reading the packs means unpacking cdk-nag's bundle and importing CDK modules (most of a second);
# the result depends only on the two installed versions, so it is kept on disk per version pair.
_CACHE_DIRECTORY = Path(__file__).resolve().parent.parent / ".cache"


@cache
def nag_rules() -> tuple[Rule, ...]:
    """Every rule of the NIST 800-53 R5 and AWS Solutions packs, with its citations and resource types."""
    versions = f"cdk-nag-{metadata.version('cdk-nag')}-aws-cdk-lib-{metadata.version('aws-cdk-lib')}"
    cached = _CACHE_DIRECTORY / f"catalogue-{versions}.json"
    if cached.exists():
        data = json.loads(cached.read_text(encoding="utf-8"))
        return tuple(
            Rule(**{**r, "cited": tuple(r["cited"]), "resource_types": tuple(r["resource_types"])}) for r in data
        )
    rules = _read_packs()
    try:
        _CACHE_DIRECTORY.mkdir(exist_ok=True)
        cached.write_text(json.dumps([asdict(r) for r in rules]), encoding="utf-8")
    except OSError:
        pass  # a read-only checkout just reads the packs every time
    return rules


def _read_packs() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for pack, source_name in PACK_SOURCES.items():
        source = _package_files()[f"packs/{source_name}"]
        rule_modules = dict(_RULE_MODULE.findall(source))
        seen: set[str] = set()
        for block in _APPLY.findall(source):
            rule_match = _RULE.search(block)
            info_match = _INFO.search(block)
            if not rule_match or not info_match:
                continue
            alias, function = rule_match.groups()
            suffix_match = _SUFFIX.search(block)
            rule_id = f"{pack}-{suffix_match.group(1) if suffix_match else function}"
            if rule_id in seen:
                continue
            seen.add(rule_id)
            description = info_match.group(1).replace("\\'", "'")
            rules.append(
                Rule(
                    pack=pack,
                    rule=rule_id,
                    description=description,
                    cited=cited_controls(description),
                    resource_types=_rule_types(rule_modules.get(alias, ""), function),
                )
            )
    return tuple(rules)


def preflight_rules() -> tuple[Rule, ...]:
    """Our own pack's rules, from the pack's definitions."""
    from compliance.preflight import PACK, RULES

    return tuple(
        Rule(
            pack=PACK,
            rule=f"{PACK}-{r.rule_id}",
            description=r.explanation + (f" (Control IDs: {', '.join(r.controls)})." if r.controls else ""),
            cited=r.controls,
            resource_types=tuple(sorted(r.resource_types)),
        )
        for r in RULES
    )


def all_rules() -> tuple[Rule, ...]:
    return nag_rules() + preflight_rules()
