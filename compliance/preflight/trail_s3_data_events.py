"""TrailS3DataEvents: a trail of the account baseline logs S3 data events for every bucket.

AWS Config's `cloudtrail-s3-dataevents-enabled`, in the FedRAMP Moderate pack the Baseline
deploys, is NON_COMPLIANT until one trail of the account logs Amazon S3 data events for all
buckets. A trail this app creates does so, or the account is non-compliant against its own
baseline on the day it is deployed. Either form counts: a classic event selector with the data
resource `AWS::S3::Object` on `arn:<partition>:s3` (every bucket), or an advanced event selector
for the `Data` category and `AWS::S3::Object` that no `resources.ARN` field narrows.
"""

from __future__ import annotations

import re
from typing import Any

from compliance.assembly import ResourceView
from compliance.preflight.base import Context, PreflightRule, Verdict
from compliance.references import render

# `arn:aws:s3`, `arn:aws:s3:::` or the same with the partition as a pseudo-parameter: every bucket.
_ALL_BUCKETS = re.compile(r"^arn:(aws[a-z-]*|<AWS::Partition>):s3(:::)?$")


def trail_s3_data_events(resource: ResourceView, ctx: Context) -> Verdict:
    """The trail logs data events of every S3 bucket, read and write."""
    if resource.type != "AWS::CloudTrail::Trail":
        return Verdict.not_applicable()
    if any(_classic_covers_all(s) for s in resource.properties.get("EventSelectors", []) or []):
        return Verdict.ok()
    if any(_advanced_covers_all(s) for s in resource.properties.get("AdvancedEventSelectors", []) or []):
        return Verdict.ok()
    return Verdict.fail(
        "no-s3-data-events",
        "the trail logs no S3 data events for all buckets, so AWS Config's cloudtrail-s3-dataevents-enabled in the "
        "account's FedRAMP Moderate pack is NON_COMPLIANT from the first day; log them with "
        "trail.log_all_s3_data_events() (an event selector for AWS::S3::Object on arn:<partition>:s3)",
    )


def _classic_covers_all(selector: dict[str, Any]) -> bool:
    if selector.get("ReadWriteType", "All") != "All":
        return False
    return any(
        data.get("Type") == "AWS::S3::Object" and any(_ALL_BUCKETS.match(render(v)) for v in data.get("Values", []))
        for data in selector.get("DataResources", []) or []
    )


def _advanced_covers_all(selector: dict[str, Any]) -> bool:
    fields = {f.get("Field"): f for f in selector.get("FieldSelectors", []) or []}
    category = fields.get("eventCategory", {}).get("Equals", [])
    resource_type = fields.get("resources.type", {}).get("Equals", [])
    narrowed = "resources.ARN" in fields or "readOnly" in fields
    return "Data" in category and "AWS::S3::Object" in resource_type and not narrowed


RULE = PreflightRule(
    "TrailS3DataEvents",
    frozenset({"AWS::CloudTrail::Trail"}),
    trail_s3_data_events,
    "A trail of the account baseline that does not log S3 data events for every bucket leaves the account "
    "NON_COMPLIANT with AWS Config's cloudtrail-s3-dataevents-enabled, a rule of the pack the baseline deploys.",
    ("AU-2", "AU-12"),
    shortdesc="a trail that does not log S3 data events of every bucket",
)
