"""Strategies for inbound messages, one per type, for a given sender.

The Hypothesis side of `fakemeta.simulator.messages`: every strategy draws the
content (hostile text, many scripts), the ids (`wamid.`, media ids, hashes)
and the time, then calls the builder, so the key order is the builders' and
every value is reproducible from the Hypothesis seed. Media types live in
`_media_messages`, the shared pieces (frame, contexts, referrals) in
`_message_parts`; `inbound_messages` and `MESSAGE_STRATEGIES` cover them all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from hypothesis import strategies as st

from fakemeta.simulator import eras, ids, messages
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.strategies._ids import (
    bsuids,
    parent_bsuids,
    phone_number_ids,
    wa_ids,
    wamids,
)
from fakemeta.simulator.strategies._media_messages import (
    audio_messages,
    document_messages,
    image_messages,
    sticker_messages,
    video_messages,
)
from fakemeta.simulator.strategies._message_parts import (
    business_message_ids,
    chat_number,
    check_sender,
    contexts,
    frames,
    referrals,
    reply_contexts,
    retailer_ids,
    rngs,
    short_texts,
)
from fakemeta.simulator.strategies._prepare import validated_with
from fakemeta.simulator.strategies._text import hostile_texts, person_names, texts
from fakemeta.simulator.types import Message

__all__ = [
    "MESSAGE_STRATEGIES",
    "audio_messages",
    "button_messages",
    "contacts_messages",
    "document_messages",
    "edit_messages",
    "image_messages",
    "inbound_messages",
    "interactive_messages",
    "location_messages",
    "order_messages",
    "reaction_messages",
    "request_welcome_messages",
    "revoke_messages",
    "sticker_messages",
    "system_messages",
    "text_messages",
    "unsupported_messages",
    "video_messages",
]

_EMOJI = ("👍", "❤️", "😂", "😮", "😢", "🙏", "👍🏽", "🇸🇦", "👨‍👩‍👧‍👦", "✅", "🔥")
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ALPHANUMERIC = _LOWER.upper() + _LOWER + "0123456789"
_UNSUPPORTED_TYPES = ("edit", "poll_creation", "view_once", "unknown", "album", "event")


def text_messages(sender: Customer, *, era: Era | str | None = None) -> st.SearchStrategy[Message]:
    """Text, with or without a context or an ad referral; in 2026 some are
    written in a group chat the business is in (`group_id`)."""
    check_sender(sender)
    groups = st.none()
    if eras.era(era).groups:
        groups = st.one_of(st.none(), st.builds(ids.group_id, wa_ids(), rngs))
    return st.builds(
        # An ad's referral opens a one-to-one chat: never in a group.
        lambda body, frame, context, referral, group: messages.text(
            sender,
            body,
            context=context,
            referral=referral,
            group_id=group if referral is None else None,
            **frame,
        ),
        st.one_of(texts(), hostile_texts()),
        frames(sender),
        contexts(sender),
        referrals(),
        groups,
    )


def location_messages(sender: Customer) -> st.SearchStrategy[Message]:
    """Venues (address, name, sometimes a URL) and bare pins."""
    check_sender(sender)
    latitudes = st.floats(min_value=-90, max_value=90, allow_nan=False)
    longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)
    venues = st.fixed_dictionaries(
        {"name": short_texts(200), "address": short_texts(300)},
        optional={
            "url": st.sampled_from(("https://philzcoffee.com/", "https://example.com/a/b?c=1"))
        },
    )
    return st.builds(
        lambda lat, lon, venue, frame, context: messages.location(
            sender, lat, lon, context=context, **venue, **frame
        ),
        latitudes,
        longitudes,
        st.one_of(st.just({}), venues),
        frames(sender),
        contexts(sender),
    )


# What a shared contact card draws, built once at import (a strategy built
# inside the draw is validated anew for every card).
_phone_kinds = st.sampled_from(("CELL", "MOBILE", "HOME", "WORK", "MAIN", "IPHONE"))
_card_kinds = st.sampled_from(("HOME", "WORK"))
_card_phones = st.lists(
    st.builds(
        lambda number, on_whatsapp, kind: ("+" + number, number if on_whatsapp else None, kind),
        wa_ids(),
        st.booleans(),
        _phone_kinds,
    ),
    max_size=3,
)
# Hypothesis's RFC 5322 local parts at a few fixed domains: its generated
# domains cost more draws than the rest of a card.
_card_domains = st.sampled_from(
    (
        "example.com",
        "mail.example.sa",
        "EXAMPLE.ORG",
        "sub-1.example.com.br",
        "xn--ngbrx.xn--mgbh0fb",
    )
)
_card_emails = st.lists(st.tuples(st.emails(domains=_card_domains), _card_kinds), max_size=2)
_card_orgs = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"company": short_texts(80)},
        optional={"department": short_texts(40), "title": short_texts(40)},
    ),
)
# Meta's contacts reference: street, city, state, zip, country,
# country_code and type, each only when the phone shares it.
_card_addresses = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "street": short_texts(60),
            "city": short_texts(30),
            "state": short_texts(20),
            "zip": st.text("0123456789", min_size=5, max_size=5),
            "country": short_texts(30),
            "country_code": st.sampled_from(("us", "sa", "eg", "br", "in", "de")),
            "type": _card_kinds,
        },
    ),
    max_size=2,
)
_card_formatted = st.one_of(person_names(), short_texts(100))
_card_names = st.one_of(st.none(), person_names())
_card_suffixes = st.one_of(st.none(), st.sampled_from(("Jr.", "Sr.", "III", "PhD")))
_card_prefixes = st.one_of(st.none(), st.sampled_from(("Dr.", "Mr.", "Ms.", "د.")))
_card_urls = st.lists(st.tuples(st.just("https://example.com/u/1"), _card_kinds), max_size=1)
_card_birthdays = st.one_of(st.none(), st.dates().map(lambda d: d.isoformat()))


@st.composite
def _contact_cards(draw: st.DrawFn) -> dict[str, Any]:
    formatted = draw(_card_formatted)
    phones = draw(_card_phones)
    emails = draw(_card_emails)
    org = draw(_card_orgs)
    addresses = draw(_card_addresses)
    return messages.contact_card(
        formatted,
        first_name=draw(_card_names),
        last_name=draw(_card_names),
        middle_name=draw(_card_names),
        suffix=draw(_card_suffixes),
        prefix=draw(_card_prefixes),
        phones=phones,
        emails=emails,
        urls=draw(_card_urls),
        addresses=addresses,
        org=org,
        birthday=draw(_card_birthdays),
    )


_CONTACT_CARDS = validated_with(
    _contact_cards(),
    _card_formatted, _card_phones, _card_emails, _card_orgs, _card_addresses, _card_names,
    _card_suffixes, _card_prefixes, _card_urls, _card_birthdays,
)  # fmt: skip


def contacts_messages(sender: Customer) -> st.SearchStrategy[Message]:
    """One to three shared contacts, each with what the phone chose to share."""
    check_sender(sender)
    return st.builds(
        lambda cards, frame, context: messages.contacts(sender, cards, context=context, **frame),
        st.lists(_CONTACT_CARDS, min_size=1, max_size=3),
        frames(sender),
        contexts(sender),
    )


# Reply ids, `[A-Za-z0-9_:.-]{1,64}`, and Flow answer keys,
# `[a-z][a-z0-9_]{0,30}`: string draws, not `from_regex` (one draw per
# character, many times slower).
_reply_ids = st.text(_ALPHANUMERIC + "_:.-", min_size=1, max_size=64)
_answer_keys = st.tuples(
    st.text(_LOWER, min_size=1, max_size=1), st.text(_LOWER + "0123456789_", max_size=30)
).map("".join)


def interactive_messages(sender: Customer) -> st.SearchStrategy[Message]:
    """Taps on reply buttons, list rows, and completed WhatsApp Flows."""
    check_sender(sender)
    ids_ = _reply_ids
    button_replies = st.builds(
        lambda i, title, frame, ctx: messages.interactive_button_reply(
            sender, i, title, context=ctx, **frame
        ),
        ids_, short_texts(20), frames(sender), reply_contexts(sender),
    )  # fmt: skip
    list_replies = st.builds(
        lambda i, title, desc, frame, ctx: messages.interactive_list_reply(
            sender, i, title, desc, context=ctx, **frame
        ),
        ids_, short_texts(24), st.one_of(st.none(), short_texts(72)), frames(sender),
        reply_contexts(sender),
    )  # fmt: skip
    answers = st.dictionaries(
        _answer_keys,
        st.one_of(short_texts(200), st.integers(), st.booleans()),
        max_size=5,
    )
    flows = st.builds(
        lambda token, extra, frame, ctx: messages.interactive_nfm_reply(
            sender, {"flow_token": token, **extra}, context=ctx, **frame
        ),
        short_texts(64), answers, frames(sender), reply_contexts(sender),
    )  # fmt: skip
    return st.one_of(button_replies, list_replies, flows)


def button_messages(sender: Customer) -> st.SearchStrategy[Message]:
    """Taps on a template's quick-reply button."""
    check_sender(sender)
    return st.builds(
        lambda payload, label, frame, ctx: messages.button(
            sender, payload, label, context=ctx, **frame
        ),
        short_texts(256),
        short_texts(20),
        frames(sender),
        reply_contexts(sender),
    )


def reaction_messages(sender: Customer) -> st.SearchStrategy[Message]:
    """Reactions to a business message, and removals (no `emoji` key)."""
    check_sender(sender)
    return st.builds(
        lambda target, emoji, frame: messages.reaction(sender, target, emoji, **frame),
        business_message_ids(sender),
        st.one_of(st.none(), st.sampled_from(_EMOJI)),
        frames(sender),
    )


def order_messages(sender: Customer) -> st.SearchStrategy[Message]:
    check_sender(sender)
    prices = st.one_of(
        st.integers(min_value=0, max_value=10**6),
        st.decimals(min_value=0, max_value=10**6, places=2).map(float),
    )
    items = st.builds(
        messages.product_item,
        retailer_ids,
        st.integers(min_value=1, max_value=99),
        prices,
        st.sampled_from(("USD", "EUR", "BRL", "INR", "SAR", "IDR", "MXN")),
    )
    return st.builds(
        lambda catalog, cart, note, frame: messages.order(sender, catalog, cart, note, **frame),
        phone_number_ids(),
        st.lists(items, min_size=1, max_size=5),
        st.one_of(st.just(""), short_texts(200)),
        frames(sender),
    )


def system_messages(sender: Customer) -> st.SearchStrategy[Message]:
    """A new phone number (users with a number) or a new business-scoped
    user id (2026 users, who have one): the sender decides which can occur."""
    check_sender(sender)
    numbers = st.builds(
        lambda new, frame: messages.system_user_changed_number(sender, new, **frame),
        wa_ids(),
        frames(sender),
    )
    user_ids = st.builds(
        lambda new, parent, frame: messages.system_user_changed_user_id(
            sender, new, parent_user_id=parent, **frame
        ),
        bsuids(),
        st.one_of(st.none(), parent_bsuids()),
        frames(sender),
    )
    kinds = ([numbers] if sender.wa_id is not None else []) + (
        [user_ids] if sender.user_id is not None else []
    )
    return st.one_of(kinds)


def request_welcome_messages(sender: Customer) -> st.SearchStrategy[Message]:
    check_sender(sender)
    return st.builds(lambda frame: messages.request_welcome(sender, **frame), frames(sender))


def unsupported_messages(
    sender: Customer, *, era: Era | str | None = None
) -> st.SearchStrategy[Message]:
    """What Cloud API cannot show; `unsupported {type}` always in 2026, in
    2025 only sometimes (it arrived during the year)."""
    check_sender(sender)
    kinds = st.sampled_from(_UNSUPPORTED_TYPES)
    if not eras.era(era).complete_media_and_unsupported:
        kinds = st.one_of(st.none(), kinds)
    return st.builds(
        lambda kind, frame: messages.unsupported(sender, unsupported_type=kind, **frame),
        kinds,
        frames(sender),
    )


def edit_messages(sender: Customer) -> st.SearchStrategy[Message]:
    """Edits of one of the user's own earlier messages (new text)."""
    check_sender(sender)
    return st.builds(
        lambda original, body, frame: messages.edit(sender, original, body, **frame),
        wamids(chat_number(sender)),
        st.one_of(texts(), hostile_texts()),
        frames(sender),
    )


def revoke_messages(sender: Customer) -> st.SearchStrategy[Message]:
    check_sender(sender)
    return st.builds(
        lambda original, frame: messages.revoke(sender, original, **frame),
        wamids(chat_number(sender)),
        frames(sender),
    )


#: Message type -> its strategy, for every type in `messages.MESSAGE_TYPES`.
MESSAGE_STRATEGIES: dict[str, Callable[..., st.SearchStrategy[Message]]] = {
    "text": text_messages,
    "image": image_messages,
    "video": video_messages,
    "audio": audio_messages,
    "document": document_messages,
    "sticker": sticker_messages,
    "location": location_messages,
    "contacts": contacts_messages,
    "interactive": interactive_messages,
    "button": button_messages,
    "reaction": reaction_messages,
    "order": order_messages,
    "system": system_messages,
    "request_welcome": request_welcome_messages,
    "unsupported": unsupported_messages,
    "edit": edit_messages,
    "revoke": revoke_messages,
}
if set(MESSAGE_STRATEGIES) != set(messages.MESSAGE_TYPES):  # pragma: no cover
    raise RuntimeError("MESSAGE_STRATEGIES and messages.MESSAGE_TYPES have drifted apart")


#: The message types whose shape depends on the era beyond the sender's ids.
_ERA_TYPES = frozenset({"text", "image", "video", "audio", "document", "sticker", "unsupported"})


def inbound_messages(
    sender: Customer,
    *,
    types: Collection[str] | None = None,
    era: Era | str | None = None,
) -> st.SearchStrategy[Message]:
    """Any inbound message from `sender`, or only those of the given `types`
    (values of `MESSAGE_TYPES`), in the era's shapes (current when None).
    The sender's ids are the era's too: draw it with `customers(era=...)`.
    Arguments are checked now, not at draw time."""
    check_sender(sender)
    chosen_era = eras.era(era)
    if types is None:
        chosen = list(messages.MESSAGE_TYPES)
    else:
        if isinstance(types, str) or not types or not set(types) <= set(MESSAGE_STRATEGIES):
            raise ValueError(
                f"Expected a message type from MESSAGE_TYPES but got types={sorted(types)!r}"
                if not isinstance(types, str)
                else f"Expected a collection of message types but got types={types!r}"
            )
        chosen = [t for t in messages.MESSAGE_TYPES if t in set(types)]
    return st.one_of(
        [
            MESSAGE_STRATEGIES[t](sender, era=chosen_era)
            if t in _ERA_TYPES
            else MESSAGE_STRATEGIES[t](sender)
            for t in chosen
        ]
    )
