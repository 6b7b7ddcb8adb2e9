"""One update of each kind the load mix names, made by the public builders.

`build_update(kind, customer, account, era, values)` is the recipe
`fakemeta.simulator.load.bodies` turns into templates: every value that must differ
from body to body (message ids, timestamps, media ids and hashes,
conversation ids) comes from `values`, by slot name; everything else is
fixed per kind and customer. The slots: `id` (the inbound message id),
`out` (a status's outbound message id), `ref` (the business message a reply
or reaction refers to), `ts`, `media`, `sha`, `ext` and `hash` (the media
download URL's expiry and signature), `conv` and `exp` (a 2025 status's
conversation id and expiry).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from fakemeta.simulator import ids
from fakemeta.simulator import messages as m
from fakemeta.simulator import statuses as s
from fakemeta.simulator.envelopes import Account, Customer, message_payload, status_payload
from fakemeta.simulator.eras import Era
from fakemeta.simulator.load.mix import STATUS_KINDS
from fakemeta.simulator.types import Payload

__all__ = ["SLOTS", "build_update", "customers_for", "lookaside"]

SLOTS = ("id", "out", "ref", "ts", "media", "sha", "ext", "hash", "conv", "exp")

_LOOKASIDE = "https://lookaside.fbsbx.com/whatsapp_business/attachments/"

#: Names and texts the pool of customers cycles through: non-ASCII, emoji
#: (surrogate pairs on the wire) and URLs (`\/`) included on purpose.
_NAMES = ("Layla Hassan", "محمد العتيبي", "Zoë Ångström", "Test User", "Priya Nair", "王小明")
_TEXTS = (
    "مرحبا، هل الطلب جاهز؟ 👋",
    "Hi, is my order ready?",
    "Check this out: https://example.com/offers/2026/ramadan?ref=wa",
    "Yes please, Thursday at 10:00 works 👍",
    "Zoë's café order #42 — extra milk",
    "Does it come in another colour?",
)
_CAPTIONS = ("صورة الفاتورة / invoice photo", None, "The leak under the sink 🎥")


def lookaside(media_id: str, ext: str, digest: str) -> str:
    """A media download URL in the shape `fakemeta.simulator.messages.lookaside_url` makes."""
    return f"{_LOOKASIDE}?mid={media_id}&source=webhook&ext={ext}&hash=AR{digest}"


def customers_for(era: Era, count: int, rng: random.Random) -> list[Customer]:
    """The run's senders: numbers (and in the 2026 era business-scoped ids)
    from `rng`; in 2026 every tenth one known only by user id and username."""
    pool: list[Customer] = []
    for index in range(count):
        name = _NAMES[index % len(_NAMES)]
        if era.business_scoped_ids and index % 10 == 9:
            user_id = ids.bsuid(ids.country_of(None, rng), rng)
            pool.append(Customer(None, name, user_id=user_id, username=f"user.{index}"))
        else:
            pool.append(Customer.generate(name, rng, era=era))
    return pool


def build_update(
    kind: str,
    customer: Customer,
    account: Account,
    era: Era,
    values: Mapping[str, str],
    variant: int = 0,
) -> Payload:
    """One update of `kind` as a whole payload, its per-body fields taken
    from `values` (placeholder tokens when making a template)."""
    v, c = values, customer
    if kind in STATUS_KINDS:
        return status_payload(account, _status(kind, c, era, v), c)
    text = _TEXTS[variant % len(_TEXTS)]
    at, mid = v["ts"], v["id"]
    media: dict[str, Any] = {"media_id": v.get("media"), "sha256": v.get("sha"), "url": False}
    if kind in ("image", "video", "audio", "document", "sticker") and era.name != "2025":
        # The download URL arrived in November 2025: the 2025 shapes go without.
        media["url"] = lookaside(v["media"], v["ext"], v["hash"])
    caption = _CAPTIONS[variant % len(_CAPTIONS)]
    reply = m.reply_context(account.display_phone_number, v.get("ref", ""))
    message = {
        "text": lambda: m.text(c, text, id=mid, timestamp=at),
        "image": lambda: m.image(c, caption, id=mid, timestamp=at, **media),
        "video": lambda: m.video(c, caption, id=mid, timestamp=at, **media),
        "audio": lambda: m.audio(c, voice=True, id=mid, timestamp=at, **media),
        "document": lambda: m.document(
            c, "عقد_الإيجار_2026.pdf", caption, id=mid, timestamp=at, **media
        ),
        "sticker": lambda: m.sticker(c, animated=variant % 2 == 1, id=mid, timestamp=at, **media),
        "location": lambda: m.location(
            c,
            24.7136,
            46.6753,
            name="مقهى الرياض",
            address="King Fahd Rd, Riyadh 12214",
            url="https://maps.example.com/place/riyadh-cafe",
            id=mid,
            timestamp=at,
        ),
        "contacts": lambda: m.contacts(
            c,
            [
                m.contact_card(
                    "Zoë O'Brien",
                    first_name="Zoë",
                    last_name="O'Brien",
                    phones=[("+44 7700 900123", "447700900123", "CELL")],
                )
            ],
            id=mid,
            timestamp=at,
        ),
        "reaction": lambda: m.reaction(c, v["ref"], "❤️", id=mid, timestamp=at),
        "interactive": lambda: m.interactive_button_reply(
            c, "confirm_booking", "Confirm ✅", context=reply, id=mid, timestamp=at
        ),
        "button": lambda: m.button(
            c, "unsubscribe-marketing", "Stop promotions", context=reply, id=mid, timestamp=at
        ),
    }[kind]()
    return message_payload(account, message, c)


def _status(kind: str, c: Customer, era: Era, v: Mapping[str, str]) -> Any:
    """What `statuses.sent/delivered/read/failed(id, c, timestamp=, era=)` make,
    with the conversation id (the one value they draw) taken from `v`."""
    if kind == "failed":
        return s.failed(v["out"], c, timestamp=v["ts"])
    category = None if kind == "read" else "service"  # pricing goes with delivered
    price = s.pricing(category) if category is not None else None
    conversation = None
    if price is not None and (era.conversation_on_statuses or price["type"] == "free_entry_point"):
        expiration = v["exp"] if kind == "sent" else None
        conversation = s.conversation(
            category or "service", conversation_id=v["conv"], expiration_timestamp=expiration
        )
    return s.status(v["out"], kind, c, timestamp=v["ts"], conversation=conversation, pricing=price)
