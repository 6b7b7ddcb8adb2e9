"""One canonical, realistic message per named variant.

The catalog (`fakemeta.simulator.catalog`) turns these into the fixture files
(`fixtures/messages/<name>.json`) and into `fakemeta send URL <name>`. Given
the same sender, business number, `random.Random` state and timestamp, the
result is the same, byte for byte: every id is drawn from `rng` in a fixed
order. The content is chosen to exercise receivers: Arabic and emoji (escaped
as `\\uXXXX` and surrogate pairs on the wire), URLs (`/` escaped as `\\/`),
quotes inside Flow answers.
"""

from __future__ import annotations

import random

from fakemeta.simulator import ids
from fakemeta.simulator import messages as m
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.types import Message

__all__ = ["identity_examples", "message_examples"]


def message_examples(
    sender: Customer, business_number: str, rng: random.Random, timestamp: str
) -> dict[str, Message]:
    """Variant name -> message, all from `sender`, all at `timestamp`.

    `business_number` is the business's display number, used in reply
    contexts. Messages quoted by contexts, reactions, edits and revokes are
    given ids of their own drawn from `rng`.
    """
    number = sender.wa_id or sender.user_id or ids.wa_id(rng)
    at = timestamp

    def business_message() -> str:
        return ids.wamid(number, inbound=False, rng=rng)

    def own_message() -> str:
        return ids.wamid(number, rng=rng)

    out: dict[str, Message] = {}

    out["text"] = m.text(sender, "مرحبا، هل الطلب جاهز؟ 👋", timestamp=at, rng=rng)
    out["text_reply"] = m.text(
        sender, "Yes please, Thursday at 10:00 works 👍",
        context=m.reply_context(business_number, business_message()), timestamp=at, rng=rng,
    )  # fmt: skip
    out["text_forwarded"] = m.text(
        sender, "Check this out: https://example.com/offers/2026/ramadan?ref=wa",
        context=m.forwarded(), timestamp=at, rng=rng,
    )  # fmt: skip
    out["text_frequently_forwarded"] = m.text(
        sender, "⚠️ Forward this to 10 friends to win a free phone!!!",
        context=m.frequently_forwarded(), timestamp=at, rng=rng,
    )  # fmt: skip
    out["text_referred_product"] = m.text(
        sender, "Does it come in another colour?",
        context=m.referred_product_context(
            business_number, business_message(), ids.digits(15, rng), "sku-tee-042"
        ),
        timestamp=at, rng=rng,
    )  # fmt: skip
    out["text_ad_referral"] = m.text(
        sender, "أريد معرفة المزيد عن العرض",
        referral=m.ad_referral(
            body="Summer sale: 30% off all succulents 🌵",
            headline="Chat with us",
            welcome_message="Hi there! Let us know how we can help.",
            rng=rng,
        ),
        timestamp=at, rng=rng,
    )  # fmt: skip
    out["image"] = m.image(sender, "صورة الفاتورة / invoice photo", timestamp=at, rng=rng)
    out["video"] = m.video(sender, "The leak under the sink 🎥", timestamp=at, rng=rng)
    out["audio"] = m.audio(sender, voice=False, mime_type="audio/mpeg", timestamp=at, rng=rng)
    out["voice"] = m.audio(sender, voice=True, timestamp=at, rng=rng)
    out["document"] = m.document(
        sender, "عقد_الإيجار_2026.pdf", "Signed contract, page 2/3 attached", timestamp=at, rng=rng,
    )  # fmt: skip
    out["sticker"] = m.sticker(sender, animated=False, timestamp=at, rng=rng)
    out["sticker_animated"] = m.sticker(sender, animated=True, timestamp=at, rng=rng)
    out["location"] = m.location(
        sender, 24.7136, 46.6753, name="مقهى الرياض",
        address="King Fahd Rd, Al Olaya, Riyadh 12214",
        url="https://maps.example.com/place/riyadh-cafe", timestamp=at, rng=rng,
    )  # fmt: skip
    out["location_pin"] = m.location(sender, 30.0444196, 31.2357116, timestamp=at, rng=rng)
    out["contacts"] = m.contacts(
        sender,
        [
            m.contact_card(
                "د. سارة الأحمد", first_name="سارة", last_name="الأحمد", prefix="د.",
                phones=[
                    ("+966 50 123 4567", "966501234567", "CELL"),
                    ("+966 11 456 7890", None, "WORK"),
                ],
                emails=[("sara@example.com", "WORK")],
                urls=[("https://example.com/clinic/sara", "WORK")],
                org={"company": "Riyadh Clinic", "title": "Dentist"},
                birthday="1988-04-12",
            ),
            m.contact_card("Zoë O'Brien", first_name="Zoë", last_name="O'Brien"),
        ],
        timestamp=at, rng=rng,
    )  # fmt: skip
    out["interactive_button_reply"] = m.interactive_button_reply(
        sender, "confirm_booking", "Confirm ✅",
        context=m.reply_context(business_number, business_message()), timestamp=at, rng=rng,
    )  # fmt: skip
    out["interactive_list_reply"] = m.interactive_list_reply(
        sender, "priority_express", "Priority Express", "Next day, 2/3 days at most",
        context=m.reply_context(business_number, business_message()), timestamp=at, rng=rng,
    )  # fmt: skip
    out["interactive_nfm_reply"] = m.interactive_nfm_reply(
        sender,
        {"flow_token": "booking-7f3a", "date": "2026-01-15", "notes": 'Ring "twice" please'},
        context=m.reply_context(business_number, business_message()), timestamp=at, rng=rng,
    )  # fmt: skip
    out["button"] = m.button(
        sender, "unsubscribe-marketing", "Stop promotions",
        context=m.reply_context(business_number, business_message()), timestamp=at, rng=rng,
    )  # fmt: skip
    out["reaction"] = m.reaction(sender, business_message(), "❤️", timestamp=at, rng=rng)
    out["reaction_removed"] = m.reaction(sender, business_message(), None, timestamp=at, rng=rng)
    out["order"] = m.order(
        sender, ids.digits(15, rng),
        [
            m.product_item("sku-tee-042", 2, 30.0, "USD"),
            m.product_item("sku-cap-007", 1, 12.5, "USD"),
        ],
        timestamp=at, rng=rng,
    )  # fmt: skip
    out["system_number_changed"] = m.system_user_changed_number(
        sender, ids.wa_id(rng), timestamp=at, rng=rng
    )
    if sender.user_id is not None:  # business-scoped ids (2026) only
        out["system_user_id_changed"] = m.system_user_changed_user_id(
            sender, ids.bsuid(ids.country_of(sender.wa_id, rng), rng), timestamp=at, rng=rng
        )
    out["request_welcome"] = m.request_welcome(sender, timestamp=at, rng=rng)
    out["unsupported"] = m.unsupported(
        sender, unsupported_type="poll_creation", timestamp=at, rng=rng
    )
    edited = own_message()
    out["edit"] = m.edit(
        sender, edited, "Correction: الموعد يوم الخميس, not Wednesday", timestamp=at, rng=rng
    )
    out["revoke"] = m.revoke(sender, own_message(), timestamp=at, rng=rng)
    if sender.user_id is not None:  # groups arrived with the 2026 shapes
        out["text_group"] = m.text(
            sender, "Is the shop open on Friday? 🕌", group_id=ids.group_id(business_number, rng),
            timestamp=at, rng=rng,
        )  # fmt: skip
    return out


def identity_examples(
    business_number: str, rng: random.Random, timestamp: str
) -> dict[str, tuple[Message, Customer]]:
    """2026 variants about who the sender is, each with its own sender: a
    user Meta shares only by business-scoped id and username (no `wa_id`,
    no `from`), and one of a business with parent ids enabled."""
    del business_number  # the same signature as `message_examples`, for the catalog
    phoneless = Customer(None, "Nour Salem", user_id=ids.bsuid("EG", rng), username="nour.designs")
    number = ids.wa_id(rng)
    country = ids.country_of(number)
    with_parent = Customer(
        number, "Pablo Morales", user_id=ids.bsuid(country, rng),
        parent_user_id=ids.parent_bsuid(country, rng),
    )  # fmt: skip
    return {
        "text_phoneless": (
            m.text(phoneless, "Hi! Do you ship to Alexandria?", timestamp=timestamp, rng=rng),
            phoneless,
        ),
        # A system message has no contacts array, and this one no `from` either.
        "system_user_id_changed_phoneless": (
            m.system_user_changed_user_id(
                phoneless, ids.bsuid("EG", rng), timestamp=timestamp, rng=rng
            ),
            phoneless,
        ),
        "text_parent_user_id": (
            m.text(with_parent, "Does it come in another color?", timestamp=timestamp, rng=rng),
            with_parent,
        ),
    }
