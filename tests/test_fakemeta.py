"""`fakemeta`'s own namespace: the public API, re-exported lazily."""

from __future__ import annotations

import subprocess
import sys
from importlib import import_module, metadata

import pytest

import fakemeta


def test_all_is_what_the_lazy_table_serves() -> None:
    assert set(fakemeta.__all__) == {*fakemeta._LAZY, "__version__"}


@pytest.mark.parametrize("name", sorted(fakemeta._LAZY))
def test_each_name_is_the_object_where_it_lives(name: str) -> None:
    assert getattr(fakemeta, name) is getattr(import_module(fakemeta._LAZY[name]), name)


def test_version_is_the_distributions() -> None:
    assert fakemeta.__version__ == metadata.version("fakemeta")


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = fakemeta.Nope


def test_import_fakemeta_imports_no_subpackage() -> None:
    probe = (
        "import sys, fakemeta\nprint(sorted(m for m in sys.modules if m.startswith('fakemeta.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_no_old_top_level_package_is_importable() -> None:
    probe = (
        "import importlib.util\n"
        "print([n for n in ('simulator', 'contract_tests', 'reference_receiver') "
        "if importlib.util.find_spec(n) is not None])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd="/",
    )
    assert done.stdout.strip() == "[]"
