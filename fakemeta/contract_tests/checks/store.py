"""CLIENT-1 to CLIENT-5: finding or creating clients, once (seed sections 7 and 8).

A message finds or creates its sender's client in the account that owns the
phone number id, and is logged once however often, however batched and
however concurrently Meta delivers it; a phone number id no account owns
stores nothing. Every check sees the store through the probe (`_store`),
with senders no run has used before, so the suite can run against a
receiver that is never reset. CLIENT-6 to CLIENT-8 are in `store_content`.
"""

from __future__ import annotations

from dataclasses import replace

from fakemeta.contract_tests.checks._store import (
    barrier,
    concurrently,
    deliver,
    describe_difference,
    expect_logged_once,
    expect_no_client,
    expect_not_logged,
    expect_one_client,
    outbound_id,
    reply_to_business,
    texted,
)
from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.registry import check
from fakemeta.simulator import messages as m
from fakemeta.simulator.envelopes import (
    Customer,
    batch,
    change,
    entry,
    message_payload,
    messages_value,
    payload,
)
from fakemeta.simulator.statuses import delivered, statuses_value
from fakemeta.simulator.targets import Exchange
from fakemeta.simulator.types import Change, Message

# --- finding or creating the client -------------------------------------------------


@check("CLIENT-1")
def new_sender_creates_one_client(ctx: CheckContext) -> None:
    """A text from a new sender creates one client (number, profile name) and one log entry."""
    customer = ctx.customer("ليلى حسن 🌙 Layla")
    phone = customer.wa_id or ""
    before = ctx.clients(phone)
    if before:
        ctx.fail(
            f"the probe lists {len(before)} client(s) for {phone}, a number no run has used",
            expected="no client before the number's first message (does the probe filter by "
            "?phone=?)",
        )
    body = "مرحبا، أحتاج معلومات 👋 about my order"
    message, exchange = texted(ctx, customer, body, "a text from a new sender")
    expect_one_client(ctx, customer, "a text from a new sender", exchange=exchange)
    record = expect_logged_once(ctx, message, "a text from a new sender", exchange=exchange)
    stored = record.get("text")
    if stored != body:
        ctx.fail(
            f"the text was logged as {stored!r}: {describe_difference(body, stored)}",
            expected=f"the text body exactly: {body!r}",
            exchange=exchange,
        )


@check("CLIENT-2")
def further_messages_create_no_second_client(ctx: CheckContext) -> None:
    """Further messages from a known sender, of several types, create no second client."""
    customer = ctx.customer("Omar Faruk")
    first, exchange = texted(ctx, customer, "Hello, first message", "a first text")
    expect_one_client(ctx, customer, "a first text", exchange=exchange)
    further: list[tuple[str, list[Message]]] = [
        ("a second text", [m.text(customer, "And a second one", rng=ctx.rng)]),
        ("an image", [m.image(customer, "the invoice", rng=ctx.rng)]),
        ("a location", [m.location(customer, 24.7136, 46.6753, rng=ctx.rng)]),
        (
            "a button reply",
            [
                m.interactive_button_reply(
                    customer, "yes", "Yes ✅", context=reply_to_business(ctx, customer), rng=ctx.rng
                )
            ],
        ),
        ("a reaction to the first text", [m.reaction(customer, first["id"], "👍", rng=ctx.rng)]),
        (
            "two messages in one delivery",
            [m.text(customer, "one", rng=ctx.rng), m.sticker(customer, rng=ctx.rng)],
        ),
    ]
    for what, batch_messages in further:
        exchange = deliver(ctx, message_payload(ctx.account, batch_messages, customer), what)
        for number, message in enumerate(batch_messages, 1):
            which = f"{what} (message {number})" if len(batch_messages) > 1 else what
            expect_logged_once(ctx, message, which, exchange=exchange)
        expect_one_client(ctx, customer, f"after {what} from a known sender", exchange=exchange)
    # A changed profile name may update the stored name or leave it ("find or
    # create"); either passes, a second client does not.
    renamed = replace(customer, name="Omar F. ✨")
    message = m.text(renamed, "I changed my profile name", rng=ctx.rng)
    exchange = deliver(ctx, message_payload(ctx.account, message, renamed), "a renamed sender")
    expect_logged_once(ctx, message, "a text under a new profile name", exchange=exchange)
    expect_one_client(
        ctx,
        customer,
        "after a text under a new profile name",
        exchange=exchange,
        names=(customer.name, renamed.name),
    )

    # A new sender's first two messages in one delivery: find-or-create must
    # see the client the first one created.
    pair = ctx.customer("Fatima Zahra")
    messages = [m.text(pair, "first", rng=ctx.rng), m.image(pair, "second", rng=ctx.rng)]
    what = "a new sender's first two messages in one delivery"
    exchange = deliver(ctx, message_payload(ctx.account, messages, pair), what)
    for message in messages:
        expect_logged_once(ctx, message, what, exchange=exchange)
    expect_one_client(ctx, pair, what, exchange=exchange)

    # A new sender's first messages arriving at once (Meta delivers in parallel).
    racer = ctx.customer("Chen Wei")
    messages = [m.text(racer, f"parallel {i}", rng=ctx.rng) for i in range(4)]
    exchanges = concurrently(
        ctx, [ctx.signed(message_payload(ctx.account, x, racer)) for x in messages]
    )
    what = "a new sender's first four messages delivered at the same moment"
    for message, exchange in zip(messages, exchanges, strict=True):
        ctx.expect_acknowledged(exchange, what)
        expect_logged_once(ctx, message, what, exchange=exchange)
    expect_one_client(ctx, racer, what, exchange=exchanges[-1])


# --- deduplication ------------------------------------------------------------


@check("CLIENT-3")
def redelivered_message_is_logged_once(ctx: CheckContext) -> None:
    """Redeliveries (same bytes, re-batched, in parallel) are acknowledged and logged once."""
    # The same bytes twice in a row.
    alice = ctx.customer("Alice Redelivered")
    message = m.text(alice, "Deliver me twice", rng=ctx.rng)
    delivery = ctx.signed(message_payload(ctx.account, message, alice))
    deliver(ctx, delivery, "a text")
    again = deliver(ctx, delivery, "the same delivery again (Meta redelivers)")
    expect_logged_once(ctx, message, "a text delivered twice", exchange=again)
    expect_one_client(ctx, alice, "a text delivered twice", exchange=again)

    # The same message in another envelope, beside new ones: deduplicating by
    # body or signature is not enough, and the new messages still count.
    bob, carol = ctx.customer("Bob Rebatched"), ctx.customer("Carol Beside")
    original = m.text(bob, "Batch me again", rng=ctx.rng)
    deliver(ctx, message_payload(ctx.account, original, bob), "a text")
    beside = m.text(carol, "New in the same delivery", rng=ctx.rng)
    what = "a delivered message again, in a second entry after a new message"
    rebatched = deliver(
        ctx,
        batch(
            [
                message_payload(ctx.account, beside, carol),
                message_payload(ctx.account, original, bob),
            ]
        ),
        what,
    )
    expect_logged_once(ctx, beside, "a new message beside a redelivered one", exchange=rebatched)
    expect_logged_once(ctx, original, what, exchange=rebatched)
    follow = m.text(bob, "A new one after the old one", rng=ctx.rng)
    what = "a delivered message again, in one change after a new message from the same sender"
    rebatched = deliver(ctx, message_payload(ctx.account, [follow, original], bob), what)
    expect_logged_once(ctx, follow, "a new message beside a redelivered one", exchange=rebatched)
    expect_logged_once(ctx, original, what, exchange=rebatched)
    expect_one_client(ctx, bob, what, exchange=rebatched)

    # The same bytes five times at the same moment.
    dave = ctx.customer("Dave Parallel")
    racing = m.text(dave, "Five copies at once", rng=ctx.rng)
    copies = ctx.signed(message_payload(ctx.account, racing, dave))
    what = "one of five copies of a delivery posted at the same moment"
    exchanges = concurrently(ctx, [copies] * 5)
    for exchange in exchanges:
        ctx.expect_acknowledged(exchange, what)
    expect_logged_once(ctx, racing, "a delivery posted five times at once", exchange=exchanges[-1])

    # The first delivery once more, after other traffic: remembering only the
    # last message id is not deduplication.
    late = deliver(ctx, delivery, "a delivery again, after other traffic")
    for who, sent_message in ((alice, message), (bob, original), (dave, racing)):
        what = "after every redelivery"
        expect_logged_once(ctx, sent_message, what, exchange=late, settle=False)
        expect_one_client(ctx, who, what, exchange=late)


@check("CLIENT-4")
def unknown_phone_number_id_stores_nothing(ctx: CheckContext) -> None:
    """A phone number id no account owns is acknowledged and stores nothing, even in a batch."""
    unknown = ctx.unknown_account()
    stranger = ctx.customer("Nobody's Customer")
    ignored = [
        m.text(stranger, "Hello, wrong number?", rng=ctx.rng),
        m.image(stranger, "a photo", rng=ctx.rng),
    ]
    exchange = deliver(
        ctx,
        message_payload(unknown, ignored, stranger),
        "messages to a phone number id no account owns",
    )
    # What went to the unknown account, and who wrote only to it.
    checks: list[tuple[Message, Exchange]] = [(x, exchange) for x in ignored]
    strangers = [(stranger.wa_id or "", exchange)]

    if ctx.config.phone_number_id:
        # A known client writing to an unknown number: no lookup by phone alone.
        known = ctx.customer("Known Elsewhere")
        first, exchange = texted(ctx, known, "hi", "a text to the configured account")
        expect_one_client(ctx, known, "a text to the configured account", exchange=exchange)
        elsewhere = m.text(known, "Now to another number", rng=ctx.rng)
        exchange = deliver(
            ctx,
            message_payload(unknown, elsewhere, known),
            "a known client's text to a phone number id no account owns",
        )
        checks.append((elsewhere, exchange))
        # Unknown and known accounts side by side: the account is per change.
        for order in ("unknown first", "known first"):
            lost, kept = ctx.customer("Lost Sender"), ctx.customer("Kept Sender")
            lost_message = m.text(lost, "to nobody", rng=ctx.rng)
            kept_message = m.text(kept, "to the business", rng=ctx.rng)
            parts = [
                message_payload(unknown, lost_message, lost),
                message_payload(ctx.account, kept_message, kept),
            ]
            what = f"a batch for an unknown and the configured account ({order})"
            exchange = deliver(ctx, batch(parts if order == "unknown first" else parts[::-1]), what)
            expect_logged_once(ctx, kept_message, what, exchange=exchange)
            expect_one_client(ctx, kept, what, exchange=exchange)
            strangers.append((lost.wa_id or "", exchange))
            checks.append((lost_message, exchange))
        barrier(ctx)
        expect_one_client(
            ctx, known, "after its text to an unknown phone number id", exchange=exchange
        )
        expect_logged_once(ctx, first, "a text to the configured account", exchange=exchange)
    for message, sent_by in checks:
        what = f"{message['id']} was sent to phone number id {unknown.phone_number_id}"
        expect_not_logged(ctx, message["id"], what + ", which no account owns", exchange=sent_by)
    for phone, sent_by in strangers:
        what = f"{phone} wrote only to a phone number id no account owns"
        expect_no_client(ctx, phone, what, exchange=sent_by)


def _change(ctx: CheckContext, messages: list[Message], senders: list[Customer]) -> Change:
    contacts = [sender.contact for sender in senders]
    return change(messages_value(ctx.account, messages, contacts))


@check("CLIENT-5")
def whole_batch_is_processed(ctx: CheckContext) -> None:
    """Every message of a batch of entries, changes and senders is logged, every sender a client."""
    names = ("Amira", "Björn Ångström", "محمد العتيبي", "Dana", "יעל כהן", "Femi 🎉")
    a, b, c, d, e, f = (ctx.customer(name) for name in names)
    first = [
        m.text(a, "first of all", rng=ctx.rng),
        m.image(b, "second, from another sender", rng=ctx.rng),
        m.location(a, 30.0444, 31.2357, rng=ctx.rng),
    ]
    second = [m.text(c, "in the second change", rng=ctx.rng)]
    third = [
        m.text(d, "in the second entry, after a status change", rng=ctx.rng),
        m.interactive_button_reply(
            e, "b1", "Later", context=reply_to_business(ctx, e), rng=ctx.rng
        ),
    ]
    fourth = [m.text(f, "in the third entry", rng=ctx.rng)]
    # A status for someone outside the batch, in a change between message changes.
    recipient = ctx.customer("Status Recipient")
    status = delivered(outbound_id(ctx, recipient), recipient, era=ctx.era, rng=ctx.rng)
    statuses = change(statuses_value(ctx.account, [status], [recipient]))
    waba = ctx.account.waba_id
    whole = payload(
        [
            entry(waba, [_change(ctx, first, [a, b]), _change(ctx, second, [c])]),
            # Contacts in another order than the messages.
            entry(waba, [statuses, _change(ctx, third, [e, d])]),
            entry(waba, [_change(ctx, fourth, [f])]),
        ]
    )
    where = [
        *(f"entry 1, change 1, message {i}" for i in (1, 2, 3)),
        "entry 1, change 2",
        *(f"entry 2, change 2, message {i}" for i in (1, 2)),
        "entry 3",
    ]
    plan = list(zip(where, first + second + third + fourth, strict=True))
    what = "a batch of 3 entries, 5 changes, 6 messages from 6 senders"
    exchange = deliver(ctx, whole, what)
    for place, message in plan:
        expect_logged_once(ctx, message, f"the message at {place} of {what}", exchange=exchange)
    for customer in (a, b, c, d, e, f):
        expect_one_client(ctx, customer, f"a sender in {what}", exchange=exchange)

    # Thirty messages from five senders, interleaved, in one change.
    crowd = [ctx.customer(f"Crowd {i}") for i in range(5)]
    many = [m.text(crowd[i % 5], f"message {i}", rng=ctx.rng) for i in range(30)]
    what = "a change of 30 messages from 5 interleaved senders"
    exchange = deliver(ctx, message_payload(ctx.account, many, crowd), what)
    for number, message in enumerate(many, 1):
        expect_logged_once(ctx, message, f"message {number} of {what}", exchange=exchange)
    for customer in crowd:
        expect_one_client(ctx, customer, f"a sender in {what}", exchange=exchange)
