"""One reference receiver for every check test that needs a passing target.

Every run uses fresh senders and message ids, so the tests share it safely.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reference_receiver.serve import Running, start_background


@pytest.fixture(scope="session")
def reference() -> Iterator[Running]:
    with start_background({}) as running:
        yield running
