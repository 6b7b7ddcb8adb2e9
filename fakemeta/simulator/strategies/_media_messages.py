"""Strategies for media messages: image, video, audio, document, sticker.

Part of `fakemeta.simulator.strategies` (re-exported through `_messages`). Each draws
the frame, a media id and hash, whether the 2025 `url` is present, and the
type's own content, then calls the builder in `fakemeta.simulator.messages`.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from fakemeta.simulator import messages
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.strategies._message_parts import (
    captions,
    check_sender,
    contexts,
    media_draws,
    referrals,
    short_texts,
)
from fakemeta.simulator.types import Message

__all__ = [
    "audio_messages",
    "document_messages",
    "image_messages",
    "sticker_messages",
    "video_messages",
]


def _captioned(
    sender: Customer,
    builder: Callable[..., Message],
    mime_types: tuple[str, ...],
    era: Era | str | None,
) -> st.SearchStrategy[Message]:
    check_sender(sender)
    return st.builds(
        lambda caption, mime, m, context, referral: builder(
            sender,
            caption,
            mime_type=mime,
            media_id=m["media_id"],
            sha256=m["sha256"],
            url=m["url"],
            context=context,
            referral=referral,
            rng=m["rng"],
            **m["frame"],
        ),
        captions(),
        st.sampled_from(mime_types),
        media_draws(sender, era),
        contexts(sender),
        referrals(),
    )


def image_messages(sender: Customer, *, era: Era | str | None = None) -> st.SearchStrategy[Message]:
    """Photos, with or without a caption, a context or an ad referral."""
    return _captioned(sender, messages.image, ("image/jpeg", "image/png"), era)


def video_messages(sender: Customer, *, era: Era | str | None = None) -> st.SearchStrategy[Message]:
    """Videos, with or without a caption, a context or an ad referral."""
    return _captioned(sender, messages.video, ("video/mp4", "video/3gpp"), era)


def audio_messages(sender: Customer, *, era: Era | str | None = None) -> st.SearchStrategy[Message]:
    """Voice notes (Opus in Ogg, `voice: true`) and uploaded audio files."""
    check_sender(sender)
    files = st.sampled_from(("audio/mpeg", "audio/mp4", "audio/aac", "audio/amr", "audio/ogg"))
    kinds = st.one_of(
        st.tuples(st.just(True), st.just("audio/ogg; codecs=opus")),
        st.tuples(st.just(False), files),
    )
    return st.builds(
        lambda kind, m, context: messages.audio(
            sender,
            voice=kind[0],
            mime_type=kind[1],
            media_id=m["media_id"],
            sha256=m["sha256"],
            url=m["url"],
            context=context,
            rng=m["rng"],
            **m["frame"],
        ),
        kinds,
        media_draws(sender, era),
        contexts(sender),
    )


_DOCUMENT_TYPES = (
    (".pdf", "application/pdf"),
    (".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (".txt", "text/plain"),
    ("", "application/octet-stream"),
)


def document_messages(
    sender: Customer, *, era: Era | str | None = None
) -> st.SearchStrategy[Message]:
    """Documents: file names in any script (and with `/` or quotes in them)."""
    check_sender(sender)
    return st.builds(
        lambda stem, kind, caption, m, context: messages.document(
            sender,
            stem + kind[0],
            caption,
            mime_type=kind[1],
            media_id=m["media_id"],
            sha256=m["sha256"],
            url=m["url"],
            context=context,
            rng=m["rng"],
            **m["frame"],
        ),
        short_texts(120),
        st.sampled_from(_DOCUMENT_TYPES),
        captions(),
        media_draws(sender, era),
        contexts(sender),
    )


def sticker_messages(
    sender: Customer, *, era: Era | str | None = None
) -> st.SearchStrategy[Message]:
    check_sender(sender)
    return st.builds(
        lambda animated, m, context: messages.sticker(
            sender,
            animated=animated,
            media_id=m["media_id"],
            sha256=m["sha256"],
            url=m["url"],
            context=context,
            rng=m["rng"],
            **m["frame"],
        ),
        st.booleans(),
        media_draws(sender, era),
        st.one_of(st.none(), st.builds(messages.forwarded)),
    )
