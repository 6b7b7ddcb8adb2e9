"""What happens to a message after the Graph API accepts it: its statuses.

`accept()` is the model's side of a send: it applies the rate limits (which
Meta answers synchronously), decides the message's fate (delivered, or failed
with 131047 outside the customer service window, 131026 when undeliverable,
both answered 200 first and failed by webhook, as Meta does), records it and
schedules its status webhooks on the queue with Meta's `conversation` and
`pricing` objects. No HTTP.

Pricing (per-message pricing): free-form messages are `service` (free
inside the window); templates take their configured category (`utility` by
default), and a utility template sent inside an open window is free
(`free_customer_service`), as Meta prices it since July 2025. `read` carries
no pricing unless it comes without `delivered`.

The shapes follow the state's era (`fakemeta.simulator.eras`). 2025 (v23.0): every
billed status carries the `conversation`, whose id is kept for 24 h per user
and category, so the statuses of one conversation share it; only `sent`
carries its `expiration_timestamp`. 2026 (v24.0+, business-scoped user ids):
no `conversation` (none of these is a free entry point), the recipient's
`recipient_user_id`, and `sent`, `delivered` and `read` come with a
`contacts` array holding the recipient's ids (without a profile, as live
2026 status deliveries have it); `failed` has neither, as Meta sends it for
a message sent to a number.

A message sent to a business-scoped id (`recipient`, 2026; Meta's
"Business-scoped user IDs" guide, Updated May 7, 2026, "Status messages
webhooks"): its statuses carry `recipient_user_id` (the user's id) and
`recipient_parent_user_id` (when the user has a parent id: the one it was
sent to, or the one their messages carried), and `recipient_id` and the
contact's `wa_id` only when the server knows the number ("Will be omitted
if you sent the message to the user's BSUID or parent BSUID and we are
unable to include their phone number"); a `failed` one keeps
`recipient_user_id` ("For failed status messages, will be omitted if the
message was sent to the user's phone number" -- only then). It joins the
conversation, window and rate buckets of the user the id names
(`GraphState.addressee`). An id the server never met fails 131026 "Message
undeliverable" by webhook after a 200, as a number that is not on WhatsApp
does: the guide says a send to a BSUID of another portfolio "will fail"
and documents no code for an unknown id, and Meta's error code table (as
BSPs quote it) gives 131026, "Unable to deliver message", for a recipient
who cannot receive it. An authentication template sent to an id is refused
at once with 131062, the one error code the guide adds ("Business-scoped
User ID (BSUID) recipients are not supported for this message"; one-tap,
zero-tap and copy code authentication templates "require user phone
numbers").
"""

from __future__ import annotations

from typing import Any

from fakemeta.simulator import ids, statuses
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.graph.records import OutboundMessage
from fakemeta.simulator.graph.state import GraphState, PhoneNumber
from fakemeta.simulator.graph.validation import GraphError, Outgoing, is_parent_bsuid
from fakemeta.simulator.graph.webhooks import Job
from fakemeta.simulator.meta_errors import meta_error
from fakemeta.simulator.types import Status

#: Meta's details for 131062 (the guide's "Error codes"); it documents no
#: title, so the Graph message repeats the details.
BSUID_NOT_SUPPORTED = (
    "Business-scoped User ID (BSUID) recipients are not supported for this message."
)

__all__ = ["accept", "plan", "schedule"]


def accept(
    state: GraphState, phone: PhoneNumber, send: Outgoing, request: dict[str, Any]
) -> OutboundMessage:
    """Accept `send` or raise the `GraphError` Meta answers (132001 unknown
    template, 131062 authentication template to a user id, 130429
    throughput, 131056 pair rate)."""
    category = "service"
    if send.template_name is not None:
        found = state.template_category(send.template_name)
        if found is None:
            code = send.content["language"]["code"]
            raise GraphError(
                132001, details=f"template name ({send.template_name}) does not exist in {code}"
            )
        category = found
    if send.recipient is not None and category == "authentication":
        raise GraphError(
            131062, message=f"(#131062) {BSUID_NOT_SUPPORTED}", details=BSUID_NOT_SUPPORTED
        )
    with state.lock:
        customer, failure = _addressee(state, send)
        user = customer.wa_id or customer.user_id or send.input
        refused = state.admit(phone.phone_number_id, user)
        if refused is not None:
            raise GraphError(refused, details=meta_error(refused).details)
        if send.wa_id is not None and failure is None:
            state.remember(send.wa_id)
        in_window = state.window_open(phone.phone_number_id, user)
        if failure is None and not in_window and send.type != "template":
            failure = 131047
        message = OutboundMessage(
            id=ids.wamid(user, inbound=False),
            phone_number_id=phone.phone_number_id,
            to=send.to,
            wa_id=customer.wa_id,
            type=send.type,
            content=send.content,
            request=request,
            created_at=state.clock.now(),
            category=category,
            context=send.context,
            failure=failure,
            recipient=send.recipient,
            user_id=customer.user_id,
            parent_user_id=customer.parent_user_id,
        )
        schedule(state, phone, message, in_window=in_window, callback=send.biz_opaque_callback_data)
        state.record_outbound(message)
    return message


def _addressee(state: GraphState, send: Outgoing) -> tuple[Customer, int | None]:
    """Who `send` goes to, as its statuses show them, and the code it fails
    with by webhook if it cannot be delivered (131026), else None."""
    if send.recipient is None:
        assert send.wa_id is not None
        return state.customer(send.wa_id), 131026 if state.undeliverable(send.wa_id) else None
    found = state.addressee(send.recipient)
    if found is None:
        # Nobody this server knows: the id alone, failed 131026 (see the docstring).
        if is_parent_bsuid(send.recipient):
            return Customer(None, parent_user_id=send.recipient), 131026
        return Customer(None, user_id=send.recipient), 131026
    if found.wa_id is not None and state.undeliverable(found.wa_id):
        return found, 131026
    return found, None


def _recipient(state: GraphState, message: OutboundMessage) -> Customer:
    """The user `message`'s statuses are about."""
    if message.recipient is None:
        assert message.wa_id is not None
        return state.customer(message.wa_id)
    return Customer(message.wa_id, user_id=message.user_id, parent_user_id=message.parent_user_id)


def _sent_to_user_id(status: Status, customer: Customer) -> Status:
    """A `failed` status of a message sent to a business-scoped id: keeps
    `recipient_user_id` (and the parent id), and `recipient_id` only when
    the number is known, in Meta's key order."""
    head = {key: status[key] for key in ("id", "status", "timestamp")}
    for key, value in (
        ("recipient_id", customer.wa_id),
        ("recipient_user_id", customer.user_id),
        ("recipient_parent_user_id", customer.parent_user_id),
    ):
        if value is not None:
            head[key] = value
    rest = {k: v for k, v in status.items() if k not in head and not k.startswith("recipient_")}
    return {**head, **rest}  # type: ignore[typeddict-item]


def plan(state: GraphState, failure: int | None) -> list[tuple[str, float]]:
    """(status, delay in seconds) pairs for a new message, in order."""
    s = state.settings
    if failure is not None:
        return [("failed", s.sent_after)]
    steps = [("sent", s.sent_after)]
    if s.delivered_after is not None:
        steps.append(("delivered", max(s.delivered_after, s.sent_after)))
    if s.read_after is not None:
        steps.append(("read", max(s.read_after, steps[-1][1])))
    return steps


def schedule(
    state: GraphState,
    phone: PhoneNumber,
    message: OutboundMessage,
    *,
    in_window: bool,
    callback: str | None = None,
) -> list[Job]:
    """Queue the message's status webhooks and fill in its timeline."""
    era = state.era
    customer = _recipient(state, message)
    steps = plan(state, message.failure)
    priced = "delivered" if any(kind == "delivered" for kind, _ in steps) else "read"
    free = in_window and message.category in ("service", "utility")
    price = statuses.pricing(message.category, type="free_customer_service" if free else None)
    conv_id, expires = state.billing_conversation(
        phone.phone_number_id, message.user, message.category
    )
    jobs = []
    for kind, delay in steps:
        ts = ids.timestamp(state.clock.now() + delay)
        if kind == "failed":
            assert message.failure is not None
            # Built for the id alone, then readdressed: `statuses.failed` drops
            # `recipient_user_id` for a user with a number, as for a send to one.
            about = (
                customer if message.recipient is None else Customer(None, user_id=message.recipient)
            )
            status = statuses.failed(
                message.id, about, code=message.failure, timestamp=ts,
                biz_opaque_callback_data=callback,
            )  # fmt: skip
            if message.recipient is not None:
                status = _sent_to_user_id(status, customer)
        else:
            billed = kind in ("sent", priced)
            conversation = None
            # v24.0+ omits it "unless webhook is for a free entry point
            # conversation" (as `statuses.sent` and friends decide it).
            with_conversation = era.conversation_on_statuses or price["type"] == "free_entry_point"
            if billed and with_conversation:
                expiration = str(int(expires)) if kind == "sent" else None
                conversation = statuses.conversation(
                    message.category, conversation_id=conv_id, expiration_timestamp=expiration
                )
            status = statuses.status(
                message.id, kind, customer, timestamp=ts, conversation=conversation,
                pricing=price if billed else None, biz_opaque_callback_data=callback,
            )  # fmt: skip
        job = state.webhooks.schedule(
            "status",
            statuses.statuses_payload(phone.account, status, customer, profiles=False),
            label=f"{kind} {message.id}",
            delay=delay,
            meta={
                "message_id": message.id,
                "status": kind,
                "phone_number_id": phone.phone_number_id,
            },
        )
        message.timeline.append((kind, job.due_at))
        jobs.append(job)
    return jobs
