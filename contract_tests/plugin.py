"""pytest plugin entry point (`pytest11`): fakemeta inside a host project's test run."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fakemeta(**options): per-test fakemeta options (app_secret, phone_number_id, ...)",
    )
