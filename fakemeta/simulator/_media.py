"""Media messages: image, video, audio (voice notes), document and sticker.

Part of the builders behind `fakemeta.simulator.messages` (re-exported there). Meta
downloads the user's media first and then sends a media object, keys in this
order (Meta's per-type webhook references, 2026, and live captures):

    image, video: caption, mime_type, sha256, id, url
    document:     caption, filename, mime_type, sha256, id, url
    audio:        mime_type, sha256, id, url, voice
    sticker:      mime_type, sha256, id, url, animated

`url` is new: Meta started adding it on November 12, 2025, released
gradually, so payloads with and without it are both real (`url=False`
leaves it out). It is a lookaside.fbsbx.com address; on the wire every `/`
in it is escaped as `\\/`, which breaks receivers that re-serialise the JSON
before verifying the signature. Shape from live captures (2025-2026):
`https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=<media id>
&source=webhook&ext=<about five minutes after the message>&hash=AR<44 chars>`.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Mapping
from typing import Any

from fakemeta.simulator import ids
from fakemeta.simulator._message_base import JSON, assemble
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.types import Message

__all__ = ["audio", "document", "image", "lookaside_url", "sticker", "video"]

_system = random.SystemRandom()


def lookaside_url(media_id: str, timestamp: str, rng: random.Random | None = None) -> str:
    """The download URL Meta puts in a media object (it expires, hence `ext`)."""
    r = rng if rng is not None else _system
    digest = base64.urlsafe_b64encode(bytes(r.getrandbits(8) for _ in range(33))).decode("ascii")
    expires = int(timestamp) + 300 + r.randint(0, 5)
    return (
        "https://lookaside.fbsbx.com/whatsapp_business/attachments/"
        f"?mid={media_id}&source=webhook&ext={expires}&hash=AR{digest}"
    )


def _media_object(
    head: Mapping[str, Any],
    *,
    mime_type: str,
    media_id: str | None,
    sha256: str | None,
    url: str | bool,
    timestamp: str,
    rng: random.Random | None,
) -> JSON:
    obj: JSON = dict(head)
    obj["mime_type"] = mime_type
    obj["sha256"] = sha256 if sha256 is not None else ids.sha256_b64(rng)
    obj["id"] = media_id if media_id is not None else ids.media_id(rng)
    if url is True:
        obj["url"] = lookaside_url(obj["id"], timestamp, rng)
    elif isinstance(url, str):
        obj["url"] = url
    return obj


def _media_message(
    sender: Customer,
    media_type: str,
    head: Mapping[str, Any],
    tail: Mapping[str, Any],
    *,
    mime_type: str,
    media_id: str | None,
    sha256: str | None,
    url: str | bool,
    id: str | None,
    timestamp: str | None,
    context: Mapping[str, Any] | None,
    referral: Mapping[str, Any] | None,
    rng: random.Random | None,
) -> Message:
    at = timestamp if timestamp is not None else ids.timestamp()
    obj = _media_object(
        head, mime_type=mime_type, media_id=media_id, sha256=sha256, url=url, timestamp=at, rng=rng
    )
    obj.update(tail)
    return assemble(
        sender, media_type, obj, id=id, timestamp=at, context=context, referral=referral, rng=rng
    )


def image(
    sender: Customer,
    caption: str | None = None,
    *,
    mime_type: str = "image/jpeg",
    media_id: str | None = None,
    sha256: str | None = None,
    url: str | bool = True,
    id: str | None = None,
    timestamp: str | None = None,
    context: Mapping[str, Any] | None = None,
    referral: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A photo; `caption` (up to 1024 characters) only when the user typed one."""
    head = {"caption": caption} if caption is not None else {}
    return _media_message(
        sender, "image", head, {}, mime_type=mime_type, media_id=media_id, sha256=sha256,
        url=url, id=id, timestamp=timestamp, context=context, referral=referral, rng=rng,
    )  # fmt: skip


def video(
    sender: Customer,
    caption: str | None = None,
    *,
    mime_type: str = "video/mp4",
    media_id: str | None = None,
    sha256: str | None = None,
    url: str | bool = True,
    id: str | None = None,
    timestamp: str | None = None,
    context: Mapping[str, Any] | None = None,
    referral: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Message:
    head = {"caption": caption} if caption is not None else {}
    return _media_message(
        sender, "video", head, {}, mime_type=mime_type, media_id=media_id, sha256=sha256,
        url=url, id=id, timestamp=timestamp, context=context, referral=referral, rng=rng,
    )  # fmt: skip


def audio(
    sender: Customer,
    *,
    voice: bool = True,
    mime_type: str = "audio/ogg; codecs=opus",
    media_id: str | None = None,
    sha256: str | None = None,
    url: str | bool = True,
    id: str | None = None,
    timestamp: str | None = None,
    context: Mapping[str, Any] | None = None,
    referral: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A voice note (`voice: true`, recorded in the client, Opus in Ogg) or an
    uploaded audio file (`voice: false`, e.g. `audio/mpeg`)."""
    return _media_message(
        sender, "audio", {}, {"voice": voice}, mime_type=mime_type, media_id=media_id,
        sha256=sha256, url=url, id=id, timestamp=timestamp, context=context, referral=referral,
        rng=rng,
    )  # fmt: skip


def document(
    sender: Customer,
    filename: str,
    caption: str | None = None,
    *,
    mime_type: str = "application/pdf",
    media_id: str | None = None,
    sha256: str | None = None,
    url: str | bool = True,
    id: str | None = None,
    timestamp: str | None = None,
    context: Mapping[str, Any] | None = None,
    referral: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Message:
    head: JSON = {"caption": caption} if caption is not None else {}
    head["filename"] = filename
    return _media_message(
        sender, "document", head, {}, mime_type=mime_type, media_id=media_id, sha256=sha256,
        url=url, id=id, timestamp=timestamp, context=context, referral=referral, rng=rng,
    )  # fmt: skip


def sticker(
    sender: Customer,
    *,
    animated: bool = False,
    mime_type: str = "image/webp",
    media_id: str | None = None,
    sha256: str | None = None,
    url: str | bool = True,
    id: str | None = None,
    timestamp: str | None = None,
    context: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A sticker: always WebP; `animated` says whether it moves."""
    return _media_message(
        sender, "sticker", {}, {"animated": animated}, mime_type=mime_type, media_id=media_id,
        sha256=sha256, url=url, id=id, timestamp=timestamp, context=context, referral=None,
        rng=rng,
    )  # fmt: skip
