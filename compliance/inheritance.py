"""The controls a stage inherits when a landing zone, not this app, runs a service of the account baseline.

Under AWS Control Tower, or where a delegated administrator enables Security Hub or GuardDuty
across the organisation, a stage turns those singletons off (`account_baseline`), and says
who runs them (`{inherited_from: ...}`). The controls that only the stage's own resources of
that service evidenced at synth are then the provider's responsibility: inherited (leveraged),
not "not checked at synth".

`data/inherited-controls.tsv` is the reviewed table, one row per service and control:

- `service`: a service of the account baseline (`cloudtrail`, `config`, `security_hub`,
  `guardduty`), as `account_baseline` names it.
- `control`: the OSCAL id of a FedRAMP Moderate control (`au-7.1`) that this app's own
  resources of that service evidence at synth, or `-` for a service whose resources evidence
  none (the row records that it was reviewed).
- `label`: the control's printed label (`AU-7(1)`), for the reader.
- `resources`: the constructs of the Baseline stack, by id, whose evaluations evidence it
  (`Trail`; `Audit`, the audit bucket pair that the trail and the Config recorder share), comma-separated.

tests/compliance/test_inheritance.py holds the table to a synth of the fixture app: in a stage
that deploys the service, every control evidenced only through the service's resources has a
row, and each row's resources do evidence its control. Standard library only.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

NONE = "-"


@dataclass(frozen=True)
class ServiceControl:
    """One row of the table: a control the service's own resources evidence at synth, and which of them do."""

    service: str
    control: str
    label: str
    resources: tuple[str, ...]


@cache
def table() -> tuple[ServiceControl, ...]:
    """Every row of data/inherited-controls.tsv, the `-` rows of services that evidence nothing included."""
    text = resources.files("compliance.data").joinpath("inherited-controls.tsv").read_text("utf-8")
    return tuple(
        ServiceControl(
            row["service"],
            row["control"],
            row["label"],
            tuple(r.strip() for r in row["resources"].split(",") if r.strip() not in ("", NONE)),
        )
        for row in csv.DictReader(text.splitlines(), delimiter="\t")
    )


@cache
def service_controls() -> dict[str, frozenset[str]]:
    """Service -> the control ids its own resources evidence at synth (empty for a service that evidences none)."""
    listed: dict[str, set[str]] = {}
    for row in table():
        controls = listed.setdefault(row.service, set())
        if row.control != NONE:
            controls.add(row.control)
    return {service: frozenset(controls) for service, controls in listed.items()}


def inheritable(inherited: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Control id -> its providers, for a stage that leaves `inherited` (service -> provider) to its landing zone.

    A control listed for two inherited services carries both providers, in the order of the services.
    """
    providers: dict[str, list[str]] = {}
    for service, provider in inherited.items():
        for control in service_controls().get(service, frozenset()):
            entry = providers.setdefault(control, [])
            if provider not in entry:
                entry.append(provider)
    return {control: tuple(entry) for control, entry in providers.items()}
