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

The shapes follow the state's era (`simulator.eras`). 2025 (v23.0): every
billed status carries the `conversation`, whose id is kept for 24 h per user
and category, so the statuses of one conversation share it; only `sent`
carries its `expiration_timestamp`. 2026 (v24.0+, business-scoped user ids):
no `conversation` (none of these is a free entry point), the recipient's
`recipient_user_id`, and `sent`, `delivered` and `read` come with a
`contacts` array holding the recipient's ids (without a profile, as live
2026 status deliveries have it); `failed` has neither, as Meta sends it for
a message sent to a number.
"""

from __future__ import annotations

from typing import Any

from simulator import ids, statuses
from simulator.graph.records import OutboundMessage
from simulator.graph.state import GraphState, PhoneNumber
from simulator.graph.validation import GraphError, Outgoing
from simulator.graph.webhooks import Job
from simulator.meta_errors import meta_error

__all__ = ["accept", "plan", "schedule"]


def accept(
    state: GraphState, phone: PhoneNumber, send: Outgoing, request: dict[str, Any]
) -> OutboundMessage:
    """Accept `send` or raise the `GraphError` Meta answers (132001 unknown
    template, 130429 throughput, 131056 pair rate)."""
    category = "service"
    if send.template_name is not None:
        found = state.template_category(send.template_name)
        if found is None:
            code = send.content["language"]["code"]
            raise GraphError(
                132001, details=f"template name ({send.template_name}) does not exist in {code}"
            )
        category = found
    with state.lock:
        refused = state.admit(phone.phone_number_id, send.wa_id)
        if refused is not None:
            raise GraphError(refused, details=meta_error(refused).details)
        in_window = state.window_open(phone.phone_number_id, send.wa_id)
        failure = None
        if state.undeliverable(send.wa_id):
            failure = 131026
        elif not in_window and send.type != "template":
            failure = 131047
        message = OutboundMessage(
            id=ids.wamid(send.wa_id, inbound=False),
            phone_number_id=phone.phone_number_id,
            to=send.to,
            wa_id=send.wa_id,
            type=send.type,
            content=send.content,
            request=request,
            created_at=state.clock.now(),
            category=category,
            context=send.context,
            failure=failure,
        )
        schedule(state, phone, message, in_window=in_window, callback=send.biz_opaque_callback_data)
        state.record_outbound(message)
    return message


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
    customer = state.customer(message.wa_id)
    steps = plan(state, message.failure)
    priced = "delivered" if any(kind == "delivered" for kind, _ in steps) else "read"
    free = in_window and message.category in ("service", "utility")
    price = statuses.pricing(message.category, type="free_customer_service" if free else None)
    conv_id, expires = state.billing_conversation(
        phone.phone_number_id, message.wa_id, message.category
    )
    jobs = []
    for kind, delay in steps:
        ts = ids.timestamp(state.clock.now() + delay)
        if kind == "failed":
            assert message.failure is not None
            status = statuses.failed(
                message.id, customer, code=message.failure, timestamp=ts,
                biz_opaque_callback_data=callback,
            )  # fmt: skip
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
