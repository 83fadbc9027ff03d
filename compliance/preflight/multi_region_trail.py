"""MultiRegionTrail: a trail of the account baseline records every region's read and write management events.

AWS Config's `multi-region-cloudtrail-enabled`, in the FedRAMP Moderate pack the Baseline
deploys, asks for at least one trail that is multi-region, logging, and records management
events, reads and writes, without excluding an event source. A trail this app creates is
such a trail, so the account complies with its own baseline from the first day.
"""

from __future__ import annotations

from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict


def multi_region_trail(resource: ResourceView, ctx: Context) -> Verdict:
    """The trail is multi-region, logging, and records all management events."""
    if resource.type != "AWS::CloudTrail::Trail":
        return Verdict.not_applicable()
    props = resource.properties
    missing = []
    if props.get("IsMultiRegionTrail") is not True:
        missing.append("IsMultiRegionTrail is not true")
    if props.get("IsLogging") is False:
        missing.append("IsLogging is false")
    if not _records_all_management_events(props):
        missing.append("no event selector records read and write management events without exclusions")
    if not missing:
        return Verdict.ok()
    return Verdict.fail(
        "single-region" if "IsMultiRegionTrail is not true" in missing else "management-events",
        f"{'; '.join(missing)}: AWS Config's multi-region-cloudtrail-enabled in the account's FedRAMP Moderate "
        "pack needs one multi-region trail recording all management events; create the trail with "
        "is_multi_region_trail=True and management_events=ReadWriteType.ALL",
    )


def _records_all_management_events(props: dict[str, Any]) -> bool:
    classic = props.get("EventSelectors")
    advanced = props.get("AdvancedEventSelectors")
    if not classic and not advanced:
        return True  # CloudTrail's default: every management event, reads and writes
    for selector in classic or []:
        if (
            selector.get("IncludeManagementEvents", True) is not False
            and selector.get("ReadWriteType", "All") == "All"
            and not selector.get("ExcludeManagementEventSources")
        ):
            return True
    for selector in advanced or []:
        fields = {f.get("Field"): f for f in selector.get("FieldSelectors", []) or []}
        if fields.get("eventCategory", {}).get("Equals") == ["Management"] and set(fields) == {"eventCategory"}:
            return True
    return False


RULE = PreflightRule(
    "MultiRegionTrail",
    frozenset({"AWS::CloudTrail::Trail"}),
    multi_region_trail,
    "A trail of the account baseline that is not multi-region or does not record every management event "
    "leaves the account NON_COMPLIANT with AWS Config's multi-region-cloudtrail-enabled, a rule of the pack "
    "the baseline deploys.",
    ("AU-2", "AU-12"),
    shortdesc="a trail that is single-region or misses read or write management events",
)
