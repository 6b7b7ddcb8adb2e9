"""Inbound messages exactly as Meta writes them: the first step of the data flow.

builders (here) -> envelopes.message_payload() -> encoding.encode() -> sign -> deliver

One function per message type a WhatsApp user can send, each returning a
plain dict (typed `Message`) whose keys are inserted in Meta's order, because
the signature covers the bytes and the bytes follow insertion order. Media,
interactive replies and orders live in `_media` and `_interactive`; the
common frame (`context`, `referral`, sender fields, id, timestamp, errors,
type) in `_message_base`, which documents the order and its sources.

Every builder takes keyword-only `id` and `timestamp` (fresh `wamid.` and
now by default) and `rng`, handed to `fakemeta.simulator.ids`, so that a seeded
`random.Random` makes the output reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from fakemeta.simulator import ids
from fakemeta.simulator._interactive import (
    button,
    interactive_button_reply,
    interactive_list_reply,
    interactive_nfm_reply,
    order,
    product_item,
)
from fakemeta.simulator._media import audio, document, image, lookaside_url, sticker, video
from fakemeta.simulator._message_base import (
    JSON,
    ad_referral,
    assemble,
    forwarded,
    frequently_forwarded,
    referred_product_context,
    reply_context,
)
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.types import Message

__all__ = [
    "MESSAGE_TYPES",
    "UNSUPPORTED_ERROR",
    "ad_referral",
    "assemble",
    "audio",
    "button",
    "contact_card",
    "contacts",
    "document",
    "edit",
    "forwarded",
    "frequently_forwarded",
    "image",
    "interactive_button_reply",
    "interactive_list_reply",
    "interactive_nfm_reply",
    "location",
    "lookaside_url",
    "order",
    "product_item",
    "reaction",
    "referred_product_context",
    "reply_context",
    "request_welcome",
    "revoke",
    "sticker",
    "system_user_changed_number",
    "system_user_changed_user_id",
    "text",
    "unsupported",
    "video",
]

#: Every `type` value these builders produce.
MESSAGE_TYPES: tuple[str, ...] = (
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "order",
    "system",
    "request_welcome",
    "unsupported",
    "edit",
    "revoke",
)

#: The error Meta attaches to a message type Cloud API cannot show (Meta's
#: unsupported-message reference and OpenAPI example, 2025-2026).
UNSUPPORTED_ERROR: JSON = {
    "code": 131051,
    "title": "Message type unknown",
    "message": "Message type unknown",
    "error_data": {"details": "Message type is currently not supported."},
}


def text(
    sender: Customer,
    body: str,
    *,
    id: str | None = None,
    timestamp: str | None = None,
    context: Mapping[str, Any] | None = None,
    referral: Mapping[str, Any] | None = None,
    group_id: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A text message (Meta allows up to 4096 characters); `group_id` for one
    written in a group chat the business is in (2026).

    Live text messages put `text` BEFORE `type`: `..."timestamp":"1788875624",
    "text":{"body":"testeeee"},"type":"text"}` in every capture we found
    (2023-2026, with and without `context` and `from_user_id`), and in Meta's
    older payload examples, while the current reference pages show `type`
    first. We follow the live captures: the signature covers this order.
    """
    return assemble(
        sender, "text", {"body": body}, id=id, timestamp=timestamp, context=context,
        referral=referral, content_first=True, group_id=group_id, rng=rng,
    )  # fmt: skip


def reaction(
    sender: Customer,
    message_id: str,
    emoji: str | None,
    *,
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """An emoji reaction to `message_id`; `emoji=None` is the removal of a
    reaction, which Meta sends without an `emoji` key at all."""
    content: JSON = {"message_id": message_id}
    if emoji is not None:
        content["emoji"] = emoji
    return assemble(sender, "reaction", content, id=id, timestamp=timestamp, rng=rng)


def location(
    sender: Customer,
    latitude: float,
    longitude: float,
    *,
    name: str | None = None,
    address: str | None = None,
    url: str | None = None,
    id: str | None = None,
    timestamp: str | None = None,
    context: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Message:
    """A shared location: a venue (`address`, `name`, and for businesses a
    `url`) or a bare pin (only `latitude` and `longitude`, as numbers).

    Order from Meta's current location reference and OpenAPI example:
    address, latitude, longitude, name, url.
    """
    content: JSON = {}
    if address is not None:
        content["address"] = address
    content["latitude"] = latitude
    content["longitude"] = longitude
    if name is not None:
        content["name"] = name
    if url is not None:
        content["url"] = url
    return assemble(
        sender, "location", content, id=id, timestamp=timestamp, context=context, rng=rng
    )


def contact_card(
    formatted_name: str,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    middle_name: str | None = None,
    suffix: str | None = None,
    prefix: str | None = None,
    phones: Sequence[tuple[str, str | None, str]] = (),
    emails: Sequence[tuple[str, str]] = (),
    urls: Sequence[tuple[str, str]] = (),
    addresses: Sequence[Mapping[str, str]] = (),
    org: Mapping[str, str] | None = None,
    birthday: str | None = None,
) -> JSON:
    """One shared contact, vCard-like. Only what the user's phone shares is
    present; `formatted_name` always is.

    `phones` are `(phone, wa_id or None, type)`: a number not on WhatsApp has
    no `wa_id`. `emails` and `urls` are `(value, type)`. Card keys follow
    Meta's contacts reference (addresses, birthday, emails, name, org,
    phones, urls); inside `name`, first and last name come before
    `formatted_name`, as in Meta's example payload.
    """
    card: JSON = {}
    if addresses:
        card["addresses"] = [dict(a) for a in addresses]
    if birthday is not None:
        card["birthday"] = birthday
    if emails:
        card["emails"] = [{"email": e, "type": t} for e, t in emails]
    name: JSON = {}
    for key, value in (
        ("first_name", first_name),
        ("last_name", last_name),
        ("middle_name", middle_name),
        ("suffix", suffix),
        ("prefix", prefix),
    ):
        if value is not None:
            name[key] = value
    name["formatted_name"] = formatted_name
    card["name"] = name
    if org is not None:
        card["org"] = dict(org)
    if phones:
        card["phones"] = [
            {"phone": p, **({"wa_id": w} if w is not None else {}), "type": t} for p, w, t in phones
        ]
    if urls:
        card["urls"] = [{"url": u, "type": t} for u, t in urls]
    return card


def contacts(
    sender: Customer,
    cards: Sequence[Mapping[str, Any]],
    *,
    id: str | None = None,
    timestamp: str | None = None,
    context: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> Message:
    """One or more shared contacts (build each with `contact_card`). Not to be
    confused with the envelope's `contacts` array, which names the sender."""
    return assemble(
        sender, "contacts", [dict(c) for c in cards], id=id, timestamp=timestamp,
        context=context, rng=rng,
    )  # fmt: skip


def system_user_changed_number(
    sender: Customer,
    new_wa_id: str,
    *,
    new_user_id: str | None = None,
    new_parent_user_id: str | None = None,
    name: str | None = None,
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """The user moved to a new number: `from` is the old one, `system.wa_id`
    the new. Send it with `message_payload(..., senders=None)`: system
    messages come without a contacts array (Meta's system messages webhook
    reference, Updated Aug 11, 2026).

    A user with a business-scoped id gets a new one with the new number
    ("BSUIDs are regenerated if a user changes their phone number", Meta's
    business-scoped user id guide, May 7, 2026), so for such a sender the
    system object also carries `user_id` (`new_user_id`, drawn from `rng`
    when None), `parent_user_id` when the sender has one, and the previous
    values (`previous_user_id`, `previous_parent_user_id`: Meta's changelog,
    Aug 11, 2026). Their place after the new values is our choice: Meta
    shows none.
    """
    who = name if name is not None else (sender.name or "")
    old = sender.wa_id or sender.user_id or ""
    content: JSON = {"body": f"User {who} changed from {old} to {new_wa_id}", "wa_id": new_wa_id}
    if sender.user_id is not None:
        country = ids.country_of(new_wa_id, rng)
        content["user_id"] = new_user_id or ids.bsuid(country, rng)
        if sender.parent_user_id is not None:
            content["parent_user_id"] = new_parent_user_id or ids.parent_bsuid(country, rng)
        _previous_ids(content, sender)
    content["type"] = "user_changed_number"
    return assemble(sender, "system", content, id=id, timestamp=timestamp, rng=rng)


def system_user_changed_user_id(
    sender: Customer,
    new_user_id: str,
    *,
    parent_user_id: str | None = None,
    name: str | None = None,
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """The user's business-scoped id changed (2026). Meta's system messages
    reference (Updated Aug 11, 2026): "reports only the BSUID change; no
    phone number is included", and no contacts array. Keys: `body` ("User
    <name> changed from <OLD_BSUID> to <NEW_BSUID>", the business-scoped
    user id guide), `user_id`, `parent_user_id` (parent ids enabled), the
    previous values (changelog, Aug 11, 2026), `type`."""
    who = name if name is not None else (sender.name or sender.username or "")
    old = sender.user_id or sender.wa_id or ""
    content: JSON = {
        "body": f"User {who} changed from {old} to {new_user_id}",
        "user_id": new_user_id,
    }
    if parent_user_id is not None:
        content["parent_user_id"] = parent_user_id
    _previous_ids(content, sender)
    content["type"] = "user_changed_user_id"
    return assemble(sender, "system", content, id=id, timestamp=timestamp, rng=rng)


def _previous_ids(content: JSON, sender: Customer) -> None:
    if sender.user_id is not None:
        content["previous_user_id"] = sender.user_id
    if sender.parent_user_id is not None:
        content["previous_parent_user_id"] = sender.parent_user_id


def request_welcome(
    sender: Customer,
    *,
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """The user opened a chat with the business for the first time: only the
    frame, no object of its own (Meta's welcome-message reference)."""
    return assemble(sender, "request_welcome", None, id=id, timestamp=timestamp, rng=rng)


def unsupported(
    sender: Customer,
    *,
    unsupported_type: str | None = None,
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """Something Cloud API cannot show (a poll, a view-once photo, a message
    from a Business app number ...): `errors` BEFORE `type` (Meta's OpenAPI
    example and reference), and since 2025 `unsupported: {"type": ...}` AFTER
    `type` naming what it was (Meta's reference: e.g. `"edit"`)."""
    content = {"type": unsupported_type} if unsupported_type is not None else None
    return assemble(
        sender, "unsupported", content, id=id, timestamp=timestamp,
        errors=[dict(UNSUPPORTED_ERROR, error_data=dict(UNSUPPORTED_ERROR["error_data"]))],
        rng=rng,
    )  # fmt: skip


def edit(
    sender: Customer,
    original_message_id: str,
    new_content: str | Mapping[str, Any],
    *,
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """The user edited a message they sent: `edit.message` is the new content,
    `{"type": ..., <type>: ...}` (a string means a new text body)."""
    message: JSON = (
        {"type": "text", "text": {"body": new_content}}
        if isinstance(new_content, str)
        else dict(new_content)
    )
    content = {"original_message_id": original_message_id, "message": message}
    return assemble(sender, "edit", content, id=id, timestamp=timestamp, rng=rng)


def revoke(
    sender: Customer,
    original_message_id: str,
    *,
    id: str | None = None,
    timestamp: str | None = None,
    rng: random.Random | None = None,
) -> Message:
    """The user deleted a message for everyone."""
    content = {"original_message_id": original_message_id}
    return assemble(sender, "revoke", content, id=id, timestamp=timestamp, rng=rng)
