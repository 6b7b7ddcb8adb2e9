"""One reference receiver for every check test that needs a passing target.

Every run uses fresh senders and message ids, so the tests share it safely.
`check_environment` clears what `fakemeta check` would read from the
environment, for the tests of the command itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from check_helpers import ENV_NAMES

from fakemeta.reference_receiver.serve import Running, start_background


@pytest.fixture(scope="session")
def reference() -> Iterator[Running]:
    with start_background({}) as running:
        yield running


@pytest.fixture
def check_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the variables `fakemeta check` reads its options from, and no colour."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
