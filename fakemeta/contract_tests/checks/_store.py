"""Traffic for the CLIENT checks, and seeing what it did to the receiver's store.

The last step of the data flow, on the suite's side: after a delivery is
acknowledged, the probe says which clients a number has and which log
entries a message id has. A receiver may store after it answers (a queue, a
worker), so a record that should exist is waited for, up to
`SETTLE_SECONDS`. Absence cannot be waited for; checks that expect nothing
first send a message that must be stored and wait for it (`barrier`), so
a receiver that works through a queue in order has handled everything sent
before it.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.probes import Record
from fakemeta.simulator import ids
from fakemeta.simulator import messages as m
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.envelopes import Customer, message_payload
from fakemeta.simulator.targets import Exchange
from fakemeta.simulator.types import Message, Payload

__all__ = [
    "CLIENTLESS",
    "SETTLE_SECONDS",
    "barrier",
    "concurrently",
    "deliver",
    "describe_difference",
    "expect_logged_once",
    "expect_no_client",
    "expect_no_user_client",
    "expect_not_logged",
    "expect_one_client",
    "expect_one_user_client",
    "outbound_id",
    "reply_to_business",
    "settled",
    "texted",
]

#: How long a receiver may take to show what it acknowledged (the TIME-1
#: limit for the answer, again for the store behind it).
SETTLE_SECONDS = 3.0
_POLL_SECONDS = 0.05

#: Types that refer to a conversation rather than open one: a receiver may
#: leave them without a client, so checks have their senders text first.
CLIENTLESS = frozenset({"reaction", "system", "edit", "revoke"})


def settled(
    fetch: Callable[[], list[Record]],
    ready: Callable[[list[Record]], bool] = bool,
    timeout: float | None = None,
) -> list[Record]:
    """`fetch()` again until `ready` says so or `timeout` (default
    `SETTLE_SECONDS`) passes; the last answer."""
    deadline = time.monotonic() + (SETTLE_SECONDS if timeout is None else timeout)
    while True:
        records = fetch()
        if ready(records) or time.monotonic() >= deadline:
            return records
        time.sleep(_POLL_SECONDS)


def _show(records: Sequence[Record]) -> str:
    text = json.dumps(list(records), ensure_ascii=False)
    return text if len(text) <= 600 else text[:600] + "…"


def deliver(ctx: CheckContext, payload: Payload | Delivery, what: str) -> Exchange:
    """Post `payload` signed with the app secret; it must be acknowledged (200)."""
    delivery = payload if isinstance(payload, Delivery) else ctx.signed(payload)
    exchange = ctx.post(delivery)
    ctx.expect_acknowledged(exchange, what)
    return exchange


def texted(ctx: CheckContext, customer: Customer, body: str, what: str) -> tuple[Message, Exchange]:
    """A text from `customer` to the configured account, acknowledged."""
    message = m.text(customer, body, rng=ctx.rng)
    return message, deliver(ctx, message_payload(ctx.account, message, customer), what)


def outbound_id(ctx: CheckContext, customer: Customer) -> str:
    """The id of a message the business sent `customer` (as far as Meta knows)."""
    return ids.wamid(customer.wa_id or "", inbound=False, rng=ctx.rng)


def reply_to_business(ctx: CheckContext, customer: Customer) -> dict[str, str]:
    """The `context` of a tap on a button of a business message."""
    return m.reply_context(ctx.account.display_phone_number, outbound_id(ctx, customer))


def concurrently(ctx: CheckContext, deliveries: Sequence[Delivery]) -> list[Exchange]:
    """Post every delivery at the same moment, each from a client address of its own."""
    addresses = [ctx.fresh_address() for _ in deliveries]
    start = Barrier(len(deliveries), timeout=30)

    def post(index: int) -> Exchange:
        start.wait()
        return ctx.post(deliveries[index], source_ip=addresses[index])

    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        futures = [pool.submit(post, i) for i in range(len(deliveries))]
        return [future.result() for future in futures]


def _mismatches(record: Record, wanted: dict[str, Any]) -> list[str]:
    return [
        f"{key} {record.get(key)!r} (expected {value!r})"
        for key, value in wanted.items()
        if record.get(key) != value
    ]


def expect_logged_once(
    ctx: CheckContext,
    message: Message,
    what: str,
    *,
    exchange: Exchange,
    settle: bool = True,
) -> Record:
    """Exactly one log entry for `message`'s id, with its sender, type and account."""
    message_id = message["id"]
    records = settled(lambda: ctx.logged(message_id), timeout=None if settle else 0)
    expected = (
        f"exactly one log entry for {message_id} "
        f"(from {message.get('from') or message.get('from_user_id')}, type "
        f"{message['type']!r}, account {ctx.account.phone_number_id})"
    )
    if not records:
        ctx.fail(
            f"{what} was acknowledged but never logged: the probe lists no entry for "
            f"{message_id}" + (f" after {SETTLE_SECONDS:g} s" if settle else ""),
            expected=expected,
            exchange=exchange,
        )
    if len(records) > 1:
        ctx.fail(
            f"{what} was logged {len(records)} times: {_show(records)}",
            expected=expected,
            exchange=exchange,
        )
    wanted = {"id": message_id, "type": message["type"], "account": ctx.account.phone_number_id}
    if "from" in message:
        wanted["from"] = message["from"]
    wrong = _mismatches(records[0], wanted)
    # A business-scoped user without a number: `from` may be null or the user id.
    if "from" not in message and records[0].get("from") not in (
        None,
        "",
        message.get("from_user_id"),
    ):
        wrong.append(f"from {records[0].get('from')!r} (expected null or the from_user_id)")
    if wrong:
        ctx.fail(
            f"{what} was logged with " + ", ".join(wrong) + f": {_show(records)}",
            expected=expected,
            exchange=exchange,
        )
    return records[0]


def expect_one_client(
    ctx: CheckContext,
    customer: Customer,
    what: str,
    *,
    exchange: Exchange,
    names: Collection[str | None] | None = None,
) -> Record:
    """Exactly one client for `customer`'s number: source whatsapp, this account,
    and a name among `names` (default: exactly the customer's profile name)."""
    phone = customer.wa_id or ""
    allowed = list(names) if names is not None else [customer.name]
    records = settled(lambda: ctx.clients(phone))
    shown = " or ".join(repr(n) for n in allowed)
    expected = (
        f"exactly one client: phone {phone}, source 'whatsapp', name {shown}, "
        f"account {ctx.account.phone_number_id}"
    )
    record = _only_client(ctx, records, phone, what, expected=expected, exchange=exchange)
    wrong = _mismatches(
        record, {"phone": phone, "source": "whatsapp", "account": ctx.account.phone_number_id}
    )
    if record.get("name") not in allowed:
        wrong.append(f"name {record.get('name')!r} (expected {shown})")
    if wrong:
        ctx.fail(
            f"{what}: the client for {phone} has " + ", ".join(wrong) + f": {_show(records)}",
            expected=expected,
            exchange=exchange,
        )
    return record


def _only_client(
    ctx: CheckContext,
    records: list[Record],
    who: str,
    what: str,
    *,
    expected: str,
    exchange: Exchange,
) -> Record:
    """The one client the probe lists for `who`; a failure for none or several."""
    if not records:
        ctx.fail(
            f"{what}: the probe lists no client for {who} after {SETTLE_SECONDS:g} s",
            expected=expected,
            exchange=exchange,
        )
    if len(records) > 1:
        ctx.fail(
            f"{what}: the probe lists {len(records)} clients for {who}: {_show(records)}",
            expected=expected,
            exchange=exchange,
        )
    return records[0]


def expect_one_user_client(
    ctx: CheckContext,
    customer: Customer,
    what: str,
    *,
    exchange: Exchange,
    phone: str | None = None,
    any_phone: bool = False,
) -> Record:
    """Exactly one client for `customer`'s business-scoped user id: that user id,
    source whatsapp, this account, the profile name, and `phone` (default the
    customer's number; null or empty where it has none; anything with
    `any_phone`)."""
    user_id = customer.user_id or ""
    phone = phone if phone is not None else customer.wa_id
    records = settled(lambda: ctx.clients_by_user_id(user_id))
    expected = (
        f"exactly one client: user_id {user_id}, phone {phone or 'null'}, source 'whatsapp', "
        f"name {customer.name!r}, account {ctx.account.phone_number_id}"
    )
    who = f"user_id {user_id}"
    record = _only_client(ctx, records, who, what, expected=expected, exchange=exchange)
    wrong = _mismatches(
        record,
        {
            "user_id": user_id,
            "source": "whatsapp",
            "account": ctx.account.phone_number_id,
            "name": customer.name,
        },
    )
    if any_phone:
        pass
    elif phone is not None and record.get("phone") != phone:
        wrong.append(f"phone {record.get('phone')!r} (expected {phone!r})")
    elif phone is None and record.get("phone") not in (None, ""):
        wrong.append(f"phone {record.get('phone')!r} (expected null: the user sent no number)")
    if wrong:
        ctx.fail(
            f"{what}: the client for user_id {user_id} has " + ", ".join(wrong) + f": "
            f"{_show(records)}",
            expected=expected,
            exchange=exchange,
        )
    return record


def expect_no_user_client(
    ctx: CheckContext, user_id: str, what: str, *, exchange: Exchange
) -> None:
    records = ctx.clients_by_user_id(user_id)
    if records:
        ctx.fail(
            f"{what}, yet the probe lists a client for user_id {user_id}: {_show(records)}",
            expected=f"no client for user_id {user_id}",
            exchange=exchange,
        )


def expect_no_client(ctx: CheckContext, phone: str, what: str, *, exchange: Exchange) -> None:
    records = ctx.clients(phone)
    if records:
        ctx.fail(
            f"{what}, yet the probe lists a client for {phone}: {_show(records)}",
            expected=f"no client for {phone}",
            exchange=exchange,
        )


def expect_not_logged(ctx: CheckContext, message_id: str, what: str, *, exchange: Exchange) -> None:
    records = ctx.logged(message_id)
    if records:
        ctx.fail(
            f"{what}, yet the probe lists a log entry for {message_id}: {_show(records)}",
            expected=f"no log entry for {message_id}",
            exchange=exchange,
        )


def barrier(ctx: CheckContext) -> None:
    """Send a text to the configured account and wait until it is logged, so that
    an in-order receiver has also handled everything sent before it. Does nothing
    without a configured phone number id (nothing is sure to be stored then)."""
    if not ctx.config.phone_number_id:
        return
    customer = ctx.customer("Barrier")
    message = m.text(customer, "barrier", rng=ctx.rng)
    exchange = deliver(
        ctx, message_payload(ctx.account, message, customer), "a text to the configured account"
    )
    expect_logged_once(ctx, message, "a text to the configured account", exchange=exchange)


def _code_points(text: str) -> str:
    shown = " ".join(f"U+{ord(c):04X}" for c in text[:6])
    return (shown + " …") if len(text) > 6 else (shown or "(nothing)")


def describe_difference(sent: str, stored: object) -> str:
    """What happened to `sent` on its way into the store, in words."""
    if not isinstance(stored, str):
        return f"the probe's text is {stored!r}, not a string"
    for form in ("NFC", "NFKC", "NFD", "NFKD"):
        if unicodedata.normalize(form, sent) == stored:
            return f"it was {form}-normalised"
    if sent.strip() == stored:
        return "surrounding whitespace was stripped"
    try:
        if sent.encode("utf-8").decode("cp1252", "replace") == stored:
            return "it was double-encoded (UTF-8 bytes read as Windows-1252)"
    except UnicodeError:  # pragma: no cover - "replace" never raises
        pass
    index = next(
        (i for i, (a, b) in enumerate(zip(sent, stored, strict=False)) if a != b),
        min(len(sent), len(stored)),
    )
    return (
        f"{len(sent)} characters sent, {len(stored)} stored; from character {index} "
        f"sent {_code_points(sent[index:])}, stored {_code_points(stored[index:])}"
    )
