"""Write the tables of Preflight's rules and of the claims in docs/compliance.md from the rules' own metadata.

    .venv/bin/python scripts/rule_tables.py           # rewrite the tables (make docs)
    .venv/bin/python scripts/rule_tables.py --check   # exit 1 if a committed table is stale

Each Preflight rule (`compliance.preflight.RULES` and `ASSEMBLY_RULES`) and each claim (a `Check` that
`compliance.checks` exports) carries what it catches or when it holds (`shortdesc`), the NIST 800-53
controls it evidences (`controls`) and the AWS documentation it rests on (`source_url`). A table sits
between two marker comments, `<!-- NAME:start -->` and `<!-- NAME:end -->`; the text around it is the
page's own. A test renders the tables in memory and compares them with the committed page.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as `python scripts/rule_tables.py`, the project's packages are not on the path yet.
    sys.path.insert(0, str(ROOT))

from compliance import checks  # noqa: E402
from compliance.claims.engine import Check  # noqa: E402
from compliance.preflight import ASSEMBLY_RULES, PACK, RULES, AssemblyRule, PreflightRule  # noqa: E402
from compliance.twins import twins_by_synth_rule  # noqa: E402

DOCUMENTS = (ROOT / "docs" / "compliance.md",)

# The claims' modules, in the order the table lists their domains.
DOMAINS = ("storage", "keys", "network", "transit", "api", "iam", "scope", "credentials", "compute")


def preflight_rules() -> list[PreflightRule | AssemblyRule]:
    """Every rule of the pack, once: a resource rule and the assembly rule of the same id are one row."""
    found: dict[str, PreflightRule | AssemblyRule] = {}
    every: list[PreflightRule | AssemblyRule] = [*RULES, *ASSEMBLY_RULES]
    for rule in every:
        found.setdefault(rule.rule_id, rule)
    return list(found.values())


def claims() -> list[type[Check]]:
    """Every claim `compliance.checks` exports, by domain, in the order its module defines them."""
    listed = [getattr(checks, name) for name in checks.__all__]
    found = [c for c in listed if isinstance(c, type) and issubclass(c, Check) and c is not Check]
    return sorted(found, key=lambda c: (DOMAINS.index(domain(c)), inspect.getsourcelines(c)[1]))


def domain(claim: type[Check]) -> str:
    return claim.__module__.rsplit(".", 1)[-1]


def signature(claim: type[Check]) -> str:
    """The claim as an acknowledgment writes it: its name and its own parameters (`on=` and `via=` are everyone's)."""
    names = [f.name for f in dataclasses.fields(claim) if f.name not in ("on", "via")]
    return f"{claim.__name__}({', '.join(names)})" if names else claim.__name__


def _controls(controls: tuple[str, ...]) -> str:
    return ", ".join(controls)


def _source(url: str) -> str:
    return f"[AWS]({url})" if url else ""


def _twins() -> dict[str, str]:
    """Preflight rule id -> the AWS Config rules it is the twin of, by their source identifiers."""
    return {
        rule: ", ".join(f"`{t.config_rule}`" for t in rows)
        for rule, rows in twins_by_synth_rule().items()
        if rule.startswith(f"{PACK}-")
    }


def tables() -> dict[str, list[str]]:
    """The rows of each table, by its marker name."""
    twin_of = _twins()
    rules = preflight_rules()
    own = ["| rule | catches | controls | source |", "|---|---|---|---|"]
    twinned = ["| rule | twin of | catches | controls | source |", "|---|---|---|---|---|"]
    for rule in rules:
        name = f"{PACK}-{rule.rule_id}"
        tail = f"{rule.shortdesc} | {_controls(rule.controls)} | {_source(rule.source_url)} |"
        if name in twin_of:
            twinned.append(f"| `{name}` | {twin_of[name]} | {tail}")
        else:
            own.append(f"| `{name}` | {tail}")
    claim_rows = ["| check | domain | holds when | controls | source |", "|---|---|---|---|---|"]
    for claim in claims():
        claim_rows.append(
            f"| `{signature(claim)}` | {domain(claim)} | {claim.shortdesc} | {_controls(claim.controls)} "
            f"| {_source(claim.source_url)} |"
        )
    return {"preflight-rules": own, "preflight-twins": twinned, "claims": claim_rows}


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def render(text: str) -> str:
    """`text` with each table between its markers written afresh; a page without a table's markers keeps none."""
    for name, rows in tables().items():
        start, end = _markers(name)
        pattern = re.compile(rf"^{re.escape(start)}\n.*?^{re.escape(end)}$", flags=re.S | re.M)
        block = "\n".join([start, *rows, end])
        found = pattern.search(text)
        if found:
            text = text[: found.start()] + block + text[found.end() :]
    return text


def marked(text: str) -> Iterator[str]:
    """The names of the tables `text` has markers for."""
    for name in tables():
        start, end = _markers(name)
        if start in text and end in text:
            yield name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a page's tables are not what the rules give")
    args = parser.parse_args(argv)
    stale = []
    for document in DOCUMENTS:
        current = document.read_text(encoding="utf-8")
        text = render(current)
        if text == current:
            continue
        if args.check:
            stale.append(document)
        else:
            document.write_text(text, encoding="utf-8")
    for document in stale:
        print(f"{document.relative_to(ROOT)} is stale: run make docs", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
