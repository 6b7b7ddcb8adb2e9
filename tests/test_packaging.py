"""The wheel: one distribution, one top-level package `fakemeta` with the
three sub-packages, the fixtures inside `fakemeta/simulator/`, the receiver's
migrations, `py.typed`, the console script and the pytest11 entry point; and
a user's own `simulator.py` (a name we once installed at the top level) does
not clash with the plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from importlib import metadata
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
    shipped = {
        n.removeprefix("fakemeta/simulator/")
        for n in names
        if n.startswith("fakemeta/simulator/fixtures/")
    }
    in_checkout = {str(p.relative_to(ROOT)) for p in (ROOT / "fixtures").rglob("*") if p.is_file()}
    assert shipped == in_checkout
    assert not any(n.startswith("fixtures/") for n in names), "never a top-level `fixtures`"


def test_wheel_has_packages_migrations_and_markers(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for required in (
        "fakemeta/simulator/py.typed",
        "fakemeta/contract_tests/py.typed",
        "fakemeta/reference_receiver/migrations/env.py",
        "fakemeta/reference_receiver/migrations/script.py.mako",
        "fakemeta/reference_receiver/migrations/versions/0001_initial_schema.py",
        "fakemeta/simulator/graph/console/index.html",
        "fakemeta/simulator/graph/console/console.js",
    ):
        assert required in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "fakemeta = fakemeta.simulator.cli:main" in text
    assert "[pytest11]" in text
    assert "fakemeta = fakemeta.contract_tests.plugin" in text


def test_wheel_requires_the_receivers_stack_only_for_its_extra(wheel: zipfile.ZipFile) -> None:
    (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = [
        line.removeprefix("Requires-Dist: ")
        for line in wheel.read(metadata_name).decode().splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    assert "Provides-Extra: receiver" in wheel.read(metadata_name).decode().splitlines()
    for name in ("flask", "sqlalchemy", "flask-limiter", "alembic", "msgspec", "cryptography"):
        found = [r for r in requires if r.lower().startswith(name + ">")]
        assert found, name
        # Hatchling flattens `fakemeta[receiver]` into each extra that names it.
        assert all("extra ==" in r for r in found), found
        assert any(r.endswith("extra == 'receiver'") for r in found), found
    unmarked = {r.split(">", 1)[0].split(";", 1)[0] for r in requires if "extra ==" not in r}
    assert {"httpx", "werkzeug", "python-dotenv", "click"} <= unmarked
    assert not unmarked & {"flask", "sqlalchemy", "respx", "locust"}


def test_wheel_installs_one_top_level_package(wheel: zipfile.ZipFile) -> None:
    """No `simulator`, `contract_tests` or `reference_receiver` beside it."""
    tops = {n.split("/", 1)[0] for n in wheel.namelist()}
    assert tops == {"fakemeta", f"fakemeta-{metadata.version('fakemeta')}.dist-info"}


#: Modules a user may well have at the top of a project of their own.
USERS_OWN = ("simulator", "contract_tests", "reference_receiver")


def test_a_users_own_simulator_module_does_not_break_the_plugin(tmp_path: Path) -> None:
    for name in USERS_OWN:
        (tmp_path / f"{name}.py").write_text(f'WHOSE = "the user\'s own {name}"\n')
    (tmp_path / "test_mine.py").write_text(
        textwrap.dedent(
            """
            import contract_tests
            import reference_receiver
            import simulator


            def test_my_modules_are_mine(fakemeta_strategies):
                assert simulator.WHOSE == "the user's own simulator"
                assert contract_tests.WHOSE == "the user's own contract_tests"
                assert reference_receiver.WHOSE == "the user's own reference_receiver"
                # our plugin is loaded, and its fixture is ours
                assert fakemeta_strategies.__name__ == "fakemeta.simulator.strategies"
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "fakemeta", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
