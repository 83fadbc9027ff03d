"""One run of the Control Tower plugin's cfn-guard, from Python: what `CfnGuardValidator.validate` does, ported.

`cdklabs.cdk-validator-cfnguard` runs its bundled cfn-guard with Node.js's `spawnSync`: Python waits on
jsii, jsii on cfn-guard, one core at a time. Run from here, several runs go at once (one per core;
`compliance.control_tower_validator`), each the command line the plugin would run, and cfn-guard's output
read into the violations the plugin would report, field for field and in the same order.

What is ported, each part commented with the function of the plugin it follows:

- lib/plugin.js: `getRules` (the rule files and folders given to cfn-guard), `execGuard` (its command line
  and how it reads the result), `reviver` with `extractNestedObject` and `extractNestedChecks` (how it
  reshapes cfn-guard's JSON, which differs by how a rule is written: a clause, a rule, a block);
- lib/check.js: `ViolationCheck` (one violation per resource and fix message);
- lib/utils.js: `exec` (exit statuses 0, 5 and 19 are results; any other, or a signal, fails the run).

The port follows JavaScript where cfn-guard's output decides the result: a missing property is `UNDEFINED`,
apart from JSON's null (`??` and `?.` treat both as absent, `||` also "", 0 and false); an object's keys go
in JavaScript's order (array indices first); a number too large for a double is null, as the plugin's
`JSON.parse(JSON.stringify(...))` leaves it. Where the plugin's JavaScript would throw (a property read of
null, a method of a value without it), the port raises `GuardOutputError`; so it does where the plugin
would coerce a string into an object by its characters, which no output of cfn-guard has there.

The port is pinned to the plugin code and cfn-guard version it was written from (`PORTED_FROM`): another
installed release refuses to run until the port is compared with it (`check_port`), and
tests/compliance/test_cfn_guard.py compares the port with the stock plugin on every shape of result.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from compliance.control_tower import MAX_BUFFER_BYTES
from config.control_tower_controls import bundle, cfn_guard_binary

# The plugin code and cfn-guard release the port follows: sha256 of each file of the plugin's bundle.
PORTED_FROM: dict[str, str] = {
    "lib/plugin.js": "38dbc8e1b025fdf0abd8eed029d984479690828d30c68614012eb666ec5b93d2",
    "lib/check.js": "cab2761f0bb00dfbbf542b0a75e5932febfb64cbb4f8e9029a05f2914798a9f4",
    "lib/utils.js": "8a973238e6e230648525cc4c69929209078dee272f8e378cb4b564a002dac79a",
}
PORTED_PLUGIN_VERSION = "0.0.62"
PORTED_GUARD_VERSION = "3.1.1"
RULES_DIRECTORY = "rules/control-tower/cfn-guard"  # the plugin's `defaultRulesPath`, in its package
# lib/utils.js `exec`: "cfn-guard uses 5 & 19 when there are policy validation failures".
_RESULT_STATUSES = (0, 5, 19)
# ViolationCheck.generateRuleDocUrl: every violation's `ruleMetadata.DocumentationUrl`.
DOCUMENTATION_URL = "https://github.com/cdklabs/cdk-validator-cfnguard#bundled-control-tower-rules"


class GuardOutputError(RuntimeError):
    """cfn-guard's output is not what the plugin reads: the plugin would fail on it, or misread it."""


class UnportedReleaseError(RuntimeError):
    """The installed plugin is not the release the port follows: its code or its cfn-guard changed."""


class GuardRunError(RuntimeError):
    """cfn-guard did not run to a result: it could not start, or it exited with a status that is not one."""


@dataclass(frozen=True)
class ViolatingResource:
    template_path: str  # as cfn-guard names the data file: the path the run gave it
    logical_id: str
    locations: tuple[str, ...]  # "/Resources/Bucket83908E77/Properties/BucketEncryption", ...


@dataclass(frozen=True)
class Violation:
    """One of the plugin's violations: a Guard rule's finding, with one fix message, on some resources."""

    rule_name: str  # the Guard rule: "s3_bucket_default_encryption_kms_check"
    description: str  # "[CT.S3.PR.10]: Require an Amazon S3 bucket to have server-side encryption ..."
    fix: str
    resources: tuple[ViolatingResource, ...]

    @property
    def rule_metadata(self) -> dict[str, str]:
        return {"DocumentationUrl": DOCUMENTATION_URL}


@dataclass(frozen=True)
class Report:
    """What `execGuard` returns: `success` is false as soon as a template fails a rule, violations or not."""

    success: bool
    violations: tuple[Violation, ...]


# --- the installed plugin ------------------------------------------------------------------------


def installed_versions() -> tuple[str, str]:
    """(the plugin's version, the version of the cfn-guard it bundles), from its package.json and guard-version.json."""
    files = bundle()
    plugin = json.loads(files["package.json"])["version"]
    guard = json.loads(files["guard-version.json"])["version"]
    return str(plugin), str(guard)


def check_port() -> None:
    """Refuse an installed plugin whose code or cfn-guard release is not the one the port follows."""
    files = bundle()
    changed = [
        name for name, digest in PORTED_FROM.items() if hashlib.sha256(files.get(name, b"")).hexdigest() != digest
    ]
    plugin, guard = installed_versions()
    if guard != PORTED_GUARD_VERSION:
        changed.append(f"cfn-guard {guard}")
    if changed:
        raise UnportedReleaseError(
            f"cdklabs.cdk-validator-cfnguard {plugin} (cfn-guard {guard}) is not the release compliance/cfn_guard.py "
            f"reads the results of ({PORTED_PLUGIN_VERSION}, cfn-guard {PORTED_GUARD_VERSION}): {', '.join(changed)} "
            "changed. Compare the port with its lib/plugin.js (getRules, execGuard, reviver) and lib/check.js "
            "(ViolationCheck), run tests/compliance/test_cfn_guard.py, then update PORTED_FROM and the versions."
        )


@dataclass(frozen=True)
class _Installation:
    binary: Path
    rules: Path  # the plugin's rules/control-tower/cfn-guard, as it is laid out in the package
    directory: tempfile.TemporaryDirectory[str]  # removed when the process exits


_INSTALLING = threading.Lock()  # runs start from several threads: the first writes the files, the others wait


def _installation() -> _Installation:
    """This machine's cfn-guard and the Guard files, written once per process into a private temporary folder."""
    with _INSTALLING:
        return _install()


@cache
def _install() -> _Installation:
    binary_name = cfn_guard_binary()
    files = bundle()
    directory = tempfile.TemporaryDirectory(prefix="cfn-guard-")
    root = Path(directory.name)
    for name, content in files.items():
        if name == binary_name or name.startswith(RULES_DIRECTORY + "/"):
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    binary = root / binary_name
    binary.chmod(0o700)
    return _Installation(binary, root / RULES_DIRECTORY, directory)


# --- the run: lib/plugin.js execGuard, lib/utils.js exec -----------------------------------------


def command(templates: Sequence[str], disabled_rules: Iterable[str]) -> list[str]:
    """The command line the plugin runs over `templates` given `disabledRules` (rule files' names, no extension)."""
    installation = _installation()
    # execGuard's flags, in its order.
    return [
        str(installation.binary),
        "validate",
        *(flag for rule in _rules(installation.rules, frozenset(disabled_rules)) for flag in ("--rules", str(rule))),
        *(flag for template in templates for flag in ("--data", template)),
        "--output-format",
        "json",
        "--show-summary",
        "none",
        "--structured",
    ]


def _rules(path: Path, disabled: frozenset[str]) -> list[Path]:
    """getRules: a folder is given whole when it yields as many rules as it has entries, else what its entries
    yield; a file unless its name without extension (`path.parse(file).name`) is disabled.

    Folders are read as Node.js's readdirSync reads them, sorted by byte (libuv's scandir sorts with strcmp).
    """
    if path.is_dir():
        entries = sorted(os.listdir(path), key=os.fsencode)
        rules = [rule for entry in entries for rule in _rules(path / entry, disabled)]
        return [path] if len(rules) == len(entries) else rules
    return [] if path.stem in disabled else [path]


def run(templates: Sequence[str], disabled_rules: Iterable[str]) -> Report:
    """What `CfnGuardValidator(controlTowerRulesEnabled=true, disabledRules, maxBuffer=MAX_BUFFER_BYTES)` reports
    over `templates`: cfn-guard run as the plugin runs it, its output read as the plugin reads it."""
    arguments = command(templates, disabled_rules)
    try:
        finished = subprocess.run(arguments, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    except OSError as error:
        raise GuardRunError(f"cfn-guard could not start ({arguments[0]}): {error}") from error
    # exec: spawnSync fails a run whose output passes maxBuffer (the plugin is given MAX_BUFFER_BYTES).
    if max(len(finished.stdout), len(finished.stderr)) > MAX_BUFFER_BYTES:
        raise GuardRunError(f"cfn-guard wrote more than {MAX_BUFFER_BYTES} bytes over {', '.join(templates)}")
    if finished.returncode not in _RESULT_STATUSES:
        ended = f"status {finished.returncode}" if finished.returncode > 0 else f"signal {-finished.returncode}"
        stderr = finished.stderr.decode("utf-8", errors="replace").strip()
        raise GuardRunError(f"cfn-guard exited with {ended} over {', '.join(templates)}: {stderr[-2000:]}")
    return read(finished.stdout.decode("utf-8", errors="replace"))


def read(output: str) -> Report:
    """execGuard after `exec`: the report the plugin makes of cfn-guard's JSON output."""
    # exec: the output trimmed; none at all is {}, over which execGuard's `for...of` throws.
    text = _js_trim(output)
    if not text:
        raise GuardOutputError("cfn-guard wrote no output")
    results = _revive("", json.loads(text, parse_constant=_not_json, parse_int=_js_number, parse_float=_js_number))
    if not isinstance(results, list):
        raise GuardOutputError(f"cfn-guard's output is a {type(results).__name__}, not a list of results")
    success = True
    violations: list[Violation] = []
    for result in results:
        not_compliant = _get(result, "not_compliant")
        if not _truthy(not_compliant) or not_compliant == []:
            continue
        if not isinstance(not_compliant, list):
            raise GuardOutputError(f"not_compliant is {not_compliant!r}, not a list")  # `.forEach` would throw
        success = False
        for check in not_compliant:
            violations.extend(_violation_check(check, _get(result, "name")))
    return Report(success, tuple(violations))


# --- JavaScript's values, as far as the plugin's reading of them depends on them -------------------


class _Undefined:
    """JavaScript's `undefined`: a property that is not there, which JSON's null (None) is not."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Any = _Undefined()
# ECMAScript's WhiteSpace and LineTerminator: what String.prototype.trim removes and a regular expression's \s matches
# (Python's own str.strip and \s differ: they take \x1c-\x1f and \x85, and leave \ufeff).
_JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_FIX = re.compile(rf"^\[FIX\]:[{_JS_SPACE}]*")  # check.js: mes.replace(/^\[FIX\]:\s*/, '')
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def _js_trim(text: str) -> str:
    return text.strip(_JS_SPACE)


def _not_json(constant: str) -> Any:
    raise GuardOutputError(f"cfn-guard's output has {constant}, which JSON.parse refuses")


def _js_number(text: str) -> Any:
    """A JSON number as the plugin holds it: one beyond a double's range is Infinity, JSON.stringify's null."""
    value = float(text)
    if math.isinf(value):
        return None
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else value


def _nullish(value: Any) -> bool:
    return value is None or value is UNDEFINED


def _truthy(value: Any) -> bool:
    """JavaScript's truthiness: false, 0, NaN, "", null and undefined are false; every object and array is true."""
    if _nullish(value) or value is False:
        return False
    if isinstance(value, str):
        return value != ""
    if isinstance(value, int | float):
        return value == value and value != 0  # NaN != NaN
    return True


def _unreadable(value: Any, what: str) -> GuardOutputError:
    return GuardOutputError(f"the plugin cannot {what} {value!r} in cfn-guard's output")


def _keys(value: Any) -> list[str]:
    """Object.keys: an object's own keys, array indices first in numeric order, then the others as written."""
    if isinstance(value, dict):
        if not any(key[:1].isdigit() for key in value):
            return list(value)
        indices = sorted((k for k in value if _ARRAY_INDEX.fullmatch(k) and int(k) < 2**32 - 1), key=int)
        return indices + [k for k in value if k not in set(indices)]
    if isinstance(value, list):
        return [str(i) for i in range(len(value))]
    if isinstance(value, bool | int | float):
        return []
    raise _unreadable(value, "list the keys of")  # null or undefined: a TypeError; a string: its characters


def _values(value: Any) -> list[Any]:
    """Object.values, in the order of `_keys`."""
    if isinstance(value, dict):
        return [value[key] for key in _keys(value)]
    if isinstance(value, list):
        return list(value)
    _keys(value)  # raises for what has no keys to take values of
    return []


def _get(value: Any, key: str) -> Any:
    """`value.key` (only keys no array, string or number has a property of)."""
    if isinstance(value, dict):
        return value.get(key, UNDEFINED)
    if _nullish(value):
        raise _unreadable(value, f"read {key!r} of")
    return UNDEFINED


def _has(value: Any, key: str) -> bool:
    """`key in value`: a TypeError unless value is an object or an array."""
    if isinstance(value, dict):
        return key in value
    if isinstance(value, list):
        return False
    raise _unreadable(value, f"look for {key!r} in")


def _spread(value: Any) -> dict[str, Any]:
    """`{...value}`: an object's own properties, an array's by index; nothing of null, undefined, numbers, booleans."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return {str(i): item for i, item in enumerate(value)}
    if isinstance(value, str):
        raise _unreadable(value, "spread")  # by characters: never a check of cfn-guard's
    return {}


# --- lib/plugin.js: reviver, extractNestedChecks, extractNestedObject --------------------------------


def _revive(key: str, value: Any) -> Any:
    """JSON.parse's walk with a reviver (ECMA-262 InternalizeJSONProperty): a value's members first, then itself.

    The reviver makes new values and never returns undefined, so no member is deleted, and the order in
    which members are revived does not matter.
    """
    if isinstance(value, dict):
        value = {k: _revive(k, v) for k, v in value.items()}
    elif isinstance(value, list):
        value = [_revive(str(i), v) for i, v in enumerate(value)]
    return _reviver(key, value)


def _reviver(key: str, value: Any) -> Any:
    if key == "not_compliant":
        # "not_compliant can sometimes be an empty object (but not an Array)": its values' `Rule`.
        return [_get(v, "Rule") for v in _values(value)]
    if isinstance(value, dict):
        return _extract_nested_object(value)
    if key == "checks" and isinstance(value, list):
        return _extract_nested_checks([item for v in value for item in (v if isinstance(v, list) else [v])])
    return value


def _has_own_checks(value: Any) -> bool:
    """`typeof value === 'object' && value.hasOwnProperty('checks')`."""
    if value is None:
        raise _unreadable(value, "call hasOwnProperty of")
    if isinstance(value, dict):
        if "hasOwnProperty" in value:  # an own property of that name hides the method
            raise _unreadable(value, "call hasOwnProperty of")
        return "checks" in value
    return False


def _extract_nested_checks(checks: list[Any]) -> list[Any]:
    """extractNestedChecks: checks nested in checks (a rule's) pulled up a level, with the rule's name and messages."""
    contains_nested = any(any(_has_own_checks(v) for v in _values(check)) for check in checks)
    flat: list[Any] = []
    for check in checks:
        if "traversed" in _keys(check):
            flat.append(check)
        elif not contains_nested:
            flat.extend(_values(check))
        else:
            for check_value in _values(check):
                nested = _get(check_value, "checks")
                for nested_value in _values(check_value if _nullish(nested) else nested):
                    spread = _spread(nested_value)
                    name = _get(check_value, "name")
                    messages = _get(check_value, "messages")
                    if _nullish(messages):
                        messages = _get(nested_value, "messages")
                    flat.append({**spread, "name": name, "messages": messages})
    return flat


def _extract_nested_object(value: dict[str, Any]) -> Any:
    """extractNestedObject: a check's `traversed` path and its messages pulled up from wherever cfn-guard put them.

    Each key of `value` in turn may replace the result (the last one that does wins): by its own name
    (`_by_name`), then by a `traversed` one level below it (`_by_traversed_below`).
    """
    new: Any = value
    for key in _keys(value):
        nested = value[key]
        new = _by_name(key, nested, value, new)
        if isinstance(nested, dict):
            new = _by_traversed_below(nested, value, new)
    return new


def _by_name(key: str, nested: Any, value: dict[str, Any], new: Any) -> Any:
    """extractNestedObject's `switch (level1NestedKey.toLowerCase())`: traversed_to, unresolved, resolved, inresolved.

    Python's `lower` agrees with `toLowerCase` on every key that lower-cases to one of these ASCII names.
    """
    case = key.lower()
    if case == "traversed_to":
        origin = _get(nested, "from")
        return {
            "traversed": {
                "to": {"path": _get(nested, "path"), "value": _get(nested, "value")},
                "from": {"path": _get(origin, "path"), "value": UNDEFINED} if _truthy(origin) else UNDEFINED,
            },
            "messages": _get(nested, "messages"),
        }
    if case == "unresolved":
        traversed = _get(nested, "traversed")
        messages = _get(nested, "messages")
        return {"resolved": False, "traversed": traversed, "messages": _or(messages, lambda: _get(value, "messages"))}
    if case in ("resolved", "inresolved"):
        if _has(nested, "from"):
            origin = _get(nested, "from")
            to = {"path": _get(origin, "path"), "value": _get(_get(nested, "to"), "value")}
            return {"resolved": True, "traversed": {"from": origin, "to": to}, "messages": _get(nested, "messages")}
        if _has(nested, "value"):
            resolved = _get(nested, "value")
            to = {"path": _get(resolved, "path"), "value": _get(resolved, "value")}
            return {"resolved": True, "traversed": {"from": resolved, "to": to}, "messages": _get(nested, "messages")}
    return new


def _by_traversed_below(nested: dict[str, Any], value: dict[str, Any], new: Any) -> Any:
    """A `traversed` one level below: "There may be a case where 'traversed' is nested 2 (or 3 or 4) below",
    pulled up one level at a time."""
    for inner_key in _keys(nested):
        if inner_key.lower() == "traversed":
            # nestedValue.messages ?? level2NestedValue.messages ?? object.messages
            messages = _get(nested, "messages")
            if _nullish(messages):
                messages = _get(nested[inner_key], "messages")
            if _nullish(messages):
                messages = _get(value, "messages")
            new = {"traversed": _get(nested, "traversed"), "resolved": _get(nested, "resolved"), "messages": messages}
    return new


def _or(value: Any, otherwise: Callable[[], Any]) -> Any:
    """`value ?? otherwise()`: the right side is read only when the left is null or undefined."""
    return otherwise() if _nullish(value) else value


# --- lib/check.js: ViolationCheck ----------------------------------------------------------------


def _violation_check(rule_check: Any, template_path: Any) -> list[Violation]:
    """ViolationCheck(ruleCheck, templatePath).processCheck(): one violation per fix message, each with the
    resources (and, per resource, the property paths) that failed the rule's checks with that message."""
    checks = _get(rule_check, "checks")
    if not isinstance(checks, list):
        raise _unreadable(checks, "call forEach of")
    description: Any = UNDEFINED  # this.violation.description
    fix: Any = UNDEFINED  # this.violation.fix
    # this.violatingResources: fix -> (the description when the fix was first seen, logical id -> locations)
    by_fix: dict[str, tuple[Any, dict[Any, list[str]]]] = {}
    for check in checks:
        custom_message = _message(check, "custom_message")
        description, fix = _read_custom_message(custom_message, description, fix)
        # setViolatingResources
        if not _truthy(description):
            description = custom_message if _truthy(custom_message) else _message(check, "error_message")
        if _nullish(fix):  # this.violation.fix ?? check.messages?.custom_message ?? 'N/A'
            fix = "N/A" if _nullish(custom_message) else custom_message
        location = _get(_get(_get(check, "traversed"), "to"), "path")
        if not isinstance(location, str):
            raise _unreadable(location, "split")
        if not isinstance(fix, str):
            raise _unreadable(fix, "report as a fix")  # the CDK's PolicyViolation takes a string
        parts = location.split("/")
        resource_name = parts[2] if len(parts) > 2 else UNDEFINED
        if fix in by_fix:
            by_fix[fix][1].setdefault(resource_name, []).append(location)
        else:
            by_fix[fix] = (_or(description, lambda: ""), {resource_name: [location]})
    return [
        _violation(_get(rule_check, "name"), description, fix, template_path, resources)
        for fix, (description, resources) in by_fix.items()
    ]


def _read_custom_message(custom_message: Any, description: Any, fix: Any) -> tuple[Any, Any]:
    """processCheck: of a check's custom message, the "[FIX]: ..." line is the fix, any other line the description."""
    if not _truthy(custom_message):
        return description, fix
    if not isinstance(custom_message, str):
        raise _unreadable(custom_message, "split")
    for line in custom_message.split("\n"):
        message = _js_trim(line)
        if message.startswith("[FIX]"):
            fix = _FIX.sub("", message, count=1)
        elif message != "":
            description = message
    return description, fix


def _violation(
    rule_name: Any, description: Any, fix: str, template_path: Any, resources: dict[Any, list[str]]
) -> Violation:
    """processCheck's result for one fix; what the CDK's PolicyViolation would refuse (a value that is not a string
    where it takes one: a resource without a logical id, say) is refused here."""
    for value in (rule_name, description, template_path, *resources):
        if not isinstance(value, str):
            raise _unreadable(value, "report as a string")
    return Violation(
        rule_name=rule_name,
        description=description,
        fix=fix,
        resources=tuple(
            ViolatingResource(template_path, logical_id, tuple(locations))
            for logical_id, locations in resources.items()
        ),
    )


def _message(check: Any, kind: str) -> Any:
    """`check.messages?.<kind>`."""
    messages = _get(check, "messages")
    return UNDEFINED if _nullish(messages) else _get(messages, kind)
