"""The runtime controls an account baseline deploys, and which baseline controls they monitor.

AWS's "Operational Best Practices for FedRAMP(Moderate)" conformance pack is a list
of AWS Config managed rules with default parameters (`data/config-rules-fedramp-
moderate.tsv`); the pack's template is built from that list. Which NIST controls a
Config rule monitors is read from its twin in cdk-nag's NIST 800-53 R5 pack (the twin
table, `compliance.twins`: S3_BUCKET_LOGGING_ENABLED is S3BucketLoggingEnabled), by
`compliance.catalogue.config_rule_controls`, which reads the pack: a Config rule without a
NIST twin monitors controls this report does not claim. This module is the table alone.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

CONFORMANCE_PACK = "FedRAMP(Moderate)"


@dataclass(frozen=True)
class ConfigRule:
    """One AWS Config managed rule of the conformance pack, with the parameters the pack sets."""

    source_identifier: str
    input_parameters: dict[str, str]

    @property
    def resource_name(self) -> str:
        """A CloudFormation logical id for the rule: 'S3_BUCKET_LOGGING_ENABLED' -> 'S3BucketLoggingEnabled'."""
        return "".join(part.capitalize() for part in self.source_identifier.split("_"))


@cache
def config_rules() -> tuple[ConfigRule, ...]:
    """The 129 managed rules of AWS's FedRAMP Moderate conformance pack."""
    text = resources.files("compliance.data").joinpath("config-rules-fedramp-moderate.tsv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    return tuple(
        ConfigRule(row["source_identifier"], json.loads(row["input_parameters"]) if row["input_parameters"] else {})
        for row in rows
    )


def pack_parameters(source_identifier: str) -> dict[str, str]:
    """The input parameters the pack sets for one of its rules ({} where it sets none)."""
    for rule in config_rules():
        if rule.source_identifier == source_identifier:
            return dict(rule.input_parameters)
    raise KeyError(f"{source_identifier} is not a rule of the {CONFORMANCE_PACK} conformance pack")


def conformance_pack_template() -> str:
    """The conformance pack's template body (JSON is valid YAML): one AWS::Config::ConfigRule per managed rule."""
    body = {
        "Resources": {
            rule.resource_name: {
                "Type": "AWS::Config::ConfigRule",
                "Properties": {
                    "ConfigRuleName": rule.source_identifier.lower().replace("_", "-"),
                    "Source": {"Owner": "AWS", "SourceIdentifier": rule.source_identifier},
                    **({"InputParameters": rule.input_parameters} if rule.input_parameters else {}),
                },
            }
            for rule in config_rules()
        }
    }
    return json.dumps(body, separators=(",", ":"))
