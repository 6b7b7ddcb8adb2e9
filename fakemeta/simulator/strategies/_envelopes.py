"""Whole deliveries: envelopes with Meta's batching.

Meta batches: a POST can hold several entries, each several changes, each
several messages from several senders, or statuses, or another field. These
strategies compose the per-message, per-status and per-field strategies into
such envelopes, optionally pinned to one `Account` (the account the receiver
under test knows).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from functools import cache
from typing import Any, cast

from hypothesis import strategies as st

from fakemeta.simulator import envelopes, eras, ids
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.strategies._fields import field_values
from fakemeta.simulator.strategies._ids import accounts, customers
from fakemeta.simulator.strategies._messages import inbound_messages
from fakemeta.simulator.strategies._prepare import validated_with
from fakemeta.simulator.strategies._statuses import error_values, recipient_statuses
from fakemeta.simulator.types import Change, Contact, Message, Payload, Status

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


# Messages are drawn once per set of types and kind of sender for a
# placeholder sender, then moved onto the real sender: building
# `inbound_messages(sender)` anew for every sender of every draw made
# Hypothesis validate a fresh strategy tree each time, which cost most of
# the generation time. The kinds: a number only (2025), a number and a
# business-scoped id, a business-scoped id only (2026).
_USER_ID = "US.10000000000000001"
_PARENT = "US.ENT.10000000000000001"
_PLACEHOLDERS = {
    (True, False, False): Customer("10000000001", "placeholder"),
    (True, True, False): Customer("10000000001", "placeholder", user_id=_USER_ID),
    (True, True, True): Customer(
        "10000000001", "placeholder", user_id=_USER_ID, parent_user_id=_PARENT
    ),
    (False, True, False): Customer(None, "placeholder", user_id=_USER_ID),
    (False, True, True): Customer(None, "placeholder", user_id=_USER_ID, parent_user_id=_PARENT),
}


def _placeholder(sender: Customer) -> Customer:
    kind = (sender.wa_id is not None, sender.user_id is not None, sender.parent_user_id is not None)
    return _PLACEHOLDERS[kind]


@cache
def _template_messages(
    types: tuple[str, ...] | None, placeholder: Customer, era: Era
) -> st.SearchStrategy[Message]:
    return inbound_messages(placeholder, types=types, era=era)


def _moved(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _moved(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved(v, replacements) for v in value]
    return value


def _from(message: Message, sender: Customer) -> Message:
    """`message` as sent by `sender`: sender keys where the placeholder's stood
    (Meta's order kept), the placeholder's number and id replaced everywhere,
    and a message id that carries the sender's number, derived from the old one."""
    placeholder = _placeholder(sender)
    pairs = (
        (placeholder.parent_user_id, sender.parent_user_id),  # first: it contains no user id
        (placeholder.wa_id, sender.wa_id),
        (placeholder.user_id, sender.user_id),
    )
    replacements = {old: new or "" for old, new in pairs if old is not None}
    result: dict[str, Any] = {}
    for key, value in message.items():
        if key in ("from", "from_user_id", "from_parent_user_id"):
            result.update(sender.sender_fields)
        elif key == "id":
            seed = random.Random(str(value))
            result[key] = ids.wamid(sender.wa_id or sender.user_id or "", rng=seed)
        else:
            result[key] = _moved(value, replacements)
    return cast(Message, result)


def _draw_message_changes(
    draw: st.DrawFn,
    account: Account,
    sender_lists: st.SearchStrategy[list[Customer]],
    types: tuple[str, ...] | None,
    max_messages: int,
    era: Era,
) -> list[Change]:
    """One `messages` change from a few senders, plus a change of its own for
    any system messages (Meta sends those without a contacts array).

    A plain function of the caller's `draw`, and every strategy it draws
    built once (or cached by Hypothesis): a strategy built per draw is
    validated per draw, which cost most of a batch's generation time."""
    people = draw(sender_lists)
    # Each message from the cached template of its sender's kind, so that no
    # strategy is built per draw.
    who = draw(st.lists(st.integers(0, len(people) - 1), min_size=1, max_size=max_messages))
    drawn = [
        (p, _from(draw(_template_messages(types, _placeholder(p), era)), p))
        for p in (people[i] for i in who)
    ]
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
    era: Era | str | None = None,
) -> st.SearchStrategy[Payload]:
    """Inbound-message deliveries, batched over entries, changes, messages and senders.

    With `account`, every change is addressed to that account's phone number;
    `types` limits the message types (names from `MESSAGE_TYPES`); `era`
    picks the shapes (current when None) through the senders it draws.
    """
    for name, value in [
        ("max_entries", max_entries),
        ("max_changes", max_changes),
        ("max_messages", max_messages),
        ("max_senders", max_senders),
    ]:
        _check_range(name, value)
    chosen = eras.era(era)
    people = senders if senders is not None else customers(era=chosen)
    type_key = tuple(types) if types is not None else None
    if type_key is not None:
        # Unknown types fail here, eagerly.
        inbound_messages(_PLACEHOLDERS[(True, True, False)], types=type_key)

    owners = _account_strategy(account)
    sender_lists = st.lists(people, min_size=1, max_size=max_senders, unique_by=_identity)
    entry_counts = st.integers(1, max_entries)
    change_counts = st.integers(1, max_changes)

    @st.composite
    def build(draw: st.DrawFn) -> Payload:
        entries = []
        for _ in range(draw(entry_counts)):
            acct = draw(owners)
            changes: list[Change] = []
            for _ in range(draw(change_counts)):
                changes.extend(
                    _draw_message_changes(draw, acct, sender_lists, type_key, max_messages, chosen)
                )
            entries.append(envelopes.entry(acct.waba_id, changes))
        return _distinct_message_ids(envelopes.payload(entries))

    # Validated with the test's strategies, before Hypothesis times a draw:
    # the senders and the message templates of every kind of sender.
    templates = [_template_messages(type_key, p, chosen) for p in _PLACEHOLDERS.values()]
    return validated_with(build(), owners, sender_lists, *templates)


def _distinct_message_ids(payload: Payload) -> Payload:
    """Give a message whose id already occurs in the payload an id of its own.

    Hypothesis repeats draws on purpose, so two messages of one batch can get
    the same seed; in a batch that would read as a redelivery, which is not
    what a batch strategy promises. The new id is derived from the old one,
    so the example stays reproducible.
    """
    seen: set[str] = set()
    for entry in payload["entry"]:
        for change in entry["changes"]:
            for message in change["value"].get("messages", []):
                n = 0
                while message["id"] in seen:
                    n += 1
                    sender = message.get("from") or message.get("from_user_id") or ""
                    message["id"] = ids.wamid(sender, rng=random.Random(f"{message['id']}/{n}"))
                seen.add(message["id"])
    return payload


def status_payloads(
    *,
    account: Account | None = None,
    kinds: Sequence[str] | None = None,
    max_statuses: int = 4,
    era: Era | str | None = None,
) -> st.SearchStrategy[Payload]:
    """Status deliveries for messages the business sent (sent, delivered,
    read, failed, played), with the 2026 contacts array where Meta sends one."""
    _check_range("max_statuses", max_statuses)
    chosen = eras.era(era)

    def build(acct: Account, pairs: list[tuple[Customer, Status]], profiles: bool) -> Payload:
        statuses, recipients = [s for _, s in pairs], [c for c, _ in pairs]
        return envelopes.status_payload(acct, statuses, recipients, profiles=profiles)

    return st.builds(
        build,
        _account_strategy(account),
        st.lists(recipient_statuses(kinds=kinds, era=chosen), min_size=1, max_size=max_statuses),
        # Meta's guide shows status contacts with a profile; live 2026 bodies
        # have none (`"contacts":[{"wa_id":...,"user_id":...}]`).
        st.booleans(),
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
    *,
    account: Account | None = None,
    fields: Sequence[str] | None = None,
    era: Era | str | None = None,
) -> st.SearchStrategy[Payload]:
    """Deliveries of the other webhook fields (account_update, template updates, ...)."""

    def build(acct: Account, drawn: tuple[str, dict[str, Any]], time: int) -> Payload:
        field, value = drawn
        return envelopes.field_payload(acct.waba_id, field, value, time=time)

    return st.builds(
        build,
        _account_strategy(account),
        field_values(fields=fields, era=era),
        st.integers(1_600_000_000, 1_900_000_000),
    )


def payloads(
    *, account: Account | None = None, era: Era | str | None = None
) -> st.SearchStrategy[Payload]:
    """Anything Meta may POST to a WhatsApp webhook, in the era's shapes."""
    return st.one_of(
        message_payloads(account=account, era=era),
        status_payloads(account=account, era=era),
        error_payloads(account=account),
        field_payloads(account=account, era=era),
    )


def batches(
    *, account: Account | None = None, max_parts: int = 4, era: Era | str | None = None
) -> st.SearchStrategy[Payload]:
    """Mixed batches: messages, statuses and errors for one or more accounts in one POST."""
    _check_range("max_parts", max_parts)
    part = st.one_of(
        message_payloads(account=account, max_entries=1, era=era),
        status_payloads(account=account, era=era),
        error_payloads(account=account),
    )
    return st.lists(part, min_size=2, max_size=max_parts).map(envelopes.batch)
