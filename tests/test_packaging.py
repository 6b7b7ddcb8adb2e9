"""The wheel: one distribution with the three packages, the fixtures inside
`simulator/`, the receiver's migrations, `py.typed`, the console script and
the pytest11 entry point."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )  # fmt: skip
    (built,) = out.glob("fakemeta-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_ships_every_fixture_inside_the_simulator(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    shipped = {n.removeprefix("simulator/") for n in names if n.startswith("simulator/fixtures/")}
    in_checkout = {str(p.relative_to(ROOT)) for p in (ROOT / "fixtures").rglob("*") if p.is_file()}
    assert shipped == in_checkout
    assert not any(n.startswith("fixtures/") for n in names), "never a top-level `fixtures`"


def test_wheel_has_packages_migrations_and_markers(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for required in (
        "simulator/py.typed",
        "contract_tests/py.typed",
        "reference_receiver/migrations/env.py",
        "reference_receiver/migrations/script.py.mako",
        "reference_receiver/migrations/versions/0001_initial_schema.py",
        "simulator/graph/console/index.html",
        "simulator/graph/console/console.js",
    ):
        assert required in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "fakemeta = simulator.cli:main" in text
    assert "[pytest11]" in text
    assert "fakemeta = contract_tests.plugin" in text
