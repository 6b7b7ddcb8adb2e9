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

from fakemeta.simulator import eras, messages
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.strategies._ids import (
    media_ids,
    phone_number_ids,
    sha256s,
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
    "rngs",
    "short_texts",
]

#: Meta's limit on a media caption.
MAX_CAPTION_LENGTH = 1024

#: `random.Random`s seeded from a draw: reproducible, and they shrink.
rngs = st.integers(min_value=0, max_value=2**63 - 1).map(random.Random)


def check_sender(sender: object) -> Customer:
    if not isinstance(sender, Customer):
        raise TypeError(f"Expected a Customer but got sender={sender!r}")
    return sender


def chat_number(sender: Customer) -> str | None:
    return sender.wa_id or sender.user_id


def frames(sender: Customer) -> st.SearchStrategy[dict[str, Any]]:
    """The frame every message has: its own id and its time."""
    return st.fixed_dictionaries({"id": wamids(chat_number(sender)), "timestamp": timestamps()})


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
        st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True),
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
    return st.fixed_dictionaries(
        {
            "frame": frames(sender),
            "media_id": media_ids(),
            "sha256": sha256s(),
            "url": st.just(True) if always else st.booleans(),
            "rng": rngs,
        }
    )
