"""CLIENT-9 and CLIENT-10: who a client is, since Meta's 2026 identity change.

Since April 2026 every message webhook carries a business-scoped user id
(`contacts[].user_id`, `messages[].from_user_id`), and users with a username
may come with no number at all: no `wa_id`, no `from`. A receiver that keys
clients by phone crashes on them, or merges every phone-less user into one
client. Users also change: a `user_changed_number` system message moves a
client to a new number, `user_changed_user_id` gives it a new user id; a
receiver that ignores them makes a second client when the user writes again.
The store is seen through the probe's `clients?user_id=` and `clients?phone=`.

Business-scoped user ids exist only in the 2026 era: under `--era 2025`
CLIENT-9 and CLIENT-10's user id check are skipped, and a number change is
checked number-only, as Meta sent it then.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from fakemeta.contract_tests.checks._store import (
    deliver,
    expect_logged_once,
    expect_no_client,
    expect_no_user_client,
    expect_one_client,
    expect_one_user_client,
    settled,
    texted,
)
from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.errors import Skipped
from fakemeta.contract_tests.registry import check
from fakemeta.simulator import messages as m
from fakemeta.simulator.envelopes import Customer, message_payload
from fakemeta.simulator.types import Message


def _same_client(
    ctx: CheckContext, customer: Customer, what: str, *, phone: str | None = None
) -> None:
    """The client found by the user's number is the one found by its user id."""
    number = phone or customer.wa_id or ""
    by_phone = ctx.clients(number)
    by_user = ctx.clients_by_user_id(customer.user_id or "")
    if by_phone != by_user:
        ctx.fail(
            f"{what}: clients?phone={number} and clients?user_id={customer.user_id} list "
            f"different clients: {by_phone} and {by_user}",
            expected="one client for the user, found by its number and by its user id alike",
        )


@check("CLIENT-9")
def phoneless_users_get_one_client_each(ctx: CheckContext) -> None:
    """Users known only by business-scoped user id are logged and get one client each."""
    ctx.require_user_ids()
    ann = ctx.user("Ann Username")
    ctx.clients_by_user_id(ann.user_id or "")  # skips here when the probe cannot look up users
    message, exchange = texted(ctx, ann, "Hello from a user without a number", "a phone-less text")
    expect_logged_once(ctx, message, "a text from a user with no number", exchange=exchange)
    expect_one_user_client(ctx, ann, "a text from a user with no number", exchange=exchange)

    # Several phone-less users in one change: one client each, never merged.
    ben, cat, dan = ctx.user("Ben Hidden"), ctx.user("Cat Hidden"), ctx.user("Dan Hidden")
    batch = [
        m.text(ben, "first", rng=ctx.rng),
        m.image(cat, "a photo", rng=ctx.rng),
        m.text(dan, "third", rng=ctx.rng),
        m.text(ben, "ben again", rng=ctx.rng),
    ]
    what = "a change of 4 messages from 3 users with no number"
    exchange = deliver(ctx, message_payload(ctx.account, batch, [ben, cat, dan]), what)
    for message in batch:
        expect_logged_once(ctx, message, what, exchange=exchange)
    for user in (ben, cat, dan):
        expect_one_user_client(ctx, user, what, exchange=exchange)

    # Further messages, one of a type with no text: still one client.
    for what, further in (
        ("a second text from a user with no number", m.text(ann, "again", rng=ctx.rng)),
        ("a location from a user with no number", m.location(ann, 21.4225, 39.8262, rng=ctx.rng)),
    ):
        exchange = deliver(ctx, message_payload(ctx.account, further, ann), what)
        expect_logged_once(ctx, further, what, exchange=exchange)
        expect_one_user_client(ctx, ann, f"after {what}", exchange=exchange)

    # A user with both a number and a user id: one client, found either way.
    eve = ctx.user("Eve Both", phone=True)
    message, exchange = texted(ctx, eve, "I have a number and a user id", "a text with both ids")
    expect_logged_once(ctx, message, "a text with both ids", exchange=exchange)
    expect_one_client(ctx, eve, "a text with both ids", exchange=exchange)
    expect_one_user_client(ctx, eve, "a text with both ids", exchange=exchange)
    _same_client(ctx, eve, "a text with both ids")

    # A client known by number (before 2026), then with both ids, then by user
    # id alone (the user hid the number): always the same one client.
    fay = replace(ctx.customer("Fay Transition"), user_id=None)
    scoped = replace(fay, user_id=ctx.user().user_id)
    hidden = replace(scoped, wa_id=None)
    steps = (
        (fay, "a text with a number only"),
        (scoped, "then a text with the number and a user id"),
        (hidden, "then a text with the user id only"),
    )
    for sender, what in steps:
        message, exchange = texted(ctx, sender, what, what)
        expect_logged_once(ctx, message, what, exchange=exchange)
    expect_one_client(ctx, fay, "after " + ", ".join(w for _, w in steps), exchange=exchange)
    expect_one_user_client(
        ctx, scoped, "after " + ", ".join(w for _, w in steps), exchange=exchange
    )
    _same_client(ctx, scoped, "a user seen by number, by both ids, then by user id")

    # The other way round: first without a number, then with it.
    gus = ctx.user("Gus Reveals")
    revealed = replace(gus, wa_id=ctx.customer().wa_id)
    for sender, what in (
        (gus, "a text with the user id only"),
        (revealed, "then a text with a number and the same user id"),
    ):
        message, exchange = texted(ctx, sender, what, what)
        expect_logged_once(ctx, message, what, exchange=exchange)
    # Whether the number is stored on the client is the receiver's choice;
    # a second client for the number is not.
    what = "a user seen by user id, then with a number"
    record = expect_one_user_client(ctx, gus, what, exchange=exchange, any_phone=True)
    by_phone = ctx.clients(revealed.wa_id or "")
    if by_phone and by_phone != [record]:
        ctx.fail(
            f"{what}: clients?phone={revealed.wa_id} lists {by_phone}, another client than "
            f"the user's {record}",
            expected="one client for the user: its number, if stored, on that same client",
            exchange=exchange,
        )


def _looks_up_users(ctx: CheckContext, user_id: str) -> bool:
    """Whether the probe can list clients by business-scoped user id."""
    try:
        ctx.clients_by_user_id(user_id)
    except Skipped:
        return False
    return True


def _renumbered(user: Customer, system_message: Message) -> Customer:
    """Who `user` is after this `user_changed_number`: the new number, and
    (2026) the new business-scoped ids Meta drew with it, as the system
    message carries them."""
    system: dict[str, str] = system_message["system"]  # type: ignore[typeddict-item]
    return replace(
        user,
        wa_id=system["wa_id"],
        user_id=system.get("user_id", user.user_id),
        parent_user_id=system.get("parent_user_id", user.parent_user_id),
    )


@check("CLIENT-10")
def number_change_moves_the_client(ctx: CheckContext) -> None:
    """A changed number moves the client to it (and to its new user id, 2026): no second client."""
    old = ctx.customer("Hana Moves")
    old_number = old.wa_id or ""
    _, exchange = texted(ctx, old, "before I change my number", "a text from the old number")
    expect_one_client(ctx, old, "a text from the old number", exchange=exchange)
    # From 2026 the system message carries the new business-scoped id too
    # (Meta regenerates it with the number): a fresh one, like the number.
    new = ctx.customer()
    system = m.system_user_changed_number(
        old, new.wa_id or "", new_user_id=new.user_id, rng=ctx.rng
    )
    moved = _renumbered(old, system)
    new_number = moved.wa_id or ""
    what = "a user_changed_number system message"
    exchange = deliver(ctx, message_payload(ctx.account, system, None), what)
    expect_logged_once(ctx, system, what, exchange=exchange)
    settled(lambda: ctx.clients(new_number))
    expect_one_client(ctx, moved, f"after {what}, by the new number", exchange=exchange)
    expect_no_client(ctx, old_number, f"after {what} moved {old_number}", exchange=exchange)
    # The new user id is judged where the probe can look clients up by one.
    by_user_id = moved.user_id is not None and _looks_up_users(ctx, moved.user_id)
    if by_user_id and moved.user_id != old.user_id:
        what = f"after {what} with a new user_id"
        expect_one_user_client(ctx, moved, f"{what}, by the new user id", exchange=exchange)
        expect_no_user_client(ctx, old.user_id or "", f"{what} replaced it", exchange=exchange)
    # The user writes again as who they are now: the new number (and user id).
    message, exchange = texted(ctx, moved, "hello from my new number", "a text from the new number")
    expect_logged_once(ctx, message, "a text from the new number", exchange=exchange)
    expect_one_client(ctx, moved, "after a text from the new number", exchange=exchange)
    if by_user_id:
        what = "after a text from the new number"
        expect_one_user_client(ctx, moved, what, exchange=exchange)
        _same_client(ctx, moved, what)


@check("CLIENT-10")
def user_id_change_rekeys_the_client(ctx: CheckContext) -> None:
    """A changed business-scoped user id re-keys the client, with or without a number."""
    ctx.require_user_ids()
    for user, where in (
        (ctx.user("Ivo Rekeyed", phone=True), "with a number"),
        (ctx.user("Jun Rekeyed"), "without a number"),
    ):
        what = f"a text from a user {where}"
        _, exchange = texted(ctx, user, "before my user id changes", what)
        expect_one_user_client(ctx, user, what, exchange=exchange)
        new_id = ctx.user().user_id or ""
        system = m.system_user_changed_user_id(user, new_id, rng=ctx.rng)
        what = f"a user_changed_user_id system message for a user {where}"
        exchange = deliver(ctx, message_payload(ctx.account, system, None), what)
        expect_logged_once(ctx, system, what, exchange=exchange)
        rekeyed = replace(user, user_id=new_id)
        settled(partial(ctx.clients_by_user_id, new_id))
        expect_one_user_client(ctx, rekeyed, f"after {what}, by the new user id", exchange=exchange)
        expect_no_user_client(
            ctx, user.user_id or "", f"after {what} replaced it", exchange=exchange
        )
        message, exchange = texted(ctx, rekeyed, "hello under my new id", "a text under the new id")
        expect_logged_once(ctx, message, "a text under the new user id", exchange=exchange)
        what = "after a text under the new user id"
        expect_one_user_client(ctx, rekeyed, what, exchange=exchange)
