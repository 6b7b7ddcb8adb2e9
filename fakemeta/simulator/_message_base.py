"""The common frame of an inbound message, and its `context` and `referral`.

Every message builder (`fakemeta.simulator.messages`, `_media`, `_interactive`) puts
its type's object into the same frame, so the frame's key order is decided
once, here. The order is what Meta writes, and the signature covers it:

    context, referral, from, from_user_id, from_parent_user_id, group_id,
    id, timestamp, errors, type, <type>

Sources:
- `context` first: every live capture of a reply, button or interactive
  message (e.g. `{"context":{"from":...,"id":...},"from":...}`, 2024-2026) and
  Meta's examples; `referral` first: Meta's Click-to-WhatsApp example
  (`"messages":[{"referral":{...},"from":...}]`) and a live capture
  (`{"referral":{...},"from":"549...","id":...}`).
- `from_user_id` right after `from`: live 2026 captures
  (`"from":"51920155032","from_user_id":"PE.9677...","id":...`);
  `from_parent_user_id` and `group_id` next: Meta's business-scoped user id
  guide (May 7, 2026) syntax (`from`, `from_user_id`, `from_parent_user_id`,
  `group_id`, `id`, ...). `group_id` only on messages in a group chat
  (Meta's group messages reference, Updated Jun 17, 2026).
- `errors` between `timestamp` and `type`: Meta's unsupported-message
  reference and its OpenAPI example.
- the one exception, `text` before `type` for text messages, lives in
  `fakemeta.simulator.messages.text` with its sources.
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Mapping
from typing import Any, cast

from fakemeta.simulator import ids
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.types import Message

__all__ = [
    "JSON",
    "ad_referral",
    "assemble",
    "forwarded",
    "frequently_forwarded",
    "referred_product_context",
    "reply_context",
    "sender_number",
]

JSON = dict[str, Any]

_system = random.SystemRandom()


def _rng(rng: random.Random | None) -> random.Random:
    return rng if rng is not None else _system


def sender_number(sender: Customer, rng: random.Random | None = None) -> str:
    """What a message id of this chat encodes: the user's number, or for a
    user known only by business-scoped id, that id."""
    return sender.wa_id or sender.user_id or ids.wa_id(rng)


def assemble(
    sender: Customer,
    message_type: str,
    content: Any = None,
    *,
    id: str | None,
    timestamp: str | None,
    context: Mapping[str, Any] | None = None,
    referral: Mapping[str, Any] | None = None,
    errors: list[JSON] | None = None,
    content_first: bool = False,
    group_id: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """One message in Meta's key order; `content` goes under the type's own
    key (nothing when None). `content_first` puts it before `type`, as live
    text messages have it."""
    message: JSON = {}
    if context is not None:
        message["context"] = dict(context)
    if referral is not None:
        message["referral"] = dict(referral)
    message.update(sender.sender_fields)
    if group_id is not None:
        message["group_id"] = group_id
    message["id"] = id if id is not None else ids.wamid(sender_number(sender, rng), rng=rng)
    message["timestamp"] = timestamp if timestamp is not None else ids.timestamp()
    if errors is not None:
        message["errors"] = errors
    if content is not None and content_first:
        message[message_type] = content
    message["type"] = message_type
    if content is not None and not content_first:
        message[message_type] = content
    return cast(Message, message)


def reply_context(business_number: str, message_id: str) -> JSON:
    """A reply to (or a tap on a button of) the business message `message_id`.

    `from` is the business's display number, as Meta writes it (digits, no `+`).
    """
    return {"from": business_number, "id": message_id}


def forwarded() -> JSON:
    return {"forwarded": True}


def frequently_forwarded() -> JSON:
    """A message forwarded more than five times (Meta sends this flag alone)."""
    return {"frequently_forwarded": True}


def referred_product_context(
    business_number: str, message_id: str, catalog_id: str, product_retailer_id: str
) -> JSON:
    """A message sent through "Message business" on a product: the context
    names the product (Meta's OpenAPI `ContextObject`)."""
    return {
        "from": business_number,
        "id": message_id,
        "referred_product": {
            "catalog_id": catalog_id,
            "product_retailer_id": product_retailer_id,
        },
    }


def _clid(rng: random.Random) -> str:
    # Real ctwa_clid values are long URL-safe base64 tokens starting with "A".
    raw = bytes(rng.getrandbits(8) for _ in range(96))
    return "A" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def ad_referral(
    *,
    body: str,
    headline: str,
    source_type: str = "ad",
    media_type: str = "image",
    source_url: str | None = None,
    source_id: str | None = None,
    image_url: str | None = None,
    video_url: str | None = None,
    thumbnail_url: str | None = None,
    ctwa_clid: str | None = None,
    welcome_message: str | None = None,
    rng: random.Random | None = None,
) -> JSON:
    """The `referral` of the first message after a tap on a Click-to-WhatsApp ad.

    Key order from Meta's current reference (its OpenAPI `ReferralObject`, which
    a live capture agrees with: `source_type` then `body`). An image ad
    carries `image_url`; a video ad `video_url` and `thumbnail_url`. Missing
    ids and URLs are generated; every URL has `/` in it, which Meta escapes.
    """
    r = _rng(rng)
    referral: JSON = {
        "source_url": source_url
        or "https://fb.me/"
        + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(9)),
        "source_id": source_id or ids.digits(18, rng),
        "source_type": source_type,
        "body": body,
        "headline": headline,
        "media_type": media_type,
    }
    cdn = "https://scontent.xx.fbcdn.net/v/t45.1600-4/" + ids.digits(9, rng)
    if media_type == "video":
        referral["video_url"] = (
            video_url or f"https://video.xx.fbcdn.net/v/t42.1790-2/{ids.digits(9, rng)}_n.mp4"
        )
        referral["thumbnail_url"] = thumbnail_url or cdn + "_n.jpg"
    else:
        referral["image_url"] = image_url or cdn + "_n.png"
    referral["ctwa_clid"] = ctwa_clid or _clid(r)
    if welcome_message is not None:
        referral["welcome_message"] = {"text": welcome_message}
    return referral
