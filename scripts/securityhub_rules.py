"""`make securityhub-rules`: the optional stacks of Security Hub automation rules, for the administrator account.

`make synth` writes `cdk.out/compliance/securityhub-automation-rules.json`: one automation rule
per Security Hub control, region and reason that an acknowledgment of this app accepts. This
script synthesizes them as CloudFormation stacks into their own assembly (never into the
pipeline's, whose evidence manifest it would change): one stack per region, or, with
`--home-region`, one stack in the Security Hub home region, whose rules apply to its linked
regions too. Deploy with the administrator account's credentials:

    make securityhub-rules                      # or: make securityhub-rules HOME_REGION=us-east-1
    npx cdk deploy --app securityhub.out --all --parameters <Stack>:<Name>=<physical id> ...

Each parameter is a physical id CloudFormation generated in a stage account; its description
(and the document's `parameters`) gives the command that reads it there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.assembly import OUTPUT_DIRECTORY, CloudAssembly  # noqa: E402
from compliance.outputs.securityhub_rules import DOCUMENT_FILE  # noqa: E402
from compliance.securityhub import FIRST_RULE_ORDER, RULES_PER_REGION  # noqa: E402

STACK_PREFIX = "SecurityHubAutomation"


def stacks_of(document: dict[str, Any], *, home_region: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Stack region -> its rules: one stack per region, or every rule in the home region's stack."""
    regions: dict[str, list[dict[str, Any]]] = {r: e["rules"] for r, e in document["regions"].items()}
    if home_region is None:
        return regions
    merged = [
        {**rule, "RuleOrder": order}
        for order, rule in enumerate((r for rules in regions.values() for r in rules), start=FIRST_RULE_ORDER)
    ]
    return {home_region: merged} if merged else {}


def build(document: dict[str, Any], outdir: Path, *, home_region: str | None = None) -> Any:
    """The app holding one automation-rule stack per region (imports the CDK only when called)."""
    import aws_cdk as cdk

    from stacks.securityhub_automation import SecurityHubAutomationStack

    app = cdk.App(outdir=str(outdir))
    for region, rules in stacks_of(document, home_region=home_region).items():
        if len(rules) > RULES_PER_REGION:
            raise SystemExit(
                f"{region}: {len(rules)} automation rules, more than the {RULES_PER_REGION} Security Hub allows an "
                "administrator account per region"
            )
        SecurityHubAutomationStack(
            app,
            f"{STACK_PREFIX}-{region}",
            rules=rules,
            parameters=document["parameters"],
            env=cdk.Environment(region=region),
            description="Security Hub automation rules for the compliance acknowledgments of the monitoring app",
        )
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assembly", default=str(ROOT / OUTPUT_DIRECTORY), help="the assembly make synth wrote")
    parser.add_argument("--output", default=str(ROOT / "securityhub.out"), help="where to write the stacks")
    parser.add_argument("--home-region", help="the Security Hub home region: one stack there, for every region")
    args = parser.parse_args(argv)
    source = CloudAssembly(args.assembly).report_directory / DOCUMENT_FILE
    if not source.exists():
        print(f"{source} is missing: run make synth first", file=sys.stderr)
        return 2
    document = json.loads(source.read_text(encoding="utf-8"))
    build(document, Path(args.output), home_region=args.home_region).synth()
    stacks = stacks_of(document, home_region=args.home_region)
    for region, rules in stacks.items():
        print(f"{STACK_PREFIX}-{region}: {len(rules)} automation rule(s)")
    print(f"Assembly: {args.output} ({len(document['parameters'])} physical id parameter(s) in the document)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
