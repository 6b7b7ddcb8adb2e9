"""Pieces every message strategy draws: the frame (id, time), contexts,
ad referrals, short hostile texts and the parts of a media object.

Private to `fakemeta.simulator.strategies`; the per-type strategies in `_messages` and
`_media_messages` compose these. Every id comes from a Hypothesis draw
(`_ids`), and builders that need randomness of their own get a
`random.Random` seeded from a draw, so every example replays from its seed.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

from fakemeta.simulator import eras, ids, messages
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.strategies._ids import (
    phone_number_ids,
    timestamps,
    wa_ids,
    wamids,
)
from fakemeta.simulator.strategies._text import hostile_texts, texts

__all__ = [
    "MAX_CAPTION_LENGTH",
    "business_message_ids",
    "captions",
    "chat_number",
    "check_sender",
    "contexts",
    "frames",
    "media_draws",
    "referrals",
    "reply_contexts",
    "retailer_ids",
    "rngs",
    "short_texts",
]

#: Meta's limit on a media caption.
MAX_CAPTION_LENGTH = 1024

#: `random.Random`s seeded from a draw: reproducible, and they shrink.
rngs = st.integers(min_value=0, max_value=2**63 - 1).map(random.Random)

_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

#: Product retailer ids, `[A-Za-z0-9_-]{1,40}`: one string draw (`from_regex`
#: draws each character on its own, many times slower).
retailer_ids = st.text(_ALPHANUMERIC + "_-", min_size=1, max_size=40)


def check_sender(sender: object) -> Customer:
    if not isinstance(sender, Customer):
        raise TypeError(f"Expected a Customer but got sender={sender!r}")
    return sender


def chat_number(sender: Customer) -> str | None:
    return sender.wa_id or sender.user_id


_seeds = st.integers(min_value=0, max_value=2**63 - 1)
_times = st.integers(min_value=1_600_000_000, max_value=1_900_000_000)


def frames(sender: Customer) -> st.SearchStrategy[dict[str, Any]]:
    """The frame every message has: its own id and its time.

    The same two draws as `wamids(chat)` and `timestamps()` in a fixed
    dictionary, in one `builds`: every message has a frame, and each layer
    of strategies costs a batch of dozens of messages draw time."""
    chat = chat_number(sender)
    if chat is None:  # pragma: no cover - check_sender's Customers have one
        return st.fixed_dictionaries({"id": wamids(chat), "timestamp": timestamps()})

    def frame(seed: int, at: int) -> dict[str, Any]:
        return {"id": ids.wamid(chat, rng=random.Random(seed)), "timestamp": str(at)}

    return st.builds(frame, _seeds, _times)


def business_message_ids(sender: Customer) -> st.SearchStrategy[str]:
    """Ids of messages the business sent into this chat (quoted, reacted to)."""
    return wamids(chat_number(sender), inbound=False)


def reply_contexts(sender: Customer) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(messages.reply_context, wa_ids(), business_message_ids(sender))


def contexts(sender: Customer) -> st.SearchStrategy[dict[str, Any] | None]:
    """No context, a reply, a forward, a frequent forward or a product question."""
    products = st.builds(
        messages.referred_product_context,
        wa_ids(),
        business_message_ids(sender),
        phone_number_ids(),
        retailer_ids,
    )
    return st.one_of(
        st.none(),
        reply_contexts(sender),
        st.builds(messages.forwarded),
        st.builds(messages.frequently_forwarded),
        products,
    )


def referrals() -> st.SearchStrategy[dict[str, Any] | None]:
    ads = st.builds(
        lambda body, headline, media, welcome, rng: messages.ad_referral(
            body=body, headline=headline, media_type=media, welcome_message=welcome, rng=rng
        ),
        texts(max_size=500),
        texts(max_size=100),
        st.sampled_from(("image", "video")),
        st.one_of(st.none(), texts(max_size=200)),
        rngs,
    )
    return st.one_of(st.none(), ads)


def short_texts(max_size: int) -> st.SearchStrategy[str]:
    return st.one_of(texts(max_size=max_size), hostile_texts(max_size=max_size))


def captions() -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), short_texts(MAX_CAPTION_LENGTH))


def media_draws(
    sender: Customer, era: Era | str | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """What every media message draws: frame, media id, hash, and whether
    the `url` is there (always in 2026; in 2025 it arrived during the year)."""
    always = eras.era(era).complete_media_and_unsupported

    # One `builds` of the same draws (ids from seeds, as `media_ids()` and
    # `sha256s()` make them): fewer layers, less draw time per message.
    def draws(frame: dict[str, Any], media: int, sha: int, url: bool, rng: int) -> dict[str, Any]:
        return {
            "frame": frame,
            "media_id": ids.media_id(random.Random(media)),
            "sha256": ids.sha256_b64(random.Random(sha)),
            "url": url,
            "rng": random.Random(rng),
        }

    return st.builds(
        draws, frames(sender), _seeds, _seeds, st.just(True) if always else st.booleans(), _seeds
    )
