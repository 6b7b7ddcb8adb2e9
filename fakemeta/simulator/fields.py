"""Webhook fields other than `messages`: account, template, phone number,
security and user-preference changes.

In the data flow these are builders for a change's `value`; `payload()`
wraps one into a delivery through `envelopes.field_payload`, with the entry's
`time` (an int) for the fields whose entries carry it. Key orders follow the
syntax blocks of Meta's per-field webhook references
(developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/<field>);
comments name the exceptions. The examples at the end (statuses, fields and
`value.errors`) are what the fixture files are generated from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from fakemeta.simulator import envelopes
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.types import Payload

__all__ = [
    "ACCOUNT_UPDATE_EVENTS",
    "FIELDS",
    "MESSAGING_LIMIT_TIERS",
    "PHONE_QUALITY_EVENTS",
    "TEMPLATE_EVENTS",
    "TIMED_FIELDS",
    "account_review_update",
    "account_update",
    "business_capability_update",
    "payload",
    "phone_number_name_update",
    "phone_number_quality_update",
    "security",
    "template_category_update",
    "template_quality_update",
    "template_status_update",
    "user_id_update",
    "user_preferences",
]

JSON = dict[str, Any]

FIELDS: Final = (
    "account_update",
    "account_review_update",
    "business_capability_update",
    "message_template_status_update",
    "message_template_quality_update",
    "template_category_update",
    "phone_number_quality_update",
    "phone_number_name_update",
    "security",
    "user_preferences",
)

#: Fields whose entry carries `time`. user_preferences is shaped like a
#: `messages` value (metadata, contacts) and its documented entries have no `time`.
TIMED_FIELDS: Final = frozenset(FIELDS) - {"user_preferences"}

ACCOUNT_UPDATE_EVENTS: Final = (
    "ACCOUNT_DELETED", "ACCOUNT_OFFBOARDED", "ACCOUNT_RECONNECTED", "ACCOUNT_RESTRICTION",
    "ACCOUNT_VIOLATION", "AD_ACCOUNT_LINKED", "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE",
    "BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE", "DISABLED_UPDATE", "MM_LITE_TERMS_SIGNED",
    "PARTNER_ADDED", "PARTNER_APP_INSTALLED", "PARTNER_APP_UNINSTALLED",
    "PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE", "PARTNER_REMOVED",
    "VERIFIED_ACCOUNT", "VOLUME_BASED_PRICING_TIER_UPDATE",
)  # fmt: skip

TEMPLATE_EVENTS: Final = (
    "APPROVED", "ARCHIVED", "DELETED", "DISABLED", "FLAGGED", "IN_APPEAL", "LIMIT_EXCEEDED",
    "LOCKED", "PAUSED", "PENDING", "PENDING_DELETION", "REINSTATED", "REJECTED", "UNARCHIVED",
)  # fmt: skip

PHONE_QUALITY_EVENTS: Final = (
    "DOWNGRADE", "FLAGGED", "ONBOARDING", "THROUGHPUT_UPGRADE", "UNFLAGGED", "UPGRADE",
)  # fmt: skip

MESSAGING_LIMIT_TIERS: Final = (
    "TIER_50", "TIER_250", "TIER_1K", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_NOT_SET",
    "TIER_UNLIMITED",
)  # fmt: skip

_QUALITY_SCORES: Final = ("GREEN", "YELLOW", "RED", "UNKNOWN")
_TEMPLATE_CATEGORIES: Final = ("AUTHENTICATION", "MARKETING", "UTILITY")
_REVIEW_DECISIONS: Final = ("APPROVED", "DEFERRED", "PENDING", "REJECTED")


def _check(name: str, value: object, allowed: Sequence[str], table: str) -> None:
    if value not in allowed:
        raise ValueError(f"Expected {name} from {table} but got {name}={value!r}")


def _put(obj: JSON, key: str, value: object) -> None:
    if value is not None:
        obj[key] = value


def payload(
    waba_id: str, field: str, value: Mapping[str, Any], *, time: int | None = None
) -> Payload:
    """A whole delivery for one field change.

    `time` is written only for `TIMED_FIELDS`. Meta's docs print the
    management fields' envelopes both ways (`object` first in most
    account_update examples, last in the template, phone number and
    security ones); `envelopes.field_payload` decides that.
    """
    _check("field", field, FIELDS, "FIELDS")
    if time is not None and not isinstance(time, int):
        raise TypeError(f"Expected int but got time={time!r}")
    return envelopes.field_payload(
        waba_id, field, dict(value), time=time if field in TIMED_FIELDS else None
    )


def account_update(
    event: str,
    *,
    phone_number: str | None = None,
    country: str | None = None,
    waba_info: Mapping[str, Any] | None = None,
    violation_type: str | None = None,
    ban_state: str | None = None,
    ban_date: str | None = None,
    disconnection_reason: str | None = None,
    disconnection_initiated_by: str | None = None,
    restrictions: Sequence[Mapping[str, Any]] | None = None,
) -> JSON:
    """`account_update`: `[phone_number,] [country,] event, <event detail>`.

    `phone_number` is the legacy VERIFIED_ACCOUNT shape; `country` comes
    before `event` (BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE example).
    """
    _check("event", event, ACCOUNT_UPDATE_EVENTS, "ACCOUNT_UPDATE_EVENTS")
    value: JSON = {}
    _put(value, "phone_number", phone_number)
    _put(value, "country", country)
    value["event"] = event
    _put(value, "waba_info", dict(waba_info) if waba_info is not None else None)
    if violation_type is not None:
        value["violation_info"] = {"violation_type": violation_type}
    if ban_state is not None:
        value["ban_info"] = {"waba_ban_state": ban_state, "waba_ban_date": ban_date}
    if disconnection_reason is not None:
        value["disconnection_info"] = {
            "reason": disconnection_reason,
            "initiated_by": disconnection_initiated_by,
        }
    if restrictions is not None:
        value["restriction_info"] = [dict(r) for r in restrictions]
    return value


def account_review_update(decision: str) -> JSON:
    _check("decision", decision, _REVIEW_DECISIONS, "APPROVED/DEFERRED/PENDING/REJECTED")
    return {"decision": decision}


def business_capability_update(
    *,
    max_daily_conversation_per_phone: int | None = None,
    max_daily_conversations_per_business: int | str | None = None,
    max_phone_numbers_per_business: int | None = None,
    max_phone_numbers_per_waba: int | None = None,
) -> JSON:
    value: JSON = {}
    _put(value, "max_daily_conversation_per_phone", max_daily_conversation_per_phone)
    _put(value, "max_daily_conversations_per_business", max_daily_conversations_per_business)
    _put(value, "max_phone_numbers_per_business", max_phone_numbers_per_business)
    _put(value, "max_phone_numbers_per_waba", max_phone_numbers_per_waba)
    if not value:
        raise ValueError("Expected at least one capability but got none")
    return value


def _template(template_id: int, name: str, language: str) -> JSON:
    # The template id is a JSON number here, unlike every other id (Meta's
    # template webhook references type it Integer).
    if not isinstance(template_id, int):
        raise TypeError(f"Expected int but got template_id={template_id!r}")
    return {
        "message_template_id": template_id,
        "message_template_name": name,
        "message_template_language": language,
    }


def template_status_update(
    event: str,
    *,
    template_id: int,
    name: str,
    language: str = "en_US",
    reason: str | None = "NONE",
    category: str | None = None,
    disable_date: str | None = None,
    other_info: tuple[str, str] | None = None,
    rejection_info: tuple[str, str] | None = None,
) -> JSON:
    """`message_template_status_update`. `reason=None` is written as `null`
    (Meta does so for templates scheduled for deletion)."""
    _check("event", event, TEMPLATE_EVENTS, "TEMPLATE_EVENTS")
    value: JSON = {"event": event, **_template(template_id, name, language), "reason": reason}
    if category is not None:
        _check("category", category, _TEMPLATE_CATEGORIES, "AUTHENTICATION/MARKETING/UTILITY")
        value["message_template_category"] = category
    if disable_date is not None:
        value["disable_info"] = {"disable_date": disable_date}
    if other_info is not None:
        value["other_info"] = {"title": other_info[0], "description": other_info[1]}
    if rejection_info is not None:
        value["rejection_info"] = {"reason": rejection_info[0], "recommendation": rejection_info[1]}
    return value


def template_quality_update(
    previous: str, new: str, *, template_id: int, name: str, language: str = "en_US"
) -> JSON:
    for arg, score in (("previous", previous), ("new", new)):
        _check(arg, score, _QUALITY_SCORES, "GREEN/YELLOW/RED/UNKNOWN")
    return {
        "previous_quality_score": previous,
        "new_quality_score": new,
        **_template(template_id, name, language),
    }


def template_category_update(
    new_category: str,
    *,
    template_id: int,
    name: str,
    language: str = "en_US",
    previous_category: str | None = None,
    correct_category: str | None = None,
    category_update_timestamp: int | None = None,
) -> JSON:
    """A completed change (`previous_category`), or an impending one
    (`correct_category` and when it happens; `new_category` is then the
    current one). Orders are those of the two documented examples."""
    if (previous_category is None) == (correct_category is None):
        raise ValueError("Expected exactly one of previous_category or correct_category")
    value = _template(template_id, name, language)
    if previous_category is not None:
        value["previous_category"] = previous_category
        value["new_category"] = new_category
    else:
        value["new_category"] = new_category
        value["correct_category"] = correct_category
        _put(value, "category_update_timestamp", category_update_timestamp)
    return value


def phone_number_quality_update(
    display_phone_number: str,
    event: str,
    *,
    current_limit: str,
    old_limit: str | None = None,
    max_daily_conversations_per_business: str | None = None,
) -> JSON:
    _check("event", event, PHONE_QUALITY_EVENTS, "PHONE_QUALITY_EVENTS")
    for arg, tier in (("current_limit", current_limit), ("old_limit", old_limit)):
        if tier is not None:
            _check(arg, tier, MESSAGING_LIMIT_TIERS, "MESSAGING_LIMIT_TIERS")
    value: JSON = {"display_phone_number": display_phone_number, "event": event}
    _put(value, "old_limit", old_limit)
    value["current_limit"] = current_limit
    _put(value, "max_daily_conversations_per_business", max_daily_conversations_per_business)
    return value


def phone_number_name_update(
    display_phone_number: str,
    decision: str,
    requested_verified_name: str,
    rejection_reason: str | None = None,
) -> JSON:
    """`rejection_reason` is always present, `null` when not rejected."""
    _check("decision", decision, _REVIEW_DECISIONS, "APPROVED/DEFERRED/PENDING/REJECTED")
    return {
        "display_phone_number": display_phone_number,
        "decision": decision,
        "requested_verified_name": requested_verified_name,
        "rejection_reason": rejection_reason,
    }


def security(display_phone_number: str, event: str, *, requester: str | None = None) -> JSON:
    # PIN_REQUEST_SUCCESS is the current docs' spelling, PIN_RESET_SUCCESS the older one.
    events = ("PIN_CHANGED", "PIN_RESET_REQUEST", "PIN_REQUEST_SUCCESS", "PIN_RESET_SUCCESS")
    _check("event", event, events, "PIN_CHANGED/PIN_RESET_REQUEST/PIN_REQUEST_SUCCESS")
    value: JSON = {"display_phone_number": display_phone_number, "event": event}
    _put(value, "requester", requester)
    return value


def _user_ids(customer: Customer) -> JSON:
    """`wa_id`, `user_id`, `parent_user_id`, each when known (the 2026
    order of Meta's business-scoped user id guide, May 7, 2026)."""
    if customer.wa_id is None and customer.user_id is None:
        raise ValueError(f"Expected a customer with wa_id or user_id but got {customer!r}")
    ids_: JSON = {}
    _put(ids_, "wa_id", customer.wa_id)
    _put(ids_, "user_id", customer.user_id)
    _put(ids_, "parent_user_id", customer.parent_user_id)
    return ids_


def user_preferences(account: Account, customer: Customer, value: str, *, timestamp: int) -> JSON:
    """Marketing messages stopped or resumed: `messaging_product, metadata,
    contacts, user_preferences[] {wa_id, user_id, parent_user_id, detail,
    category, value, timestamp}` (ids as the customer has them: 2026 adds the
    business-scoped ones); the timestamp is an int here, unlike message
    timestamps."""
    _check("value", value, ("stop", "resume"), "stop/resume")
    return {
        "messaging_product": "whatsapp",
        "metadata": account.metadata,
        "contacts": [customer.contact],
        "user_preferences": [
            {
                **_user_ids(customer),
                "detail": f"User requested to {value} marketing messages",
                "category": "marketing_messages",
                "value": value,
                "timestamp": timestamp,
            }
        ],
    }


def user_id_update(
    account: Account, customer: Customer, previous_user_id: str, *, timestamp: str
) -> JSON:
    """A `user_id_update` value: a user's business-scoped id changed (from
    `previous_user_id` to `customer.user_id`), as Meta's business-scoped
    user id guide documented it from February to June 2026.

    Not generated in any era, and not in `FIELDS`: Meta's changelog of
    Aug 11, 2026 corrected the guide ("user_id_update is not a subscribable
    webhook field ... BSUID changes are delivered on the messages field as a
    system message", see `messages.system_user_changed_user_id`). Kept for
    receivers that handle it from the guide's earlier text.
    """
    if customer.user_id is None:
        raise ValueError(f"Expected a customer with user_id but got {customer!r}")
    update: JSON = {}
    _put(update, "wa_id", customer.wa_id)
    update["detail"] = f"User id for {customer.name or 'WhatsApp user'} has been updated."
    update["user_id"] = {"previous": previous_user_id, "current": customer.user_id}
    update["timestamp"] = timestamp
    return {
        "messaging_product": "whatsapp",
        "metadata": account.metadata,
        "contacts": [customer.contact],
        "user_id_update": [update],
    }
