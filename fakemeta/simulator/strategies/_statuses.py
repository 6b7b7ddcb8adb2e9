"""Strategies for status updates and `value.errors` deliveries.

Built on the `fakemeta.simulator.statuses` builders, with every id and timestamp
drawn from Hypothesis so that examples replay and shrink. The causality
rules for one outbound message's statuses (see `status_sequences`):

- `sent` comes first in time, or not at all when sending failed outright;
- `delivered` and `read` never follow a `failed`; `read` may come without
  `delivered` (Meta skips it when both happen at once);
- `played` (voice messages) comes last, after `read`;
- every status of one message carries the same `biz_opaque_callback_data`;
- timestamps never decrease in causal order, but the delivery order may be
  shuffled, because Meta does not guarantee it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from hypothesis import strategies as st

from fakemeta.simulator import eras, ids
from fakemeta.simulator import statuses as builders
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.meta_errors import META_ERRORS
from fakemeta.simulator.strategies._ids import accounts, customers, timestamps, wa_ids
from fakemeta.simulator.strategies._message_parts import rngs
from fakemeta.simulator.strategies._prepare import validated_with
from fakemeta.simulator.strategies._text import texts
from fakemeta.simulator.types import Status, Value

__all__ = ["error_values", "errors", "recipient_statuses", "status_sequences", "statuses"]

#: Codes a `failed` status carries (the Graph-only 190 and 100 never do).
_STATUS_ERROR_CODES = tuple(c for c in META_ERRORS if c not in (190, 100, 130501))


def _kinds(kinds: Sequence[str] | None) -> tuple[str, ...]:
    if kinds is None:
        return builders.STATUS_KINDS
    if isinstance(kinds, str) or not kinds:
        raise ValueError(f"Expected a non-empty list of status kinds but got kinds={kinds!r}")
    for kind in kinds:
        if kind not in builders.STATUS_KINDS:
            raise ValueError(
                f"Expected a status kind from STATUS_KINDS but got kinds={list(kinds)!r}"
            )
    return tuple(kinds)


def _recipient(recipient: Customer | None, era: Era) -> st.SearchStrategy[Customer]:
    if recipient is None:
        return customers(era=era)
    if not isinstance(recipient, Customer):
        raise TypeError(f"Expected Customer but got recipient={recipient!r}")
    return st.just(recipient)


def errors(codes: Sequence[int] | None = None) -> st.SearchStrategy[dict[str, object]]:
    """Webhook error objects with Meta's wording, sometimes without `href`."""
    pool = tuple(codes) if codes is not None else _STATUS_ERROR_CODES
    for code in pool:
        if code not in META_ERRORS:
            raise ValueError(f"Expected codes from META_ERRORS but got codes={list(pool)!r}")
    return st.builds(
        lambda code, with_href: builders.error(code, **({} if with_href else {"href": None})),
        st.sampled_from(pool),
        st.booleans(),
    )


# Free text a business attaches to a send and gets back on every status.
_opaque = st.one_of(st.none(), texts(max_size=256))

# Built once: a strategy built inside a draw is validated anew every time.
_categories = st.one_of(st.none(), st.sampled_from(builders.PRICING_CATEGORIES))
_conversation_ids = st.integers(0, 2**128 - 1)
_status_errors = errors()
_group_ids = st.one_of(st.none(), st.builds(ids.group_id, wa_ids(), rngs))
_seeds = st.integers(min_value=0, max_value=2**63 - 1)
_DRAWN = (_opaque, _categories, _conversation_ids, _status_errors, _group_ids, _seeds)


def _draw_status(
    draw: st.DrawFn,
    kind: str,
    recipient: Customer,
    message_id: str,
    ts: str,
    era: Era,
    opaque: str | None,
    group_id: str | None = None,
) -> Status:
    """One status, drawn by the caller's `draw` (a plain function, not a
    composite strategy built anew for every status)."""
    category = draw(_categories)
    model = draw(st.sampled_from(era.pricing_models))
    conversation = None
    price = None
    if category is not None and kind in ("sent", "delivered", "read"):
        price = builders.pricing(category, model=model)
        # v23.0 (2025): conversation beside pricing; v24.0+ (2026): only in a
        # free entry point window (status reference, Updated May 21, 2026).
        if era.conversation_on_statuses or price.get("type") == "free_entry_point":
            origin = category
            expiration = str(int(ts) + 86400) if kind == "sent" else None
            conversation = builders.conversation(
                origin,
                conversation_id=f"{draw(_conversation_ids):032x}",
                expiration_timestamp=expiration,
            )
    return builders.status(
        message_id,
        kind,
        recipient,
        group_id=group_id,
        timestamp=ts,
        conversation=conversation,
        pricing=price,
        # Meta's failed statuses carry one error (every example and capture).
        errors=[draw(_status_errors)] if kind == "failed" else None,
        biz_opaque_callback_data=opaque,
    )


def _chat(customer: Customer) -> str:
    return customer.wa_id or customer.user_id or ""


def _outbound_id(draw: st.DrawFn, customer: Customer) -> str:
    """What `wamids(_chat(customer), inbound=False)` draws, without building
    that strategy for every status."""
    return ids.wamid(_chat(customer), inbound=False, rng=random.Random(draw(_seeds)))


def recipient_statuses(
    recipient: Customer | None = None,
    *,
    kinds: Sequence[str] | None = None,
    era: Era | str | None = None,
) -> st.SearchStrategy[tuple[Customer, Status]]:
    """(recipient, status) pairs: what a whole delivery needs to give the
    2026 contacts array beside the statuses."""
    chosen = eras.era(era)
    allowed = _kinds(kinds)
    who = _recipient(recipient, chosen)
    kinds_ = st.sampled_from(allowed)
    times = timestamps()

    @st.composite
    def build(draw: st.DrawFn) -> tuple[Customer, Status]:
        customer = draw(who)
        message_id = _outbound_id(draw, customer)
        ts = draw(times)
        kind = draw(kinds_)
        group = None
        if chosen.groups and kind in ("delivered", "read") and customer.user_id is not None:
            group = draw(_group_ids)
        opaque = draw(_opaque)
        return customer, _draw_status(draw, kind, customer, message_id, ts, chosen, opaque, group)

    return validated_with(build(), who, times, kinds_, *_DRAWN)


def statuses(
    recipient: Customer | None = None,
    *,
    kinds: Sequence[str] | None = None,
    era: Era | str | None = None,
) -> st.SearchStrategy[Status]:
    """Single status objects of the given kinds, for a drawn recipient when
    `recipient` is None, in the era's shape (current when None)."""
    return recipient_statuses(recipient, kinds=kinds, era=era).map(lambda pair: pair[1])


#: The lives an outbound message can have, in causal order.
_LIVES: tuple[tuple[str, ...], ...] = (
    ("sent",),
    ("sent", "delivered"),
    ("sent", "delivered", "read"),
    ("sent", "read"),
    ("sent", "delivered", "read", "played"),
    ("sent", "read", "played"),
    ("sent", "failed"),
    ("failed",),
)


def status_sequences(
    recipient: Customer | None = None, *, shuffle: bool = True, era: Era | str | None = None
) -> st.SearchStrategy[list[Status]]:
    """All the statuses one outbound message gets, same `id`, timestamps
    non-decreasing in causal order; with `shuffle`, delivered in any order."""
    chosen = eras.era(era)
    who = _recipient(recipient, chosen)
    lives = st.sampled_from(_LIVES)
    first_times = timestamps(max_value=1_899_000_000)
    gaps = st.integers(min_value=0, max_value=3600)

    @st.composite
    def build(draw: st.DrawFn) -> list[Status]:
        customer = draw(who)
        message_id = _outbound_id(draw, customer)
        life = draw(lives)
        opaque = draw(_opaque)
        at = int(draw(first_times))
        result = []
        for kind in life:
            at += draw(gaps)
            result.append(_draw_status(draw, kind, customer, message_id, str(at), chosen, opaque))
        if shuffle:
            result = draw(st.permutations(result))
        return list(result)

    return validated_with(build(), who, lives, first_times, gaps, *_DRAWN)


def error_values(account: Account | None = None) -> st.SearchStrategy[Value]:
    """`value.errors` for a `messages` change: one or a few system errors."""
    if account is not None and not isinstance(account, Account):
        raise TypeError(f"Expected Account but got account={account!r}")
    owners = st.just(account) if account is not None else accounts()
    codes = errors((130429, 131000, 131026, 131056))
    return st.builds(builders.errors_value, owners, st.lists(codes, min_size=1, max_size=3))
