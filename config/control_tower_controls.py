"""Facts about the Control Tower proactive controls that configuration is checked against, read from the plugin.

`control_tower.disabled_controls` names controls by their Control Tower id (`CT.S3.PR.4`); an id the
installed `cdklabs.cdk-validator-cfnguard` does not bundle is refused when the file is read. The plugin
bundles one Guard file per control, and each file states its id; they are read here from the plugin's
jsii bundle without importing the plugin (which would start jsii), standard library only. What a control
reads and how its findings are named is `compliance.control_tower`'s, which parses the same files.
"""

from __future__ import annotations

import importlib.util
import re
import tarfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path

CONTROL_ID_PATTERN = r"CT\.[A-Z0-9-]+\.PR\.\d+"
CONTROL_ID = re.compile(f"^{CONTROL_ID_PATTERN}$")
# The line of a Guard file, and of a violation's description, that names its control: "[CT.S3.PR.4]: Require ...".
CONTROL_DESCRIPTION = re.compile(r"^\s*\[(CT\.[A-Z0-9-]+\.PR\.\d+)\]:\s*(.+?)\s*$", re.MULTILINE)
_RULES_DIRECTORY = "package/rules/control-tower/cfn-guard/"


@cache
def guard_files() -> tuple[tuple[str, str], ...]:
    """(file stem, text) of every Guard file of the installed plugin's Control Tower rules."""
    bundle = next(_jsii_directory().glob("*.tgz"))
    found: list[tuple[str, str]] = []
    with tarfile.open(str(Path(str(bundle))), "r:gz") as archive:
        for member in archive.getmembers():
            if not (member.isfile() and member.name.startswith(_RULES_DIRECTORY) and member.name.endswith(".guard")):
                continue
            extracted = archive.extractfile(member)
            if extracted is not None:
                found.append((Path(member.name).stem, extracted.read().decode("utf-8")))
    return tuple(found)


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
    return frozenset(m.group(1) for _, text in guard_files() if (m := CONTROL_DESCRIPTION.search(text)))


def unknown(control_ids: Iterable[str]) -> list[str]:
    """The ids among `control_ids` that name no control the installed plugin bundles."""
    known = bundled_control_ids()
    return [c for c in control_ids if c not in known]
