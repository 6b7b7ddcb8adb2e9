"""Strategies for inbound messages, one per type, for a given sender.

The Hypothesis side of `simulator.messages`: every strategy draws the
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

from simulator import messages
from simulator.envelopes import Customer
from simulator.strategies._ids import bsuids, phone_number_ids, wa_ids, wamids
from simulator.strategies._media_messages import (
    audio_messages,
    document_messages,
    image_messages,
    sticker_messages,
    video_messages,
)
from simulator.strategies._message_parts import (
    business_message_ids,
    chat_number,
    check_sender,
    contexts,
    frames,
    referrals,
    reply_contexts,
    short_texts,
)
from simulator.strategies._text import hostile_texts, person_names, texts
from simulator.types import Message

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
_UNSUPPORTED_TYPES = ("edit", "poll_creation", "view_once", "unknown", "album", "event")


def text_messages(sender: Customer) -> st.SearchStrategy[Message]:
    check_sender(sender)
    return st.builds(
        lambda body, frame, context, referral: messages.text(
            sender, body, context=context, referral=referral, **frame
        ),
        st.one_of(texts(), hostile_texts()),
        frames(sender),
        contexts(sender),
        referrals(),
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


@st.composite
def _contact_cards(draw: st.DrawFn) -> dict[str, Any]:
    formatted = draw(st.one_of(person_names(), short_texts(100)))
    phone_kinds = st.sampled_from(("CELL", "MOBILE", "HOME", "WORK", "MAIN", "IPHONE"))
    phones = draw(
        st.lists(
            st.builds(
                lambda number, on_whatsapp, kind: (
                    "+" + number,
                    number if on_whatsapp else None,
                    kind,
                ),
                wa_ids(),
                st.booleans(),
                phone_kinds,
            ),
            max_size=3,
        )
    )
    emails = draw(st.lists(st.tuples(st.emails(), st.sampled_from(("HOME", "WORK"))), max_size=2))
    org = draw(st.one_of(st.none(), st.fixed_dictionaries({"company": short_texts(80)})))
    first = draw(st.one_of(st.none(), person_names()))
    return messages.contact_card(formatted, first_name=first, phones=phones, emails=emails, org=org)


def contacts_messages(sender: Customer) -> st.SearchStrategy[Message]:
    """One to three shared contacts, each with what the phone chose to share."""
    check_sender(sender)
    return st.builds(
        lambda cards, frame, context: messages.contacts(sender, cards, context=context, **frame),
        st.lists(_contact_cards(), min_size=1, max_size=3),
        frames(sender),
        contexts(sender),
    )


def interactive_messages(sender: Customer) -> st.SearchStrategy[Message]:
    """Taps on reply buttons, list rows, and completed WhatsApp Flows."""
    check_sender(sender)
    ids_ = st.from_regex(r"[A-Za-z0-9_:.-]{1,64}", fullmatch=True)
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
        st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True),
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
        st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True),
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
    """A new phone number, or (2026) a new business-scoped user id."""
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
        st.one_of(st.none(), bsuids().map(lambda u: u.replace(".", ".ENT.", 1))),
        frames(sender),
    )
    return st.one_of(numbers, user_ids)


def request_welcome_messages(sender: Customer) -> st.SearchStrategy[Message]:
    check_sender(sender)
    return st.builds(lambda frame: messages.request_welcome(sender, **frame), frames(sender))


def unsupported_messages(sender: Customer) -> st.SearchStrategy[Message]:
    check_sender(sender)
    return st.builds(
        lambda kind, frame: messages.unsupported(sender, unsupported_type=kind, **frame),
        st.one_of(st.none(), st.sampled_from(_UNSUPPORTED_TYPES)),
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
MESSAGE_STRATEGIES: dict[str, Callable[[Customer], st.SearchStrategy[Message]]] = {
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


def inbound_messages(
    sender: Customer, *, types: Collection[str] | None = None
) -> st.SearchStrategy[Message]:
    """Any inbound message from `sender`, or only those of the given `types`
    (values of `MESSAGE_TYPES`). Arguments are checked now, not at draw time."""
    check_sender(sender)
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
    return st.one_of([MESSAGE_STRATEGIES[t](sender) for t in chosen])
