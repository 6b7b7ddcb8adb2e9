"""TIME-1: every valid delivery is acknowledged in time.

Meta waits only a few seconds for the 200 before it counts a delivery as
failed and sends it again, so a receiver must answer quickly even for the
largest batch Meta sends: 1000 updates in one POST. The check times a single
message, a status, batches of 100 and 1000 updates (spread over entries,
changes and senders, as Meta batches them) and one more message right after
the big batch, and fails with the slowest answer.
"""

from __future__ import annotations

from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.registry import check
from fakemeta.simulator import messages, statuses
from fakemeta.simulator.envelopes import (
    Customer,
    change,
    entry,
    message_payload,
    messages_value,
    payload,
    status_payload,
    statuses_value,
)
from fakemeta.simulator.targets import Exchange
from fakemeta.simulator.types import Change, Message, Payload, Status

__all__ = ["MAX_UPDATES", "updates_batch"]

#: The most updates Meta puts in one POST.
MAX_UPDATES = 1000
_PER_CHANGE = 25
_CHANGES_PER_ENTRY = 4
_MESSAGES_PER_SENDER = 10


def updates_batch(ctx: CheckContext, updates: int) -> Payload:
    """`updates` messages and statuses for the configured account in one delivery.

    Nine in ten are text messages (ten per fresh sender), one in ten are
    statuses; 25 to a change, four changes to an entry.
    """
    account = ctx.account
    n_statuses = updates // 10
    n_messages = updates - n_statuses
    senders = [ctx.customer() for _ in range(max(1, -(-n_messages // _MESSAGES_PER_SENDER)))]
    sent: list[tuple[Customer, Message]] = []
    for i in range(n_messages):
        sender = senders[i // _MESSAGES_PER_SENDER]
        text = f"message {i + 1} of a batch of {updates} / \u0631\u0633\u0627\u0644\u0629 {i + 1}"
        sent.append((sender, messages.text(sender, text)))
    reports: list[tuple[Customer, Status]] = [
        (recipient, statuses.delivered(None, recipient, era=ctx.era))
        for recipient in (senders[i % len(senders)] for i in range(n_statuses))
    ]
    changes: list[Change] = []
    for start in range(0, len(sent), _PER_CHANGE):
        chunk = sent[start : start + _PER_CHANGE]
        contacts = [s.contact for s in dict.fromkeys(s for s, _ in chunk)]
        changes.append(change(messages_value(account, [m for _, m in chunk], contacts)))
    for start in range(0, len(reports), _PER_CHANGE):
        chunk_reports = reports[start : start + _PER_CHANGE]
        recipients = [r for r, _ in chunk_reports]
        value = statuses_value(account, [s for _, s in chunk_reports], recipients)
        changes.append(change(value))
    return payload(
        entry(account.waba_id, changes[start : start + _CHANGES_PER_ENTRY])
        for start in range(0, len(changes), _CHANGES_PER_ENTRY)
    )


@check("TIME-1")
def deliveries_are_acknowledged_in_time(ctx: CheckContext) -> None:
    """A message, a status and batches of 100 and 1000 updates are each answered 200 in time."""
    customer = ctx.customer()
    deliveries: list[tuple[str, Payload]] = [
        (
            "a single text message",
            message_payload(ctx.account, messages.text(customer, "how fast?"), customer),
        ),
        (
            "a single status",
            status_payload(ctx.account, statuses.sent(None, customer, era=ctx.era), customer),
        ),
        ("a batch of 100 updates", updates_batch(ctx, 100)),
        (f"a batch of {MAX_UPDATES} updates (Meta's largest)", updates_batch(ctx, MAX_UPDATES)),
    ]
    after = ctx.customer()
    deliveries.append(
        (
            f"a single text message right after the batch of {MAX_UPDATES}",
            message_payload(ctx.account, messages.text(after, "and now?"), after),
        )
    )
    timed: list[tuple[str, Exchange]] = []
    for what, body in deliveries:
        delivery = ctx.signed(body)
        exchange = ctx.post(delivery)
        what = f"{what} ({len(delivery.body):,} bytes)"
        ctx.expect_acknowledged(exchange, what)
        timed.append((what, exchange))
    what, slowest = max(timed, key=lambda t: t[1].latency)
    limit = ctx.config.time_limit
    if slowest.latency > limit:
        ctx.fail(
            f"{what} was acknowledged after {slowest.latency:.2f} s; "
            + ", ".join(f"{w.split(' (')[0]}: {e.latency:.2f} s" for w, e in timed),
            expected=(
                f"HTTP 200 within {limit:g} s for every delivery (Meta counts a slow answer as "
                "a failure and delivers again): acknowledge first, process after"
            ),
            exchange=slowest,
        )
