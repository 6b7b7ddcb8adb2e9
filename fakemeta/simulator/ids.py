"""Identifiers shaped like Meta's: message ids, account and phone number ids,
user numbers, business-scoped user ids, media ids and timestamps.

Every function takes an optional `random.Random` so that fixtures and seeded
runs are reproducible; without one, values are fresh on every call (what a
run against a shared staging receiver needs).
"""

from __future__ import annotations

import base64
import os
import random
import string
import time
from typing import Any

__all__ = [
    "bsuid",
    "country_of",
    "digits",
    "group_id",
    "media_id",
    "parent_bsuid",
    "phone_number_id",
    "sha256_b64",
    "timestamp",
    "wa_id",
    "waba_id",
    "wamid",
]

_system = random.SystemRandom()


def _rng(rng: random.Random | None) -> random.Random:
    return rng if rng is not None else _system


def digits(length: int, rng: random.Random | None = None) -> str:
    """`length` digits, the first never 0 (Meta's numeric ids have no leading zero)."""
    r = _rng(rng)
    return str(r.randint(1, 9)) + "".join(r.choice(string.digits) for _ in range(length - 1))


def phone_number_id(rng: random.Random | None = None) -> str:
    """A business phone number id: 15 or 16 digits."""
    return digits(_rng(rng).choice((15, 16)), rng)


def waba_id(rng: random.Random | None = None) -> str:
    """A WhatsApp Business Account id: 15 or 16 digits."""
    return digits(_rng(rng).choice((15, 16)), rng)


def media_id(rng: random.Random | None = None) -> str:
    return digits(_rng(rng).choice((15, 16)), rng)


#: The calling codes `wa_id()` draws from, with the ISO country a
#: business-scoped id of such a number starts with.
_COUNTRIES = {
    "1": "US", "44": "GB", "49": "DE", "20": "EG", "966": "SA", "971": "AE",
    "55": "BR", "91": "IN", "234": "NG", "62": "ID", "52": "MX",
}  # fmt: skip


def wa_id(rng: random.Random | None = None) -> str:
    """A user's number as Meta writes it: country code and number, digits only, no `+`."""
    r = _rng(rng)
    country = r.choice(tuple(_COUNTRIES))
    return country + digits(r.randint(9, 15 - len(country)), rng)


def country_of(number: str | None, rng: random.Random | None = None) -> str:
    """The ISO country of a number `wa_id()` made (longest calling code
    first); for None or another number, one drawn from the same countries."""
    if number is not None:
        for code in sorted(_COUNTRIES, key=len, reverse=True):
            if number.startswith(code):
                return _COUNTRIES[code]
    return _rng(rng).choice(tuple(_COUNTRIES.values()))


def bsuid(country: str = "US", rng: random.Random | None = None) -> str:
    """A 2026 business-scoped user id: ISO country code, a dot, digits
    (`US.13491208655302741918`)."""
    return f"{country}.{digits(_rng(rng).randint(16, 20), rng)}"


def group_id(business_number: str, rng: random.Random | None = None) -> str:
    """A group's id as the Groups API shows it: base64 of
    `capi_group:<business number>:<group number>` with each `=` written `ZD`
    (Meta's group messages reference, Updated Jun 17, 2026:
    `Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD`)."""
    raw = f"capi_group:{business_number}:120363{digits(12, rng)}".encode("ascii")
    return base64.b64encode(raw).decode("ascii").replace("=", "ZD")


def parent_bsuid(country: str = "US", rng: random.Random | None = None) -> str:
    """A parent business-scoped user id, one per user across the businesses
    of a portfolio with parent ids enabled: `US.ENT.` and digits (Meta's
    business-scoped user id guide, "Parent business-scoped user IDs")."""
    return f"{country}.ENT.{digits(_rng(rng).randint(16, 20), rng)}"


def wamid(sender: str, *, inbound: bool = True, rng: random.Random | None = None) -> str:
    """A message id as Meta makes them: `wamid.` and base64 of a small
    protobuf-like record holding the user's number and a hex message key."""
    r = _rng(rng)
    number = sender.encode("ascii")[:127]
    key = _hex_key(r, r.choice((20, 32)))
    raw = (
        b"\x1c\x18"
        + bytes([len(number)])
        + number
        + b"\x15\x02\x00"
        + (b"\x12" if inbound else b"\x11")
        + b"\x18"
        + bytes([len(key)])
        + key
        + b"\x00"
    )
    return "wamid." + base64.b64encode(raw).decode("ascii")


_HEX = "0123456789ABCDEF"
#: For the top byte of a 32-bit word: the hex digit its top 5 bits pick, as
#: `Random.choice(_HEX)` picks it from `getrandbits(5)`; bytes of 128 and up
#: are the draws `choice` rejects (5 bits >= 16) and draws again.
_TOP_BYTE_TO_HEX = bytes(ord(_HEX[b >> 3]) if b < 128 else 0 for b in range(256))
_REJECTED = bytes(range(128, 256))


def _draws_as_random(kind: type[random.Random]) -> bool:
    """Whether `kind.choice` draws with `random.Random`'s own getrandbits and
    rejection loop (a subclass that overrides `random()` or `getrandbits()`
    does not)."""
    below: Any = getattr(kind, "_randbelow", None)
    stock: Any = getattr(random.Random, "_randbelow_with_getrandbits", None)
    return kind.getrandbits is random.Random.getrandbits and below is stock and stock is not None


def _hex_key(r: random.Random, length: int) -> bytes:
    """`length` uppercase hex digits, as `"".join(r.choice(_HEX) ...)` but
    without a Python call per digit (that loop was half of a builder's time).

    A SystemRandom has no stream to keep, so one read of the OS's randomness
    does. A plain `random.Random` must give the digits it always gave (the
    fixture files and `--seed` runs are made of them): `choice` draws
    `getrandbits(5)` per digit, the top 5 bits of one Mersenne Twister word,
    and draws again when they are 16 or more. `getrandbits(32 * n)` returns
    the next n words, first word lowest, so the same digits come from the top
    byte of each; drawing only as many words as digits are still missing
    never consumes a word the loop would not have, so the generator ends in
    the same state. Any other generator takes the loop.
    """
    if isinstance(r, random.SystemRandom):
        return os.urandom(length // 2).hex().upper().encode("ascii")  # lengths are even
    if not _draws_as_random(type(r)):
        return "".join(r.choice(_HEX) for _ in range(length)).encode("ascii")
    key = b""
    while missing := length - len(key):
        words = r.getrandbits(32 * missing).to_bytes(4 * missing, "little")
        key += words[3::4].translate(_TOP_BYTE_TO_HEX, _REJECTED)
    return key


def sha256_b64(rng: random.Random | None = None) -> str:
    """A media file hash as Meta reports it: 32 bytes, base64."""
    r = _rng(rng)
    return base64.b64encode(bytes(r.getrandbits(8) for _ in range(32))).decode("ascii")


def timestamp(at: float | None = None) -> str:
    """Unix seconds as a string, the way every webhook timestamp is written."""
    return str(int(time.time() if at is None else at))
