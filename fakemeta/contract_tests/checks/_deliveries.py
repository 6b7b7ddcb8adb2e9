"""Traffic for the SIG, ROBUST and TIME checks: fresh deliveries, refusals
that must leave no trace, and property examples that stop at the first failure.

Every valid message these checks send comes from a sender no run has used
and carries a message id no run has used, so the suite can run against a
shared receiver that is never reset, and "nothing stored" can be asked of
the probe about exactly one delivery.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TypeVar

from hypothesis import strategies as st

from fakemeta.contract_tests.checks._store import settled
from fakemeta.contract_tests.context import CheckContext
from fakemeta.simulator import ids, messages
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.envelopes import Customer, message_payload
from fakemeta.simulator.strategies import wa_ids
from fakemeta.simulator.targets import Exchange
from fakemeta.simulator.types import Payload

__all__ = ["Refused", "Sent", "drawn_senders", "expect_nothing_stored", "fresh_text"]

T = TypeVar("T")

#: The seed's own example text: plain ASCII, nothing any encoder escapes.
PLAIN_TEXT = "Hello, I need information"

#: How long a receiver may take to store a valid message before the absence
#: of refused ones is judged (the TIME-1 limit).


@dataclass(frozen=True)
class Sent:
    """A delivery of one text message from a fresh sender, before it is posted."""

    delivery: Delivery
    payload: Payload
    customer: Customer
    message_id: str


def fresh_text(ctx: CheckContext, body: str = PLAIN_TEXT, *, name: str | None = None) -> Sent:
    """A text message from a fresh sender to the configured account, signed."""
    customer = ctx.customer(name)
    message = messages.text(customer, body)
    payload = message_payload(ctx.account, message, customer)
    return Sent(ctx.signed(payload), payload, customer, message["id"])


def drawn_senders(ctx: CheckContext, names: st.SearchStrategy[str]) -> st.SearchStrategy[Customer]:
    """Senders drawn by Hypothesis in the run's era: a number and a name, and
    in the 2026 era a business-scoped user id of the number's country.

    Drawn, not fresh: an example must be a function of its draw to shrink and
    replay; `ctx.examples` gives every attempt fresh numbers and user ids.
    """
    if not ctx.era.business_scoped_ids:
        return st.builds(Customer, wa_ids(), names)

    def scoped(number: str, name: str, seed: int) -> Customer:
        user_id = ids.bsuid(ids.country_of(number), random.Random(seed))
        return Customer(number, name, user_id=user_id)

    return st.builds(scoped, wa_ids(), names, st.integers(0, 2**32 - 1))


@dataclass(frozen=True)
class Refused:
    """A refused delivery whose message must not be in the store."""

    exchange: Exchange
    what: str
    customer: Customer
    message_id: str


def expect_nothing_stored(
    ctx: CheckContext,
    refused: list[Refused],
    *,
    expected: str = "nothing stored from a delivery whose signature does not verify",
) -> None:
    """No log entry for any refused message id and no client for its sender.

    Without a probe there is nothing to look at, and the refusals alone are
    judged. Absence cannot be waited for, so first a valid text goes to the
    configured account and is waited for: a receiver that stores through a
    queue has then handled the refused deliveries too. Whether that text is
    stored is CLIENT-1's business, not a signature failure, so it only
    decides how long to wait.
    """
    if ctx.config.probe is None or not refused:
        return
    if ctx.config.phone_number_id:
        control = fresh_text(ctx, "control message after refused deliveries")
        if ctx.post(control.delivery).status == 200:
            settled(lambda: ctx.logged(control.message_id))
    for item in refused:
        logged = ctx.logged(item.message_id)
        if logged:
            ctx.fail(
                f"{item.what} was answered HTTP {item.exchange.status}, but the receiver "
                f"logged its message {item.message_id}: {logged[:1]}",
                expected=expected,
                exchange=item.exchange,
            )
        phone = item.customer.wa_id or ""
        clients = ctx.clients(phone)
        if clients:
            ctx.fail(
                f"{item.what} was answered HTTP {item.exchange.status}, but the receiver "
                f"created a client for its sender {phone}: {clients[:1]}",
                expected=expected,
                exchange=item.exchange,
            )
