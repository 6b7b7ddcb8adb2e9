"""Status updates for the business's outbound messages, and `value.errors`.

In the data flow these are builders: they make the `statuses[]` objects (and
the `errors[]` of a system-level error delivery) in Meta's key order; the
envelope functions wrap them, `encoding.encode()` turns them into bytes.

Wire facts and their sources:

- Status keys: `id, status, timestamp, recipient_id, recipient_user_id,
  recipient_parent_user_id, biz_opaque_callback_data, conversation, pricing,
  errors` (Meta's "Status messages webhook reference", Updated May 21, 2026,
  and its business-scoped user id guide, May 7, 2026, for the
  `recipient_*user_id` pair; the guide renamed the parent key twice, to
  `recipient_parent_user_id` on 2026-05-05). A group status (delivered and
  read) has `recipient_id` (the group), `recipient_type`,
  `recipient_participant_id`, `recipient_participant_user_id`,
  `recipient_participant_parent_user_id` in that order (the same guide).
- `conversation`: `id, expiration_timestamp, origin {type}`; the expiration
  only on `sent`; since v24.0 omitted unless in a free entry point window.
- `pricing`: `billable, pricing_model, category, type` -- the order of live
  bodies captured in public repositories (2025-2026, with and without
  `recipient_user_id`). Meta's reference prints `type` before `category`;
  the wire does not. CBP pricing (before July 2025) has no `type`.
- `errors[]`: `code, title, message, error_data {details}, href`.
- `read` may arrive without `delivered`, and nothing orders the webhooks.
- With business-scoped ids (2026) the value carries `contacts` before
  `statuses` for sent, delivered and read; never for failed, and a failed
  status sent to a phone number has no `recipient_user_id`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from fakemeta.simulator import eras, ids
from fakemeta.simulator.envelopes import (
    Account,
    Customer,
    change,
    entry,
    payload,
    status_contacts,
    status_payload,
    statuses_value,
)
from fakemeta.simulator.eras import Era
from fakemeta.simulator.meta_errors import ERROR_HREF, meta_error
from fakemeta.simulator.types import Payload, Status, Value

__all__ = [
    "CONVERSATION_ORIGINS",
    "PRICING_CATEGORIES",
    "PRICING_MODELS",
    "PRICING_TYPES",
    "STATUS_KINDS",
    "conversation",
    "delivered",
    "error",
    "errors_payload",
    "errors_value",
    "failed",
    "played",
    "pricing",
    "read",
    "sent",
    "status",
    "status_contacts",
    "statuses_payload",
    "statuses_value",
]

JSON = dict[str, Any]

STATUS_KINDS: Final = ("sent", "delivered", "read", "failed", "played")

#: `conversation.origin.type` values (Meta's status reference).
CONVERSATION_ORIGINS: Final = (
    "authentication",
    "authentication_international",
    "marketing",
    "marketing_lite",
    "referral_conversion",
    "service",
    "utility",
)

#: `pricing.category` values: the conversation origins (Meta's status
#: reference spells one `authentication-international` in one list and
#: `authentication_international` in another; pywa, whatsapp-api-js and the
#: origin list use the underscore, and so do we).
PRICING_CATEGORIES: Final = CONVERSATION_ORIGINS

PRICING_MODELS: Final = ("CBP", "PMP")

#: `pricing.type` values (per-message pricing only; Meta's status reference).
PRICING_TYPES: Final = ("regular", "free_customer_service", "free_entry_point")

_SECONDS_PER_DAY = 24 * 60 * 60


def _check(name: str, value: object, allowed: Sequence[str], table: str) -> None:
    if value not in allowed:
        arg = name.replace(" ", "_")
        raise ValueError(f"Expected a {name} from {table} but got {arg}={value!r}")


def conversation(
    origin: str = "service",
    *,
    conversation_id: str | None = None,
    expiration_timestamp: str | None = None,
    rng: random.Random | None = None,
) -> JSON:
    """A `conversation` object; pass `expiration_timestamp` only for `sent`.

    The id is 32 lowercase hex digits, as in Meta's examples and live bodies.
    """
    _check("conversation origin", origin, CONVERSATION_ORIGINS, "CONVERSATION_ORIGINS")
    if conversation_id is None:
        r = rng if rng is not None else random.SystemRandom()
        conversation_id = f"{r.getrandbits(128):032x}"
    result: JSON = {"id": conversation_id}
    if expiration_timestamp is not None:
        result["expiration_timestamp"] = expiration_timestamp
    result["origin"] = {"type": origin}
    return result


def pricing(
    category: str = "service",
    *,
    model: str = "PMP",
    type: str | None = None,  # Meta's key
    billable: bool | None = None,
) -> JSON:
    """A `pricing` object.

    Under PMP, `type` defaults from the category: service messages are free
    inside the customer service window, referral conversions are free entry
    points, everything else is `regular` (billable). CBP has no `type`.
    """
    _check("pricing model", model, PRICING_MODELS, "PRICING_MODELS")
    _check("pricing category", category, PRICING_CATEGORIES, "PRICING_CATEGORIES")
    if model == "CBP":
        if type is not None:
            raise ValueError(f"Expected no pricing type under CBP but got type={type!r}")
        billable = category != "referral_conversion" if billable is None else billable
        return {"billable": billable, "pricing_model": model, "category": category}
    if type is None:
        type = {
            "service": "free_customer_service",
            "referral_conversion": "free_entry_point",
        }.get(category, "regular")
    _check("pricing type", type, PRICING_TYPES, "PRICING_TYPES")
    billable = type == "regular" if billable is None else billable
    return {"billable": billable, "pricing_model": model, "category": category, "type": type}


def error(
    code: int,
    *,
    title: str | None = None,
    message: str | None = None,
    details: str | None = None,
    href: str | None = ERROR_HREF,
) -> JSON:
    """One webhook error object; wording from `META_ERRORS` unless given.

    `message` repeats the title, as Meta's reference says it does. `href=None`
    leaves the key out (some live errors have none).
    """
    if title is None or details is None:
        known = meta_error(code)  # a KeyError lists the known codes
        title = known.title if title is None else title
        details = known.details if details is None else details
    result: JSON = {
        "code": code,
        "title": title,
        "message": message if message is not None else title,
        "error_data": {"details": details},
    }
    if href is not None:
        result["href"] = href
    return result


def status(
    message_id: str | None,
    status: str,
    recipient: Customer,
    *,
    group_id: str | None = None,
    timestamp: str | None = None,
    conversation: Mapping[str, Any] | None = None,
    pricing: Mapping[str, Any] | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    biz_opaque_callback_data: str | None = None,
    rng: random.Random | None = None,
) -> Status:
    """One `statuses[]` object in Meta's key order.

    `message_id=None` makes an outbound `wamid` for the recipient from `rng`.
    A `failed` status needs `errors`; the others may not carry any.

    To one user: the number is `recipient_id`, the business-scoped ids
    `recipient_user_id` and `recipient_parent_user_id`; a failed message sent
    to a number has no `recipient_user_id` (Meta's business-scoped user id
    guide, May 7, 2026). To a group (`group_id`, `delivered` and `read`
    only): `recipient_id` is the group, `recipient_type` "group", and the
    participant's ids follow as `recipient_participant_id`,
    `recipient_participant_user_id`, `recipient_participant_parent_user_id`
    (the same guide's group status syntax).
    """
    _check("status kind", status, STATUS_KINDS, "STATUS_KINDS")
    if recipient.wa_id is None and recipient.user_id is None:
        raise ValueError(f"Expected a recipient with wa_id or user_id but got {recipient!r}")
    if status == "failed" and not errors:
        raise ValueError("Expected errors for a failed status but got errors=None")
    if status != "failed" and errors:
        raise ValueError(f"Expected no errors on a {status!r} status, only on 'failed'")
    if group_id is not None and status not in ("delivered", "read"):
        raise ValueError(
            f"Expected a delivered or read status for a group (the group statuses Meta "
            f"documents) but got status={status!r}"
        )
    if message_id is None:
        message_id = ids.wamid(recipient.wa_id or recipient.user_id or "", inbound=False, rng=rng)
    result: JSON = {
        "id": message_id,
        "status": status,
        "timestamp": timestamp if timestamp is not None else ids.timestamp(),
    }
    if group_id is not None:
        result["recipient_id"] = group_id
        result["recipient_type"] = "group"
        _put(result, "recipient_participant_id", recipient.wa_id)
        _put(result, "recipient_participant_user_id", recipient.user_id)
        _put(result, "recipient_participant_parent_user_id", recipient.parent_user_id)
    else:
        _put(result, "recipient_id", recipient.wa_id)
        if not (status == "failed" and recipient.wa_id is not None):
            _put(result, "recipient_user_id", recipient.user_id)
            _put(result, "recipient_parent_user_id", recipient.parent_user_id)
    if biz_opaque_callback_data is not None:
        result["biz_opaque_callback_data"] = biz_opaque_callback_data
    if conversation is not None:
        result["conversation"] = dict(conversation)
    if pricing is not None:
        result["pricing"] = dict(pricing)
    if errors:
        result["errors"] = [dict(e) for e in errors]
    return cast("Status", result)


def _put(target: JSON, key: str, value: str | None) -> None:
    if value is not None:
        target[key] = value


def _billing(
    kind: str,
    category: str | None,
    model: str,
    with_conversation: bool | None,
    timestamp: str,
    era: Era,
    rng: random.Random | None,
) -> tuple[JSON | None, JSON | None]:
    if category is None:
        return None, None
    price = pricing(category, model=model)
    if with_conversation is None:
        # v24.0+: "Omitted entirely ... unless webhook is for a free entry
        # point conversation" (status reference, Updated May 21, 2026).
        with_conversation = era.conversation_on_statuses or price.get("type") == "free_entry_point"
    conv = None
    if with_conversation:
        origin = category
        expiration = str(int(timestamp) + _SECONDS_PER_DAY) if kind == "sent" else None
        conv = conversation(origin, expiration_timestamp=expiration, rng=rng)
    return conv, price


def _billed_status(
    kind: str,
    message_id: str | None,
    recipient: Customer,
    timestamp: str | None,
    category: str | None,
    pricing_model: str,
    with_conversation: bool | None,
    biz_opaque_callback_data: str | None,
    era: Era | str | None,
    rng: random.Random | None,
    group_id: str | None = None,
) -> Status:
    """`sent`, `delivered` or `read`, with the billing objects that status carries."""
    ts = timestamp if timestamp is not None else ids.timestamp()
    conv, price = _billing(kind, category, pricing_model, with_conversation, ts, eras.era(era), rng)
    return status(
        message_id, kind, recipient, group_id=group_id, timestamp=ts, conversation=conv,
        pricing=price, biz_opaque_callback_data=biz_opaque_callback_data, rng=rng,
    )  # fmt: skip


def sent(
    message_id: str | None,
    recipient: Customer,
    *,
    timestamp: str | None = None,
    category: str | None = "service",
    pricing_model: str = "PMP",
    with_conversation: bool | None = None,
    biz_opaque_callback_data: str | None = None,
    era: Era | str | None = None,
    rng: random.Random | None = None,
) -> Status:
    """A `sent` status with pricing and, where the era has one, a
    conversation with its expiration. `with_conversation=None` follows the
    era: always up to 2025 (v23.0), from 2026 (v24.0+) only in a free entry
    point window. `category=None` leaves both out, as v24 does when pricing
    went with the `delivered` webhook."""
    return _billed_status(
        "sent", message_id, recipient, timestamp, category, pricing_model,
        with_conversation, biz_opaque_callback_data, era, rng,
    )  # fmt: skip


def delivered(
    message_id: str | None,
    recipient: Customer,
    *,
    group_id: str | None = None,
    timestamp: str | None = None,
    category: str | None = "service",
    pricing_model: str = "PMP",
    with_conversation: bool | None = None,
    biz_opaque_callback_data: str | None = None,
    era: Era | str | None = None,
    rng: random.Random | None = None,
) -> Status:
    """A `delivered` status; its conversation (if any) has no expiration.
    `group_id`: delivered to `recipient` in that group (see `status`)."""
    return _billed_status(
        "delivered", message_id, recipient, timestamp, category, pricing_model,
        with_conversation, biz_opaque_callback_data, era, rng, group_id,
    )  # fmt: skip


def read(
    message_id: str | None,
    recipient: Customer,
    *,
    group_id: str | None = None,
    timestamp: str | None = None,
    category: str | None = None,
    pricing_model: str = "PMP",
    with_conversation: bool | None = None,
    biz_opaque_callback_data: str | None = None,
    era: Era | str | None = None,
    rng: random.Random | None = None,
) -> Status:
    """A `read` status. Pricing appears on `delivered` or `read`, never both,
    so by default a read carries none; give `category` for a read that came
    without a delivered."""
    return _billed_status(
        "read", message_id, recipient, timestamp, category, pricing_model,
        with_conversation, biz_opaque_callback_data, era, rng, group_id,
    )  # fmt: skip


def played(
    message_id: str | None,
    recipient: Customer,
    *,
    timestamp: str | None = None,
    biz_opaque_callback_data: str | None = None,
    rng: random.Random | None = None,
) -> Status:
    """A `played` status: the first time the user plays a voice message."""
    return status(
        message_id, "played", recipient, timestamp=timestamp,
        biz_opaque_callback_data=biz_opaque_callback_data, rng=rng,
    )  # fmt: skip


def failed(
    message_id: str | None,
    recipient: Customer,
    *,
    code: int = 131026,
    timestamp: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    biz_opaque_callback_data: str | None = None,
    rng: random.Random | None = None,
) -> Status:
    """A `failed` status carrying Meta's error for `code` (or `errors`)."""
    return status(
        message_id, "failed", recipient, timestamp=timestamp,
        errors=errors if errors is not None else [error(code)],
        biz_opaque_callback_data=biz_opaque_callback_data, rng=rng,
    )  # fmt: skip


def errors_value(account: Account, errors: Sequence[Mapping[str, Any]]) -> Value:
    """A `messages` change whose value holds `errors` instead of messages or
    statuses: a system-, app- or account-level problem (Meta's "Errors
    messages webhooks reference"; its example code is 130429)."""
    if not errors:
        raise ValueError("Expected at least one error but got errors=[]")
    return {
        "messaging_product": "whatsapp",
        "metadata": account.metadata,
        "errors": [dict(e) for e in errors],
    }


def errors_payload(account: Account, errors: Sequence[Mapping[str, Any]]) -> Payload:
    return payload([entry(account.waba_id, [change(errors_value(account, errors))])])


#: The same function under the name this module has always used.
statuses_payload = status_payload
