"""Whole deliveries: envelopes with Meta's batching.

Meta batches: a POST can hold several entries, each several changes, each
several messages from several senders, or statuses, or another field. These
strategies compose the per-message, per-status and per-field strategies into
such envelopes, optionally pinned to one `Account` (the account the receiver
under test knows).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from hypothesis import strategies as st

from simulator import envelopes
from simulator.envelopes import Account, Customer
from simulator.strategies._fields import field_values
from simulator.strategies._ids import accounts, customers
from simulator.strategies._messages import inbound_messages
from simulator.strategies._statuses import error_values, statuses
from simulator.types import Change, Contact, Message, Payload

__all__ = [
    "batches",
    "error_payloads",
    "field_payloads",
    "message_payloads",
    "payloads",
    "status_payloads",
]


def _check_range(name: str, value: int, low: int = 1, high: int = 1000) -> None:
    if not low <= value <= high:
        raise ValueError(f"Expected {low} <= {name} <= {high} but got {name}={value!r}")


def _account_strategy(account: Account | None) -> st.SearchStrategy[Account]:
    return st.just(account) if account is not None else accounts()


@st.composite
def _message_changes(
    draw: st.DrawFn,
    account: Account,
    senders: st.SearchStrategy[Customer],
    types: Collection[str] | None,
    max_messages: int,
    max_senders: int,
) -> list[Change]:
    """One `messages` change from a few senders, plus a change of its own for
    any system messages (Meta sends those without a contacts array)."""
    people = draw(st.lists(senders, min_size=1, max_size=max_senders, unique_by=_identity))
    drawn = draw(
        st.lists(
            st.sampled_from(people).flatmap(
                lambda p: inbound_messages(p, types=types).map(lambda m: (p, m))
            ),
            min_size=1,
            max_size=max_messages,
        )
    )
    regular = [(p, m) for p, m in drawn if m["type"] != "system"]
    system = [m for _, m in drawn if m["type"] == "system"]
    changes: list[Change] = []
    if regular:
        contacts: list[Contact] = [p.contact for p in dict.fromkeys(p for p, _ in regular)]
        messages: list[Message] = [m for _, m in regular]
        changes.append(envelopes.change(envelopes.messages_value(account, messages, contacts)))
    if system:
        changes.append(envelopes.change(envelopes.messages_value(account, system, None)))
    return changes


def _identity(customer: Customer) -> tuple[str | None, str | None]:
    return (customer.wa_id, customer.user_id)


def message_payloads(
    *,
    account: Account | None = None,
    senders: st.SearchStrategy[Customer] | None = None,
    types: Collection[str] | None = None,
    max_entries: int = 3,
    max_changes: int = 2,
    max_messages: int = 4,
    max_senders: int = 3,
) -> st.SearchStrategy[Payload]:
    """Inbound-message deliveries, batched over entries, changes, messages and senders.

    With `account`, every change is addressed to that account's phone number;
    `types` limits the message types (names from `MESSAGE_TYPES`).
    """
    for name, value in [
        ("max_entries", max_entries),
        ("max_changes", max_changes),
        ("max_messages", max_messages),
        ("max_senders", max_senders),
    ]:
        _check_range(name, value)
    people = senders if senders is not None else customers()

    @st.composite
    def build(draw: st.DrawFn) -> Payload:
        entries = []
        for _ in range(draw(st.integers(1, max_entries))):
            acct = draw(_account_strategy(account))
            changes: list[Change] = []
            for _ in range(draw(st.integers(1, max_changes))):
                changes.extend(
                    draw(_message_changes(acct, people, types, max_messages, max_senders))
                )
            entries.append(envelopes.entry(acct.waba_id, changes))
        return envelopes.payload(entries)

    return build()


def status_payloads(
    *, account: Account | None = None, kinds: Sequence[str] | None = None, max_statuses: int = 4
) -> st.SearchStrategy[Payload]:
    """Status deliveries for messages the business sent (sent, delivered, read, failed, played)."""
    _check_range("max_statuses", max_statuses)
    return st.builds(
        envelopes.status_payload,
        _account_strategy(account),
        st.lists(statuses(kinds=kinds), min_size=1, max_size=max_statuses),
    )


def error_payloads(*, account: Account | None = None) -> st.SearchStrategy[Payload]:
    """`messages` changes whose value carries `errors` instead of messages or statuses."""
    return _account_strategy(account).flatmap(
        lambda acct: error_values(acct).map(
            lambda value: envelopes.payload(
                [envelopes.entry(acct.waba_id, [envelopes.change(value)])]
            )
        )
    )


def field_payloads(
    *, account: Account | None = None, fields: Sequence[str] | None = None
) -> st.SearchStrategy[Payload]:
    """Deliveries of the other webhook fields (account_update, template updates, ...)."""

    def build(acct: Account, drawn: tuple[str, dict[str, Any]], time: int) -> Payload:
        field, value = drawn
        return envelopes.field_payload(acct.waba_id, field, value, time=time)

    return st.builds(
        build,
        _account_strategy(account),
        field_values(fields=fields),
        st.integers(1_600_000_000, 1_900_000_000),
    )


def payloads(*, account: Account | None = None) -> st.SearchStrategy[Payload]:
    """Anything Meta may POST to a WhatsApp webhook."""
    return st.one_of(
        message_payloads(account=account),
        status_payloads(account=account),
        error_payloads(account=account),
        field_payloads(account=account),
    )


def batches(*, account: Account | None = None, max_parts: int = 4) -> st.SearchStrategy[Payload]:
    """Mixed batches: messages, statuses and errors for one or more accounts in one POST."""
    _check_range("max_parts", max_parts)
    part = st.one_of(
        message_payloads(account=account, max_entries=1),
        status_payloads(account=account),
        error_payloads(account=account),
    )
    return st.lists(part, min_size=2, max_size=max_parts).map(envelopes.batch)
