"""Results accumulate: two assessment-results documents merged into one that holds every result of both.

A result is kept once however often it comes (merging is idempotent), ordered by its start; a
uuid that names two different things in the two documents is refused, as is any uuid that would
then name two things in the merged document (OSCAL requires each to be unique). The merged
document takes the newest result's plan and metadata, a uuid derived from the results it holds,
and the union of the back-matter (a template's resource is named by its content, so one that two
runs share is kept once).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from trestle.oscal import assessment_results as ar

from compliance.oscal.base import subject_uuid

ROOT = "assessment-results"


class MergeError(ValueError):
    """The documents cannot be one: a uuid that names two different things."""


def _union(first: list[dict[str, Any]], second: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """Items by uuid, each once; the same uuid with other content is refused."""
    found: dict[str, dict[str, Any]] = {}
    for item in [*first, *second]:
        known = found.setdefault(item["uuid"], item)
        if known != item:
            raise MergeError(f"{what} {item['uuid']} differs between the two documents")
    return list(found.values())


def _start(result: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(result["start"]).replace("Z", "+00:00"))


def _uuids(node: object) -> Iterator[str]:
    """Every uuid the document defines (the value of a `uuid` key; references have other keys)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uuid" and isinstance(value, str):
                yield value
            else:
                yield from _uuids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _uuids(value)


def merge_results(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One assessment-results document (as JSON) with the results of `first` and of `second`."""
    a, b = first[ROOT], second[ROOT]
    results = sorted(_union(a["results"], b["results"], "result"), key=lambda r: (_start(r), r["uuid"]))
    newest = b if max(map(_start, b["results"])) >= max(map(_start, a["results"])) else a
    merged: dict[str, Any] = {
        "uuid": subject_uuid("merged-results", *sorted(r["uuid"] for r in results)),
        "metadata": {**newest["metadata"], "title": f"{newest['metadata']['title']} ({len(results)} runs)"},
        "import-ap": newest["import-ap"],
        "results": results,
    }
    if "local-definitions" in newest:
        merged["local-definitions"] = newest["local-definitions"]
    resources = _union(
        a.get("back-matter", {}).get("resources", []), b.get("back-matter", {}).get("resources", []), "resource"
    )
    if resources:
        merged["back-matter"] = {"resources": resources}
    repeated = [u for u, n in Counter(_uuids(merged)).items() if n > 1]
    if repeated:
        raise MergeError(f"{len(repeated)} uuid(s) would name more than one thing, e.g. {repeated[0]}")
    ar.AssessmentResults.model_validate(merged)
    return {ROOT: merged}


def merge_files(paths: list[Path], output: Path) -> int:
    """Merge the results documents at `paths`, in order, into `output`; the number of results it holds."""
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    merged = documents[0]
    for document in documents[1:]:
        merged = merge_results(merged, document)
    output.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8", newline="\n")
    return len(merged[ROOT]["results"])
