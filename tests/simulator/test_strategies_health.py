"""The public strategies pass Hypothesis's default health checks.

A user's project does not suppress `too_slow` or `data_too_large` the way
this repository's conftest does, so every public strategy is run here under
Hypothesis's defaults, the health checks re-enabled. The deadline is the
default one (200 ms) on purpose: Hypothesis allows input generation five
deadlines (at least a second) before `too_slow` fails, and with
`deadline=None` it allows 30 seconds, which no longer checks anything a
user would meet.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakemeta.simulator import strategies as fm
from fakemeta.simulator.envelopes import Account, Customer

ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")
SENDER = Customer("966501234567", "ليلى", user_id="SA.80224331989386392876")

DEFAULTS = settings(
    max_examples=100,
    suppress_health_check=(),
    deadline=timedelta(milliseconds=200),
    database=None,
    derandomize=True,
)

STRATEGIES: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "message_payloads(3 entries x 5 messages)": lambda: fm.message_payloads(
        account=ACCOUNT, max_entries=3, max_messages=5
    ),
    "message_payloads(2025)": lambda: fm.message_payloads(era="2025"),
    "status_payloads": lambda: fm.status_payloads(account=ACCOUNT),
    "status_payloads(2025)": lambda: fm.status_payloads(era="2025"),
    "error_payloads": lambda: fm.error_payloads(),
    "field_payloads": lambda: fm.field_payloads(),
    "payloads": lambda: fm.payloads(account=ACCOUNT),
    "batches": lambda: fm.batches(account=ACCOUNT, max_parts=4),
    "inbound_messages": lambda: fm.inbound_messages(SENDER),
    "contacts_messages": lambda: fm.contacts_messages(SENDER),
    "statuses": lambda: fm.statuses(),
    "status_sequences": lambda: fm.status_sequences(),
    "field_values": lambda: fm.field_values(),
    "customers": lambda: fm.customers(),
    "texts": lambda: fm.texts(),
    "hostile_texts": lambda: fm.hostile_texts(),
    "person_names": lambda: fm.person_names(),
}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_strategy_passes_the_default_health_checks(name: str) -> None:
    @DEFAULTS
    @given(STRATEGIES[name]())
    def draw(value: Any) -> None:
        assert value is not None

    draw()  # raises FailedHealthCheck when a health check fails
