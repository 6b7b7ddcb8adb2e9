"""Named examples of statuses, `value.errors` deliveries and other fields:
the fixture files and `fakemeta send URL <name>` are made from these (through
`fakemeta.simulator.catalog`). Deterministic given the `random.Random` passed in.
"""

from __future__ import annotations

import random
from typing import Any, TypedDict

from fakemeta.simulator import eras, ids
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.fields import (
    account_review_update,
    account_update,
    business_capability_update,
    phone_number_name_update,
    phone_number_quality_update,
    security,
    template_category_update,
    template_quality_update,
    template_status_update,
    user_preferences,
)
from fakemeta.simulator.statuses import (
    delivered,
    error,
    errors_value,
    failed,
    played,
    read,
    sent,
    statuses_payload,
)
from fakemeta.simulator.types import Payload, Status, Value

__all__ = ["error_examples", "field_examples", "status_example_payloads", "status_examples"]

JSON = dict[str, Any]


def _status_cases(
    account: Account, recipient: Customer, rng: random.Random, timestamp: str, era: Era
) -> dict[str, tuple[Status, Customer]]:
    # Draws happen in this fixed order, so one seed gives the same examples.
    ts = int(timestamp)

    def wamid(who: Customer = recipient) -> str:
        return ids.wamid(who.wa_id or who.user_id or "", inbound=False, rng=rng)

    cases: dict[str, tuple[Status, Customer]] = {
        "sent": (sent(wamid(), recipient, timestamp=timestamp, era=era, rng=rng), recipient),
        "delivered": (
            delivered(wamid(), recipient, timestamp=str(ts + 2), category="utility", era=era,
                      rng=rng),
            recipient,
        ),
        "read": (read(wamid(), recipient, timestamp=str(ts + 9)), recipient),
        "failed": (failed(wamid(), recipient, timestamp=timestamp), recipient),
        "played": (played(wamid(), recipient, timestamp=str(ts + 30)), recipient),
        # The billable marketing rate (per-message pricing, since July 2025).
        "sent_pmp_pricing": (
            sent(wamid(), recipient, category="marketing", timestamp=timestamp, era=era,
                 rng=rng),
            recipient,
        ),
        "sent_free_entry_point": (
            sent(wamid(), recipient, category="referral_conversion", timestamp=timestamp,
                 era=era, rng=rng),
            recipient,
        ),
        "failed_outside_window": (
            failed(wamid(), recipient, code=131047, timestamp=timestamp), recipient
        ),
        "sent_biz_opaque": (
            sent(wamid(), recipient, category="utility", with_conversation=False,
                 biz_opaque_callback_data="order-1234/retry?x=1", timestamp=timestamp, era=era),
            recipient,
        ),
    }  # fmt: skip
    if not era.business_scoped_ids:
        # Before July 2025: conversation-based pricing, no pricing.type.
        cases["sent_cbp_pricing"] = (
            sent(
                wamid(),
                recipient,
                category="marketing",
                pricing_model="CBP",
                timestamp=timestamp,
                era=era,
                rng=rng,
            ),
            recipient,
        )
        return cases
    # 2026: who the recipient is, and groups (Meta's business-scoped user id
    # guide, May 7, 2026: delivered to a BSUID with no shareable number, a
    # failed send to a BSUID, parent ids, group statuses).
    phoneless = Customer(None, "Nour Salem", user_id=ids.bsuid("EG", rng), username="nour.designs")
    number = ids.wa_id(rng)
    country = ids.country_of(number)
    with_parent = Customer(
        number, "Pablo M.", user_id=ids.bsuid(country, rng), username="pablomorales",
        parent_user_id=ids.parent_bsuid(country, rng),
    )  # fmt: skip
    group = ids.group_id(account.display_phone_number, rng)
    cases |= {
        "delivered_phoneless": (
            delivered(wamid(phoneless), phoneless, timestamp=str(ts + 2), category="marketing",
                      era=era),
            phoneless,
        ),
        "failed_phoneless": (
            failed(wamid(phoneless), phoneless, code=131026, timestamp=timestamp), phoneless
        ),
        "delivered_parent_user_id": (
            delivered(wamid(with_parent), with_parent, timestamp=str(ts + 2),
                      category="marketing", era=era),
            with_parent,
        ),
        "delivered_group": (
            delivered(wamid(with_parent), with_parent, group_id=group, timestamp=str(ts + 3),
                      category="utility", era=era),
            with_parent,
        ),
        "read_group": (
            read(wamid(with_parent), with_parent, group_id=group, timestamp=str(ts + 12)),
            with_parent,
        ),
    }  # fmt: skip
    return cases


def status_examples(
    account: Account,
    recipient: Customer,
    rng: random.Random,
    timestamp: str,
    *,
    era: Era | str | None = None,
) -> dict[str, Status]:
    """Named statuses, one per variant a receiver must accept, in the era's shapes."""
    cases = _status_cases(account, recipient, rng, timestamp, eras.era(era))
    return {name: s for name, (s, _) in cases.items()}


def status_example_payloads(
    account: Account,
    recipient: Customer,
    rng: random.Random,
    timestamp: str,
    *,
    era: Era | str | None = None,
) -> dict[str, Payload]:
    """The same examples as whole deliveries, with the 2026 `contacts` array
    where Meta sends one (sent, delivered and read to business-scoped users)."""
    cases = _status_cases(account, recipient, rng, timestamp, eras.era(era))
    payloads = {name: statuses_payload(account, s, [who]) for name, (s, who) in cases.items()}
    if "delivered" in cases and recipient.user_id is not None:
        # Live 2026 status bodies carry contacts without a profile.
        status, who = cases["delivered"]
        payloads["delivered_contact_without_profile"] = statuses_payload(
            account, status, [who], profiles=False
        )
    return payloads


def error_examples(account: Account) -> dict[str, Value]:
    """`value.errors` deliveries: system-level problems, no message or status."""
    return {
        "rate_limit_hit": errors_value(account, [error(130429)]),
        "something_went_wrong": errors_value(account, [error(131000)]),
    }


class _Template(TypedDict):
    template_id: int
    name: str


def _template_name(rng: random.Random) -> str:
    words = ("order", "shipping", "welcome", "reminder", "otp", "promo", "receipt", "update")
    return f"{rng.choice(words)}_{rng.choice(words)}_{rng.randint(1, 99)}"


def field_examples(
    account: Account, rng: random.Random, time: int, *, era: Era | str | None = None
) -> dict[str, tuple[str, JSON]]:
    """Named (field, value) pairs, one per variant a receiver must accept, in
    the era's shapes (the users of `user_preferences`)."""
    number = account.display_phone_number
    template = _Template(template_id=int(ids.digits(15, rng)), name=_template_name(rng))
    customer = Customer.generate("Test User", rng, era=era)
    waba_info = {"waba_id": account.waba_id, "owner_business_id": ids.digits(16, rng)}
    rejection = (
        "Your template has parameters placed next to each other (like {{1}}{{2}}) "
        "without text or punctuation between them.",
        "Separate parameters with descriptive text and ensure each parameter is clearly "
        "contextualized.",
    )
    return {
        "account_update_verified": (
            "account_update", account_update("VERIFIED_ACCOUNT", phone_number=number)),
        "account_update_violation": (
            "account_update", account_update("ACCOUNT_VIOLATION", violation_type="ADULT")),
        "account_update_disabled": ("account_update", account_update(
            "DISABLED_UPDATE", ban_state="DISABLE", ban_date="April 17, 2025")),
        "account_update_partner_added": (
            "account_update", account_update("PARTNER_ADDED", waba_info=waba_info)),
        "account_update_partner_removed": ("account_update", account_update(
            "PARTNER_REMOVED", waba_info=waba_info, disconnection_reason="PRIMARY_INACTIVITY",
            disconnection_initiated_by="SYSTEM")),
        "account_update_restriction": ("account_update", account_update(
            "ACCOUNT_RESTRICTION", restrictions=[
                {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                 "expiration": time + 7 * 86400}])),
        "account_review_update": ("account_review_update", account_review_update("APPROVED")),
        "business_capability_update": ("business_capability_update", business_capability_update(
            max_daily_conversations_per_business=2000, max_phone_numbers_per_waba=25)),
        "template_approved": ("message_template_status_update", template_status_update(
            "APPROVED", **template, category="UTILITY")),
        "template_rejected": ("message_template_status_update", template_status_update(
            "REJECTED", **template, reason="INVALID_FORMAT", category="MARKETING",
            rejection_info=rejection)),
        "template_paused": ("message_template_status_update", template_status_update(
            "PAUSED", **template, other_info=(
                "FIRST_PAUSE", "Your WhatsApp message template has been paused for 3 hours "
                "until Jun 9, 2026 at 4:42 PM UTC because it had issues."))),
        "template_disabled": ("message_template_status_update", template_status_update(
            "DISABLED", **template, disable_date=str(time))),
        "template_quality_update": ("message_template_quality_update",
                                    template_quality_update("GREEN", "YELLOW", **template)),
        "template_category_update": ("template_category_update", template_category_update(
            "MARKETING", **template, previous_category="UTILITY")),
        "template_category_update_impending": ("template_category_update",
            template_category_update("UTILITY", **template, correct_category="MARKETING",
                                     category_update_timestamp=time + 86400)),
        "phone_number_quality_flagged": ("phone_number_quality_update",
            phone_number_quality_update(number, "FLAGGED", current_limit="TIER_1K")),
        "phone_number_quality_upgrade": ("phone_number_quality_update",
            phone_number_quality_update(number, "UPGRADE", old_limit="TIER_1K",
                current_limit="TIER_10K", max_daily_conversations_per_business="TIER_10K")),
        "phone_number_name_approved": ("phone_number_name_update",
            phone_number_name_update(number, "APPROVED", "Lucky Shrub")),
        "phone_number_name_rejected": ("phone_number_name_update", phone_number_name_update(
            number, "REJECTED", "Lucky Shrub", "NAME_FORMAT_UNACCEPTABLE")),
        "security_pin_reset": ("security", security(
            number, "PIN_RESET_REQUEST", requester=ids.digits(14, rng))),
        "user_preferences_stop": (
            "user_preferences", user_preferences(account, customer, "stop", timestamp=time)),
        "user_preferences_resume": (
            "user_preferences", user_preferences(account, customer, "resume", timestamp=time)),
    }  # fmt: skip
