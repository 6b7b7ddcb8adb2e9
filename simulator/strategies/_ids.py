"""Strategies for Meta's identifiers and for the two parties of a chat.

Identifiers come from `simulator.ids` with a `random.Random` seeded from a
Hypothesis draw, so every example is reproducible and shrinks to small seeds.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import strategies as st

from simulator import ids
from simulator.envelopes import Account, Customer
from simulator.strategies._text import person_names, texts

__all__ = [
    "accounts",
    "bsuids",
    "customers",
    "media_ids",
    "phone_number_ids",
    "sha256s",
    "timestamps",
    "usernames",
    "wa_ids",
    "waba_ids",
    "wamids",
]

_seeds = st.integers(min_value=0, max_value=2**63 - 1)


def _seeded(make: Callable[[random.Random], str]) -> st.SearchStrategy[str]:
    return _seeds.map(lambda seed: make(random.Random(seed)))


def wa_ids() -> st.SearchStrategy[str]:
    """Users' numbers: country code and number, digits only, no `+`."""
    return _seeded(ids.wa_id)


def phone_number_ids() -> st.SearchStrategy[str]:
    return _seeded(ids.phone_number_id)


def waba_ids() -> st.SearchStrategy[str]:
    return _seeded(ids.waba_id)


def media_ids() -> st.SearchStrategy[str]:
    return _seeded(ids.media_id)


def sha256s() -> st.SearchStrategy[str]:
    return _seeded(ids.sha256_b64)


def bsuids() -> st.SearchStrategy[str]:
    """2026 business-scoped user ids (`US.1349...`)."""
    countries = st.sampled_from(("US", "BR", "IN", "SA", "EG", "DE", "ID", "MX", "NG", "GB"))
    return st.tuples(countries, _seeds).map(lambda t: ids.bsuid(t[0], random.Random(t[1])))


def wamids(sender: str | None = None, *, inbound: bool = True) -> st.SearchStrategy[str]:
    """Message ids (`wamid.` + base64) for a sender, or for a drawn number."""
    numbers = st.just(sender) if sender is not None else wa_ids()
    return st.tuples(numbers, _seeds).map(
        lambda t: ids.wamid(t[0], inbound=inbound, rng=random.Random(t[1]))
    )


def timestamps(
    *, min_value: int = 1_600_000_000, max_value: int = 1_900_000_000
) -> st.SearchStrategy[str]:
    """Unix seconds as strings, the way Meta writes every message timestamp."""
    return st.integers(min_value=min_value, max_value=max_value).map(str)


def usernames() -> st.SearchStrategy[str]:
    """WhatsApp usernames (2026): lowercase letters, digits, dots and underscores."""
    return st.from_regex(r"[a-z][a-z0-9._]{2,28}[a-z0-9]", fullmatch=True)


def customers(*, business_scoped: bool = True) -> st.SearchStrategy[Customer]:
    """WhatsApp users: a number and a profile name (Faker, many locales, or
    hostile text). With `business_scoped`, some users carry the 2026
    business-scoped id and username, and some have no number at all."""
    names = st.one_of(person_names(), texts(max_size=64))
    classic = st.builds(Customer, wa_id=wa_ids(), name=names)
    if not business_scoped:
        return classic
    with_bsuid = st.builds(
        Customer,
        wa_id=st.one_of(st.none(), wa_ids()),
        name=st.one_of(st.none(), names),
        user_id=bsuids(),
        username=st.one_of(st.none(), usernames()),
    )
    return st.one_of(classic, with_bsuid)


def accounts() -> st.SearchStrategy[Account]:
    """Businesses: an account id, a phone number id and its display number."""
    return st.builds(Account, waba_ids(), phone_number_ids(), wa_ids())
