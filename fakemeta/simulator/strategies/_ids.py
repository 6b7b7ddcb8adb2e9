"""Strategies for Meta's identifiers and for the two parties of a chat.

Identifiers come from `fakemeta.simulator.ids` with a `random.Random` seeded from a
Hypothesis draw, so every example is reproducible and shrinks to small seeds.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import strategies as st

from fakemeta.simulator import eras, ids
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.strategies._prepare import validated_with
from fakemeta.simulator.strategies._text import person_names, texts

__all__ = [
    "accounts",
    "bsuids",
    "customers",
    "media_ids",
    "parent_bsuids",
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


_LOWER = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"


def _joined(parts: tuple[str, ...]) -> str:
    return "".join(parts)


# `[a-z][a-z0-9._]{2,28}[a-z0-9]`, built from three strings rather than
# `from_regex` (which draws every character on its own, and was the slowest
# part of drawing a user).
_usernames = st.tuples(
    st.text(_LOWER, min_size=1, max_size=1),
    st.text(_LOWER + _DIGITS + "._", min_size=2, max_size=28),
    st.text(_LOWER + _DIGITS, min_size=1, max_size=1),
).map(_joined)


def usernames() -> st.SearchStrategy[str]:
    """WhatsApp usernames (2026): lowercase letters, digits, dots and underscores."""
    return _usernames


def parent_bsuids() -> st.SearchStrategy[str]:
    """Parent business-scoped user ids (`US.ENT.1349...`)."""
    countries = st.sampled_from(("US", "BR", "IN", "SA", "EG", "DE", "ID", "MX", "NG", "GB"))
    return st.tuples(countries, _seeds).map(lambda t: ids.parent_bsuid(t[0], random.Random(t[1])))


def customers(
    *, era: Era | str | None = None, business_scoped: bool | None = None
) -> st.SearchStrategy[Customer]:
    """WhatsApp users as the era's webhooks show them, with a profile name
    (Faker, many locales, or hostile text).

    2025: a number and a name. 2026 (current): every user also has a
    business-scoped id of the number's country; some have a username, some
    a parent id, and about one in ten (`Era.phoneless_share`) a username and
    no number at all. `business_scoped=False` is the 2025 shape whatever the
    era (kept for callers from before eras).
    """
    chosen = eras.era(era)
    names = st.one_of(person_names(), texts(max_size=64))
    classic = st.builds(Customer, wa_id=wa_ids(), name=names)
    if business_scoped is False or (business_scoped is None and not chosen.business_scoped_ids):
        return classic
    # One draw in `_SHARES` decides phone-less; Hypothesis shrinks it to 0,
    # an ordinary user with a number.
    phoneless_below = round(chosen.phoneless_share * _SHARES)
    # Every strategy drawn below is built here, once: a strategy built inside
    # the draw is validated anew for every user.
    shares = st.integers(0, _SHARES - 1)
    some_usernames = st.one_of(st.none(), _usernames)
    some_names = st.one_of(names, st.none())

    @st.composite
    def build(draw: st.DrawFn) -> Customer:
        seed = draw(_seeds)
        rng = random.Random(seed)
        phoneless = draw(shares) >= _SHARES - phoneless_below
        number = None if phoneless else ids.wa_id(rng)
        country = ids.country_of(number, rng)
        username = draw(_usernames) if phoneless else draw(some_usernames)
        parent_id = ids.parent_bsuid(country, rng)
        parent = parent_id if draw(st.booleans()) else None
        return Customer(
            number,
            draw(some_names) if phoneless else draw(names),
            user_id=ids.bsuid(country, rng),
            username=username,
            parent_user_id=parent,
        )

    return validated_with(build(), names, some_names, some_usernames)


_SHARES = 100


def accounts() -> st.SearchStrategy[Account]:
    """Businesses: an account id, a phone number id and its display number."""
    return st.builds(Account, waba_ids(), phone_number_ids(), wa_ids())
