"""CLIENT-6 to CLIENT-8: every kind of delivery, and the text it carries.

Every inbound message type is logged as what it is, unknown ones too;
statuses, errors and other fields are acknowledged and make no client of
anyone they name; texts, captions, titles and names are stored exactly as
sent. Traffic and probe judgement come from `_store`, as for CLIENT-1 to 5.
"""

from __future__ import annotations

from fakemeta.contract_tests.checks._store import (
    CLIENTLESS,
    barrier,
    deliver,
    describe_difference,
    expect_logged_once,
    expect_no_client,
    expect_one_client,
    outbound_id,
    reply_to_business,
    texted,
)
from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.registry import check
from fakemeta.simulator import ids
from fakemeta.simulator import messages as m
from fakemeta.simulator.envelopes import (
    Customer,
    change,
    entry,
    field_payload,
    message_payload,
    payload,
)
from fakemeta.simulator.examples import (
    error_examples,
    field_examples,
    message_examples,
    status_example_payloads,
)
from fakemeta.simulator.fields import user_preferences
from fakemeta.simulator.statuses import delivered, failed, read, sent, statuses_payload
from fakemeta.simulator.strategies import hostile_texts
from fakemeta.simulator.targets import Exchange
from fakemeta.simulator.types import Message

# --- every kind of delivery ----------------------------------------------------------


def _hologram(ctx: CheckContext, sender: Customer) -> Message:
    """A type Meta may add tomorrow, with an object of its own."""
    content = {"id": ids.media_id(ctx.rng), "frames": 24, "mime_type": "model/x-hologram"}
    return m.assemble(sender, "hologram", content, id=None, timestamp=None, rng=ctx.rng)


def _type_cases(ctx: CheckContext) -> list[tuple[str, Customer, Message]]:
    """One message per named variant and the types no builder knows, each from its own sender."""
    at, business = ids.timestamp(), ctx.account.display_phone_number
    cases: list[tuple[str, Customer, Message]] = []
    for name in message_examples(Customer("1"), business, ctx.rng, at):
        sender = ctx.customer(f"Type {name}")
        cases.append((name, sender, message_examples(sender, business, ctx.rng, at)[name]))
    sender = ctx.customer("Bare Unsupported")
    cases.append(("without unsupported.type", sender, m.unsupported(sender, rng=ctx.rng)))
    sender = ctx.customer("Hologram Sender")
    cases.append(("a made-up future type", sender, _hologram(ctx, sender)))
    sender = ctx.customer("Legacy Unknown")
    legacy = m.assemble(
        sender, "unknown", None, id=None, timestamp=None, rng=ctx.rng,
        errors=[{"code": 131051, "details": "Message type is not currently supported",
                 "title": "Unsupported message type"}],
    )  # fmt: skip
    cases.append(("Meta's older 'unknown' type with errors", sender, legacy))
    return cases


@check("CLIENT-6")
def every_message_type_is_logged(ctx: CheckContext) -> None:
    """Every inbound type, unknown and unsupported ones too, is acknowledged and logged as it is."""
    for name, sender, message in _type_cases(ctx):
        if message["type"] in CLIENTLESS:
            texted(ctx, sender, "hello first", f"a text before {name}")
        # System messages come without a contacts array.
        senders = None if message["type"] == "system" else sender
        what = f"a {message['type']!r} message ({name})"
        exchange = deliver(ctx, message_payload(ctx.account, message, senders), what)
        expect_logged_once(ctx, message, what, exchange=exchange)

    # An unknown type first in a change must not cost the messages after it.
    sender = ctx.customer("Mixed Types")
    unknown, after = _hologram(ctx, sender), m.text(sender, "after the hologram", rng=ctx.rng)
    what = "a change with a 'hologram' message and then a text"
    exchange = deliver(ctx, message_payload(ctx.account, [unknown, after], sender), what)
    expect_logged_once(ctx, unknown, what, exchange=exchange)
    expect_logged_once(ctx, after, what, exchange=exchange)


@check("CLIENT-7")
def statuses_errors_and_fields_create_no_client(ctx: CheckContext) -> None:
    """Statuses, errors and other fields are acknowledged and make no client of anyone they name."""
    acct, at, era = ctx.account, ids.timestamp(), ctx.era
    # In the 2026 era recipients have business-scoped ids, and the statuses
    # come with a contacts array that names them, as Meta sends them.
    recipient = ctx.customer("Status Recipient")
    named: list[tuple[str, Exchange]] = []
    examples = status_example_payloads(acct, recipient, ctx.rng, at, era=era)
    for name, status_delivery in examples.items():
        what = f"a {name!r} status for a message the receiver never sent"
        named.append((recipient.wa_id or "", deliver(ctx, status_delivery, what)))
    other = ctx.customer("Another Recipient")
    outbound = outbound_id(ctx, other)
    progress = [
        sent(outbound, other, era=era, rng=ctx.rng),
        read(outbound, other, era=era),
        delivered(outbound, other, era=era, rng=ctx.rng),
        failed(outbound_id(ctx, other), other),
    ]
    what = "four statuses, out of order, in one change"
    exchange = deliver(ctx, statuses_payload(acct, progress, [other]), what)
    named.append((other.wa_id or "", exchange))

    # Statuses about a known client, one of them naming its inbound message's id.
    known = ctx.customer("Known Client")
    first, exchange = texted(ctx, known, "hello", "a text")
    expect_one_client(ctx, known, "a text", exchange=exchange)
    about_known = [
        sent(outbound_id(ctx, known), known, era=era, rng=ctx.rng),
        delivered(first["id"], known, era=era, rng=ctx.rng),
        read(first["id"], known, era=era),
    ]
    known_exchange = deliver(
        ctx, statuses_payload(acct, about_known, [known]), "statuses about a known client"
    )

    for name, problem in error_examples(acct).items():
        deliver(ctx, payload([entry(acct.waba_id, [change(problem)])]), f"a {name!r} errors value")
    time_now = int(at)
    for name, (field, value) in field_examples(acct, ctx.rng, time_now, era=era).items():
        what = f"a {field!r} field delivery ({name})"
        deliver(ctx, field_payload(acct.waba_id, field, value, time=time_now), what)
    # A field that names a user in a contacts array, as messages do.
    user = ctx.customer("Preferring User")
    value = user_preferences(acct, user, "stop", timestamp=time_now)
    what = "a 'user_preferences' field delivery naming a user"
    exchange = deliver(
        ctx, field_payload(acct.waba_id, "user_preferences", value, time=time_now), what
    )
    named.append((user.wa_id or "", exchange))

    barrier(ctx)
    for phone, exchange in named:
        expect_no_client(
            ctx, phone, f"{phone} was only named by a status or field", exchange=exchange
        )
    what = "after statuses about a known client"
    expect_one_client(ctx, known, what, exchange=known_exchange)
    expect_logged_once(ctx, first, what, exchange=known_exchange, settle=False)


# --- text intact ------------------------------------------------------------------

_HARD_TEXTS: tuple[tuple[str, str], ...] = (
    ("Arabic with harakat", "مَرْحَبًا بِكُمْ فِي مَتْجَرِنَا، هَلْ الطَّلَبُ جَاهِزٌ؟"),
    ("emoji: a ZWJ family, flags, a skin tone, a keycap", "👨‍👩‍👧‍👦 🇸🇦🇪🇬 🏳️‍🌈 👍🏽 1️⃣"),
    ("combining marks, decomposed (NFD)", "Cafe\u0301 Zoe\u0308 man\u0303ana A\u030angstro\u0308m"),
    (
        "direction marks and isolates",
        "\u200fمرحبا\u200e abc \u202bembedded\u202c \u2067isolated\u2069",
    ),
    ("zero-width characters", "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u2060joiner"),
    ("URLs, which Meta sends with \\/", "https://example.com/a/b?x=1&y=%20 http://t.co/x/"),
    ("quotes and backslashes", "She said \"hi\" and 'bye' \\ back\\slash \\n \\u0041 \\/ \\\\"),
    ("HTML-like text", "<b>bold</b> &amp; &lt; <script>alert(1)</script>"),
    ("compatibility characters (NFKC changes them)", "ＡＢＣ ﬁ ① 𝕳𝖊𝖑𝖑𝖔 ½ ㎏"),
    ("surrounding whitespace and newlines", "  leading and trailing  \n\tsecond line\n\n"),
    ("4096 characters", ("مَرحبا 👋🏽 e\u0301 \u200f/ " * 300)[:4096]),
)


def _captioned(ctx: CheckContext, sender: Customer) -> list[tuple[str, Message, str]]:
    """Messages whose text is a caption, a title or a button's text."""
    caption = 'صورة الفاتورة 🧾 e\u0301 \u200f/ "final" '
    title = "تأكيد ✅ e\u0301"
    row = "Zoe\u0308 🚚 \u200e2/3"
    quick = "Stop\u200b promos 🛑 "
    return [
        ("an image caption", m.image(sender, caption, rng=ctx.rng), caption),
        ("a video caption", m.video(sender, caption, rng=ctx.rng), caption),
        (
            "a document caption",
            m.document(sender, "عقد.pdf", caption, rng=ctx.rng),
            caption,
        ),
        (
            "a button reply's title",
            m.interactive_button_reply(
                sender, "ok", title, context=reply_to_business(ctx, sender), rng=ctx.rng
            ),
            title,
        ),
        (
            "a list reply's title",
            m.interactive_list_reply(
                sender, "r1", row, "desc", context=reply_to_business(ctx, sender), rng=ctx.rng
            ),
            row,
        ),
        (
            "a quick reply button's text",
            m.button(sender, "stop", quick, context=reply_to_business(ctx, sender), rng=ctx.rng),
            quick,
        ),
    ]


@check("CLIENT-8")
def text_is_stored_intact(ctx: CheckContext) -> None:
    """Texts, captions, titles and names are stored as sent: not normalised, trimmed or mangled."""
    sender = ctx.customer("Zoe\u0308 \u200fليلى 👩🏽‍💻")

    def expect_intact(what: str, message: Message, text: str, by: Customer = sender) -> None:
        exchange = deliver(ctx, message_payload(ctx.account, message, by), what)
        stored = expect_logged_once(ctx, message, what, exchange=exchange).get("text")
        if stored != text:
            ctx.fail(
                f"{what} was not stored as sent: {describe_difference(text, stored)}",
                expected=f"the text exactly as sent: {text[:200]!r}",
                exchange=exchange,
            )

    for what, text in _HARD_TEXTS:
        expect_intact(f"a text ({what})", m.text(sender, text, rng=ctx.rng), text)
    expect_one_client(
        ctx, sender, "a sender whose profile name has a combining mark, an RLM and a ZWJ emoji",
        exchange=ctx.exchanges[-1],
    )  # fmt: skip
    for what, message, text in _captioned(ctx, sender):
        expect_intact(what, message, text)

    def generated(text: str) -> None:
        # A sender of its own per attempt: shrinking sends many, each fresh.
        by = ctx.customer()
        expect_intact("a generated text", m.text(by, text, rng=ctx.rng), text, by)

    ctx.examples(hostile_texts(), generated)
