"""The catalogue is DESIGN.md's, ID for ID and level for level, and every
requirement has at least one check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fakemeta.contract_tests.checks  # noqa: F401 - registers the checks
from fakemeta.contract_tests.registry import CHECKS
from fakemeta.contract_tests.requirements import REQUIREMENTS

DESIGN = Path(__file__).resolve().parents[3] / "shared" / "DESIGN.md"


@pytest.mark.skipif(not DESIGN.is_file(), reason="../shared/DESIGN.md is not beside the project")
def test_ids_and_levels_are_designs_exactly() -> None:
    rows = re.findall(
        r"^\| ([A-Z]+-\d+) \| (MUST|SHOULD)( \(strict\))? \|", DESIGN.read_text(), re.MULTILINE
    )
    assert rows, "the requirement table was not found in DESIGN.md"
    assert [(r.id, r.level, r.strict_only) for r in REQUIREMENTS.values()] == [
        (id, level, bool(strict)) for id, level, strict in rows
    ]


def test_every_requirement_has_a_check_and_every_check_a_description() -> None:
    covered = {c.requirement.id for c in CHECKS}
    assert covered == set(REQUIREMENTS), sorted(set(REQUIREMENTS) - covered)
    names = [c.id for c in CHECKS]
    assert len(names) == len(set(names))
    for c in CHECKS:
        assert c.description, c.id
        assert c.description != c.name, c.id
