"""The compliance outputs rendered from the committed findings fixture, byte for byte as committed.

`tests/fixtures/golden/` holds a findings.json (a cut-down model of the fixture layout's synth) and
what the renderers made of it. Nothing is masked: every field that carries the run's identity (its
commit, configuration hash and time, and the OSCAL uuids and timestamps derived from them) comes
from the fixture, not from the machine or the clock. `make golden` renders them again after a change
that means to change them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.oscal.validation import problems
from scripts.golden import FINDINGS, GOLDEN, render


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("golden")
    render(GOLDEN / FINDINGS, directory)
    return directory


def test_the_renderers_write_exactly_the_golden_files(rendered: Path) -> None:
    assert sorted(p.name for p in rendered.iterdir()) == sorted(p.name for p in GOLDEN.iterdir())


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.iterdir()))
def test_each_output_is_byte_identical_to_its_golden_file(rendered: Path, name: str) -> None:
    assert (rendered / name).read_bytes() == (GOLDEN / name).read_bytes(), f"{name}: make golden, review the diff"


def test_the_golden_oscal_documents_are_valid_and_as_compliance_trestle_writes_them() -> None:
    assert problems(GOLDEN) == []
