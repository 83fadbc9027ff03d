"""What the OSCAL documents of one synth share: identifiers, metadata, the pinned profile, statuses in OSCAL's terms.

Identifiers are derived, never random, so the same model renders the same bytes (the golden
outputs), and they come in two kinds:

- a subject's uuid (a component, a party, a control's implemented requirement, a POA&M item's
  deviation) is the same in every run: OSCAL asks that such a uuid be "assigned per-subject",
  consistently across revisions;
- a run's uuid (a document, a result, its observations, findings, risks and tools) is derived from
  the run's identity: the commit, whether the tree had uncommitted changes, the configuration's
  sha256 and the time. Two synths never share one, even of the same commit, so the results of two
  runs merge into one valid document (`compliance.oscal.merge`).

Each is a SHA-256 of its name cut to a version-4 uuid (122 bits, RFC 4122 variant). OSCAL accepts
versions 4 and 5, but compliance-trestle's authoring commands (`trestle author ssp-generate`,
`ssp-assemble`) read components, implemented requirements, statements and by-components through
models that accept version 4 only (trestle/core/generic_oscal.py, `_UUID_PATTERN`; its `UUID_REGEX`,
which finds `#uuid` links, is version 4 only too): a name-based version-5 uuid fails there.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
from trestle.oscal import OSCAL_VERSION

from compliance.model import ComplianceModel, Control, ControlStatus, Rule

COMPONENT_DEFINITION = "component-definition.json"
SYSTEM_SECURITY_PLAN = "system-security-plan.json"
ASSESSMENT_PLAN = "assessment-plan.json"
ASSESSMENT_RESULTS = "assessment-results.json"
POAM = "plan-of-action-and-milestones.json"
# Each document's root key, OSCAL's name for its model.
ROOTS = {
    COMPONENT_DEFINITION: "component-definition",
    SYSTEM_SECURITY_PLAN: "system-security-plan",
    ASSESSMENT_PLAN: "assessment-plan",
    ASSESSMENT_RESULTS: "assessment-results",
    POAM: "plan-of-action-and-milestones",
}
NS = "urn:fedramp-monitoring:compliance"  # the namespace of this project's own OSCAL properties
# FedRAMP's extension namespace (GSA/fedramp-automation's templates; automate.fedramp.gov's guides).
FEDRAMP_NS = "https://fedramp.gov/ns/oscal"
NIST_NS = "http://csrc.nist.gov/ns/oscal"
PIPELINE, WORKLOAD = "Pipeline", "Workload"
COMPONENTS = {
    PIPELINE: "Delivery pipeline: CodePipeline, its builds, artifact store, keys and approvals",
    WORKLOAD: "Monitoring workload: every stage's network, data, service, observability and account baseline",
}
GATE = "compliance gate"  # this project's own evaluation: Preflight, the claims, the statuses


@dataclass(frozen=True)
class PinnedProfile:
    """A profile by a URL that cannot move (a commit, named by its release tag) and the SHA-256 of its bytes."""

    href: str
    tag: str
    commit: str
    sha256: str
    version: str  # the profile's own metadata/version
    title: str


# GSA's FedRAMP Rev 5 Moderate baseline profile, which the control ids come from (its 323 controls are
# compliance/data/fedramp-moderate-rev5-controls.tsv), at release tag fedramp-2.0.0-oscal-1.0.4. The digest is
# of the file's bytes at that commit (1,204,545 bytes); it imports NIST's SP 800-53 Rev 5.1.1 catalog.
BASELINE_PROFILE = PinnedProfile(
    href=(
        "https://raw.githubusercontent.com/GSA/fedramp-automation/73aa345737d03fa49dcb0485481c5778038d4d36/"
        "dist/content/rev5/baselines/json/FedRAMP_rev5_MODERATE-baseline_profile.json"
    ),
    tag="fedramp-2.0.0-oscal-1.0.4",
    commit="73aa345737d03fa49dcb0485481c5778038d4d36",
    sha256="5db32cd3c31c3450c03168edd3db26641324c15971edf52163d2310ccdaa925f",
    version="fedramp2.1.0-oscal1.0.4",
    title="FedRAMP Rev 5 Moderate Baseline",
)


def subject_uuid(*parts: str) -> str:
    """The uuid of a subject named by `parts`: the same in every run."""
    digest = hashlib.sha256("/".join((NS, *parts)).encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass(frozen=True)
class Outcome:
    """A synth status in OSCAL's terms: a finding's objective state and reason, an SSP implementation status."""

    state: str  # "satisfied" | "not-satisfied"
    reason: str  # "pass" | "fail" | "other"
    implementation: str  # "implemented" | "partial" | "planned" | "alternative" | "not-applicable"


# The one table from a control's status at synth to OSCAL. A status it does not name is not assessed at synth (no
# finding; the SSP leaves its implementation status to the team): not checked, inherited from a landing zone. Only a
# control evidenced at synth is satisfied; a deviation, requested or approved, never is: beside passes it is a partial
# implementation, alone an alternative one (the acknowledgment's compensating control), and its deviations are risks
# and POA&M items.
OUTCOMES: dict[ControlStatus, Outcome] = {
    ControlStatus.EVIDENCED: Outcome("satisfied", "pass", "implemented"),
    ControlStatus.PARTIAL_APPROVED: Outcome("not-satisfied", "other", "partial"),
    ControlStatus.PARTIAL_REQUESTED: Outcome("not-satisfied", "other", "partial"),
    ControlStatus.DEVIATION_APPROVED: Outcome("not-satisfied", "other", "alternative"),
    ControlStatus.DEVIATION_REQUESTED: Outcome("not-satisfied", "other", "alternative"),
    ControlStatus.FAILING: Outcome("not-satisfied", "fail", "partial"),
}


def outcome(control: Control) -> Outcome | None:
    return OUTCOMES.get(control.status)


@dataclass(frozen=True)
class Stamp:
    """The run the documents are of, as they name it, and the uuids that are this run's alone."""

    commit: str
    uncommitted: bool
    config_sha256: str
    time: datetime
    tools: dict[str, str]
    pipeline: tuple[str, str]  # account, region
    stages: dict[str, tuple[str, str]]  # stage -> (account, region), in promotion order

    @staticmethod
    def of(model: ComplianceModel) -> Stamp:
        run = model.run
        if run is None:
            return Stamp("unrecorded", False, "", datetime(1970, 1, 1, tzinfo=UTC), {}, ("", ""), {})
        stages = {name: _account_region(where) for name, where in run.stages.items()}
        when = datetime.fromisoformat(run.time.replace("Z", "+00:00"))
        pipeline = (run.pipeline_account, run.pipeline_region)
        return Stamp(run.commit, run.uncommitted, run.config_sha256, when, dict(run.tools), pipeline, stages)

    def uuid(self, *parts: str) -> str:
        """A uuid of this run alone: two synths of one commit, or of a commit and its edited tree, never share one."""
        tree = "uncommitted" if self.uncommitted else "committed"
        return subject_uuid("run", self.commit, tree, self.config_sha256, self.time.isoformat(), *parts)

    @property
    def version(self) -> str:
        """The documents' version: the commit, marked where the files built were not that commit's."""
        return f"{self.commit}+uncommitted" if self.uncommitted else self.commit

    @property
    def system_id(self) -> str:
        """The system's id until FedRAMP assigns one: a uuid of where its pipeline runs (stable across runs)."""
        return subject_uuid("system", *self.pipeline)


def _account_region(text: str) -> tuple[str, str]:
    account, _, region = text.partition(" ")
    return account, region


# OSCAL's string datatype, which a property's value is: one line, not empty, no whitespace at either end.
_STRING = re.compile(r"\S(.*\S)?")


def prop(name: str, value: str, *, ns: str = NS, remarks: str | None = None) -> dict[str, Any]:
    """A property, its keys in the order OSCAL's models give them. Its value is where text from outside this package
    (an acknowledgment's control labels, a configured provider, a tool's version) meets a constraint it could break:
    a value OSCAL would refuse fails here, by name. (The configuration's loader checks the SSP's names and titles.)"""
    if not _STRING.fullmatch(value):
        raise ValueError(
            f"OSCAL property {name}: {value!r} is empty, is more than a line, or starts or ends with a space"
        )
    found: dict[str, Any] = {"name": name, "ns": ns, "value": value}
    if remarks:
        found["remarks"] = remarks
    return found


def oscal_json(name: str, document: dict[str, Any]) -> bytes:
    """The file `name` holding `document` under its root key, as compliance-trestle writes a model (orjson, two
    spaces of indent, UTF-8) and a line end."""
    return orjson.dumps({ROOTS[name]: document}, option=orjson.OPT_INDENT_2) + b"\n"


def present(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` without those that are None: an optional field OSCAL leaves out (null, or an empty list, is
    invalid), as compliance-trestle's serialization drops it."""
    return {key: value for key, value in fields.items() if value is not None}


def timestamp(when: datetime) -> str:
    """A date-time as compliance-trestle writes one: to the second, in UTC, with the offset `+00:00`."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def metadata(stamp: Stamp, title: str, **extra: Any) -> dict[str, Any]:
    """A document's metadata: its title, the run's time and version, the commit, configuration and tool versions."""
    props = None
    if stamp.commit != "unrecorded":  # a model without a run's identity (a test's) has none to name
        props = [
            prop("commit", stamp.commit),
            prop("working-tree", "uncommitted changes" if stamp.uncommitted else "as committed"),
            prop("configuration-sha256", stamp.config_sha256),
            *(prop("tool", f"{tool} {version}") for tool, version in stamp.tools.items()),
        ]
    return present(
        {
            "title": title,
            "last-modified": timestamp(stamp.time),
            "version": stamp.version,
            "oscal-version": OSCAL_VERSION,
            "props": props,
            **extra,
        }
    )


def profile_resource() -> dict[str, Any]:
    """The pinned baseline profile as a back-matter resource: its URL, its SHA-256, its release."""
    return {
        "uuid": subject_uuid("profile", BASELINE_PROFILE.sha256),
        "title": BASELINE_PROFILE.title,
        "props": [prop("release-tag", BASELINE_PROFILE.tag), prop("profile-version", BASELINE_PROFILE.version)],
        "rlinks": [
            {
                "href": BASELINE_PROFILE.href,
                "media-type": "application/oscal+json",
                "hashes": [{"algorithm": "SHA-256", "value": BASELINE_PROFILE.sha256}],
            }
        ],
    }


def component_of(scope: str) -> str:
    return PIPELINE if scope == PIPELINE else WORKLOAD


# The tool behind each pack's findings, as `RunIdentity.tools` names it; any other pack is the gate's own.
_PACK_TOOLS = {
    "NIST.800.53.R5": "cdk-nag",
    "AwsSolutions": "cdk-nag",
    "ControlTower": "Control Tower rules",
    "CloudFormation-Validate": "cfn-lint",
}


def tool_of(pack: str) -> str:
    return _PACK_TOOLS.get(pack, GATE)


def tools(stamp: Stamp) -> dict[str, str]:
    """Every tool an origin may name -> its version (the gate's is the commit)."""
    return {GATE: stamp.version, **{t: stamp.tools.get(t, "unknown") for t in sorted(set(_PACK_TOOLS.values()))}}


def tool_uuid(stamp: Stamp, tool: str) -> str:
    return stamp.uuid("tool", tool)


def assessment_assets(stamp: Stamp) -> dict[str, Any]:
    """The tools of this run as components of an assessment platform: what an origin's actor names."""
    components = [
        {
            "uuid": tool_uuid(stamp, tool),
            "type": "software",
            "title": tool,
            "description": "This project's synth-time evaluation: Preflight, compensating-control claims, statuses"
            if tool == GATE
            else f"{tool}, as installed for the synth",
            "props": [prop("version", version)],
            "status": {"state": "operational"},
        }
        for tool, version in tools(stamp).items()
    ]
    return {
        "components": components,
        "assessment-platforms": [
            {
                "uuid": stamp.uuid("assessment-platform"),
                "title": "Synth: the CDK app synthesized, its templates evaluated",
                "uses-components": [{"component-uuid": c["uuid"]} for c in components],
            }
        ],
    }


def origins(stamp: Stamp, tool_names: Iterable[str]) -> list[dict[str, Any]]:
    """One origin whose actors are the tools named (each once, in order), the gate when none is."""
    names = list(dict.fromkeys(tool_names)) or [GATE]
    return [{"actors": [{"type": "tool", "actor-uuid": tool_uuid(stamp, name)} for name in names]}]


def rule_tools(rules: Iterable[Rule], ids: Iterable[str]) -> list[str]:
    """The tools of the rules `ids`, in the order the rules come."""
    pack = {r.rule: r.pack for r in rules}
    return [tool_of(pack.get(rule, "")) for rule in ids]


def as_datetime(value: object) -> datetime | None:
    """A review date as OSCAL writes a date-time (midnight UTC); None where there is none or it does not parse."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            return as_datetime(date.fromisoformat(value[:10]))
        except ValueError:
            return None
    return None
