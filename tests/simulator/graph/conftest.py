"""`client`: an HTTP client of the `running` server of the test's module
(`test_guard`, `test_bounds` and `test_server` each start theirs with
`serve_helpers.serving`)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from serve_helpers import client_of

from fakemeta.simulator.graph.server import Running


@pytest.fixture
def client(running: Running) -> Iterator[httpx.Client]:
    with client_of(running) as c:
        yield c
