"""AWS Control Tower's proactive controls, run at synth by the `cdklabs.cdk-validator-cfnguard` plugin.

Accounts in a FedRAMP boundary are usually governed by Control Tower, whose proactive
controls are CloudFormation hooks: a deployment that breaks an enabled control fails
minutes in, during the stack update. The plugin runs the same Guard rules over the
synthesized templates, so the failure shows at synth instead.

Two differences from the hooks matter, and this module is where they are handled:

- The hook ignores acknowledgments. At synth, an acknowledgment (made with
  `compliance.acknowledge`, finding id `ControlTower::CT.S3.PR.4`) is given to the CDK under
  the plugin's own rule name (`validation_id`), so the CDK suppresses the violation and the
  CDK CLI accepts the assembly; the report lists every acknowledged control the
  organisational unit must leave disabled, because an acknowledged finding still fails the
  hook wherever the control is enabled.
- The plugin reads the template as written; the hook sees resource properties after
  CloudFormation has resolved them. A key or subnet referenced from another stack of
  the stage (`Fn::ImportValue`) is a finding at synth and passes at deploy; such an
  acknowledgment carries a check that proves the reference resolves to the right kind
  of resource, and the report does not count it among the controls to disable.

The catalogue of controls is read from the files bundled in the installed plugin, so it is
the list that actually ran (`config.control_tower_controls` reads them, and checks
configuration's ids against them): from each control's metadata file its id, title,
evaluated resource types and the NIST 800-53 Rev 5 controls Control Tower maps it to; from
its Guard file the rule the plugin names violations after and every type the rule reads.
The plugin itself is built by `compliance.control_tower_validator`, and the controls as
rules citing their NIST controls by `compliance.catalogue.control_tower_rules`. Standard
library only: nothing here starts jsii.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from config.control_tower_controls import CONTROL_DESCRIPTION, ControlMetadata, guard_files, metadata
from config.control_tower_controls import CONTROL_ID as CONTROL_ID  # the id's form, as configuration checks it
from config.control_tower_controls import CONTROL_ID_PATTERN as CONTROL_ID_PATTERN

if TYPE_CHECKING:
    from compliance.assembly import Violation

PLUGIN_NAME = "cdk-validator-cfnguard"  # pluginName in the CDK's validation report
PACK = "ControlTower"
FINDING_PREFIX = f"{PACK}::"
# cfn-guard prints its whole result for every template on stdout; Node's default child-process buffer (1 MiB)
# truncates it on templates of our size, and the plugin then reports nothing for them.
MAX_BUFFER_BYTES = 256 * 1024 * 1024

_DESCRIPTION = CONTROL_DESCRIPTION
_TYPE_LITERAL = re.compile(r"[\"'](AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)[\"']")
# The rule that judges a CloudFormation template; the plugin names its violations after it.
_TEMPLATE_RULE = re.compile(r"^rule\s+(\w+)\s+when\s+is_cfn_template\(", re.MULTILINE)


@dataclass(frozen=True)
class Control:
    """One proactive control: its Control Tower id, the Guard rule that implements it, what it reads and maps to."""

    control_id: str  # "CT.S3.PR.1", the id Control Tower's console and API use
    rule: str  # "s3_bucket_level_public_access_prohibited_check", the rule name in the plugin's findings
    file_stem: str  # "ct-s3-pr-1", what the plugin's `disabledRules` takes
    resource_types: tuple[str, ...]  # what it reports on: the metadata's evaluated resource types
    description: str  # its title, as the metadata and its violations' messages give it
    nist: tuple[str, ...] = ()  # the NIST 800-53 Rev 5 controls its metadata maps it to: "AC-6(10)"
    # Every resource type its Guard rule names, reported on or only referenced (a log group's key): a template
    # with none of them cannot fail the control, and the rule reads the properties of resources of these only
    # (so its run's copies of a template keep those; `compliance.control_tower_validator`).
    queried_types: frozenset[str] = frozenset()
    code: str = field(default="", repr=False, compare=False)  # the Guard file without its comments

    def applies_to(self, types: Iterable[str]) -> bool:
        """Whether a template with resources of `types` can fail this control."""
        return not self.queried_types.isdisjoint(types)

    @property
    def finding(self) -> str:
        """The finding id acknowledgments and reports use: `ControlTower::CT.S3.PR.1`."""
        return FINDING_PREFIX + self.control_id


@cache
def controls() -> tuple[Control, ...]:
    """Every Control Tower control bundled with the installed plugin, from its metadata and Guard files."""
    guards = dict(guard_files())
    missing = [m.file_stem for m in metadata() if m.file_stem not in guards]
    if missing:
        raise ValueError(f"the plugin bundles metadata but no Guard file for {', '.join(missing)}")
    return tuple(_control(m, guards[m.file_stem]) for m in metadata())


def _control(described: ControlMetadata, text: str) -> Control:
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    # The plugin names a violation after the rule that judges the template; its comments' "Rule Name" is prose.
    named = _TEMPLATE_RULE.findall(code)
    if not named:
        raise ValueError(f"{described.file_stem}.guard: no rule of the form `rule <name> when is_cfn_template(...)`")
    return Control(
        control_id=described.control_id,
        rule=named[0],
        file_stem=described.file_stem,
        resource_types=described.resource_types,
        description=described.title,
        nist=described.nist,
        queried_types=frozenset(_TYPE_LITERAL.findall(code)) | set(described.resource_types),
        code=code,
    )


# Per app, the templates the plugin has validated: a plugin with nothing to report is left out of the CDK's report,
# so whether it ran is recorded here (`ran_on`). An app that is gone takes its entry with it.
_VALIDATED: weakref.WeakKeyDictionary[object, set[Path]] = weakref.WeakKeyDictionary()


def record_run(app: object, template_paths: Iterable[str]) -> None:
    """Note that the controls ran over these templates of `app` (called by the plugin as its run starts)."""
    _VALIDATED.setdefault(app, set()).update(Path(p).resolve() for p in template_paths)


def ran_on(app: object, templates: Iterable[Path]) -> bool:
    """Whether the controls ran over every one of `templates` (an assembly's stack templates) in `app`'s synth."""
    validated = _VALIDATED.get(app, set())
    wanted = [t.resolve() for t in templates]
    return bool(wanted) and all(t in validated for t in wanted)


def by_id() -> dict[str, Control]:
    return {c.control_id: c for c in controls()}


def validation_id(finding: str) -> str:
    """The id the CDK suppresses a violation of the plugin by: 'ControlTower::CT.S3.PR.4' ->
    'cdk-validator-cfnguard::s3_bucket_event_notifications_check' (plugin name and Guard rule name).

    With it the CDK moves the violation to the report's suppressed violations, so the plugin's
    conclusion is a success and the CDK CLI (`cdk synth`, `diff`, `deploy`, the pipeline's
    self-mutation) accepts the assembly; without it every acknowledged control fails the CLI.
    """
    control = by_id().get(finding.removeprefix(FINDING_PREFIX))
    if control is None:
        raise ValueError(f"{finding!r} names no control the installed Control Tower plugin bundles")
    return f"{PLUGIN_NAME}::{control.rule}"


def finding_of(description: str) -> str | None:
    """The finding id of a plugin violation, from its description ('[CT.S3.PR.4]: Require ...'); None if none."""
    described = _DESCRIPTION.search(description)
    return FINDING_PREFIX + described.group(1) if described else None


def read_violation(violation: Violation) -> tuple[str, str]:
    """(control id, message) of one of the plugin's violations: '[CT.S3.PR.4]: Require ...' -> 'CT.S3.PR.4'.

    The plugin names a violation after its Guard rule; the control id is in its description.
    """
    described = _DESCRIPTION.search(violation.description)
    control = described.group(1) if described else violation.rule
    return control, violation.description.split("]:", 1)[-1].strip()


def unknown(control_ids: Iterable[str]) -> list[str]:
    """The ids among `control_ids` that name no control the installed plugin bundles."""
    known = by_id()
    return [c for c in control_ids if c not in known]
