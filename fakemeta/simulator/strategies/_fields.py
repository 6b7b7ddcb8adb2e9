"""Strategies for the values of webhook fields other than `messages`.

Each field has its own strategy (`account_updates()`,
`template_status_updates()`, ...) built on the `fakemeta.simulator.fields` builders;
`field_values()` draws `(field, value)` pairs across them. Ids come from
Hypothesis draws, free text (template names, reasons, display names) from
the `_text` strategies so that receivers meet hostile strings here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from hypothesis import strategies as st

from fakemeta.simulator import eras
from fakemeta.simulator import fields as builders
from fakemeta.simulator.eras import Era
from fakemeta.simulator.strategies._ids import accounts, customers, wa_ids, waba_ids
from fakemeta.simulator.strategies._text import texts

__all__ = [
    "account_review_updates",
    "account_updates",
    "business_capability_updates",
    "field_values",
    "phone_number_name_updates",
    "phone_number_quality_updates",
    "security_updates",
    "template_category_updates",
    "template_quality_updates",
    "template_status_updates",
    "user_preferences_updates",
]

JSON = dict[str, Any]

_ints = st.integers(min_value=1_600_000_000, max_value=1_900_000_000)
_template_ids = st.integers(min_value=10**14, max_value=10**16 - 1)
# `[a-z][a-z0-9_]{0,40}` from two string draws (cheaper than `from_regex`).
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_template_names = st.one_of(
    st.tuples(
        st.text(_LOWER, min_size=1, max_size=1),
        st.text(_LOWER + "0123456789_", max_size=40),
    ).map("".join),
    texts(max_size=512),
)
_languages = st.sampled_from(("en_US", "en", "pt_BR", "ar", "es_MX", "hi", "id", "de"))
_categories = st.sampled_from(("AUTHENTICATION", "MARKETING", "UTILITY"))
_free_text = texts(max_size=256)
# `waba_ban_date` is a date in English words, day unpadded: "October 9, 2023"
# (Meta's account_update reference example; pywa parses it with "%B %d, %Y").
# English month names, whatever the process's locale.
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_ban_dates = st.dates(min_value=date(2019, 1, 1), max_value=date(2030, 12, 31)).map(
    lambda day: f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"
)


def _template_kwargs() -> st.SearchStrategy[JSON]:
    return st.fixed_dictionaries(
        {"template_id": _template_ids, "name": _template_names, "language": _languages}
    )


def account_updates() -> st.SearchStrategy[JSON]:
    waba_info = st.fixed_dictionaries(
        {"waba_id": waba_ids(), "owner_business_id": waba_ids()},
        optional={"partner_app_id": waba_ids(), "solution_id": waba_ids()},
    )
    return st.one_of(
        st.builds(lambda n: builders.account_update("VERIFIED_ACCOUNT", phone_number=n), wa_ids()),
        st.builds(
            lambda v: builders.account_update("ACCOUNT_VIOLATION", violation_type=v),
            st.sampled_from(("ADULT", "SCAM", "SPAM", "ILLEGAL_PRODUCTS_OR_SERVICES")),
        ),
        st.builds(
            lambda state, date: builders.account_update(
                "DISABLED_UPDATE", ban_state=state, ban_date=date
            ),
            st.sampled_from(("DISABLE", "REINSTATE", "SCHEDULE_FOR_DISABLE")),
            _ban_dates,
        ),
        st.builds(
            lambda event, info: builders.account_update(event, waba_info=info),
            st.sampled_from(("PARTNER_ADDED", "PARTNER_REMOVED", "PARTNER_APP_INSTALLED")),
            waba_info,
        ),
        st.builds(
            lambda c: builders.account_update(
                "BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE", country=c
            ),
            st.sampled_from(("IN", "BR", "ID", "US", "SA")),
        ),
        st.builds(
            lambda restrictions: builders.account_update(
                "ACCOUNT_RESTRICTION", restrictions=restrictions
            ),
            st.lists(
                st.fixed_dictionaries(
                    {
                        "restriction_type": st.sampled_from(
                            (
                                "RESTRICTED_BIZ_INITIATED_MESSAGING",
                                "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
                            )
                        ),
                        "expiration": _ints,
                    },
                    optional={"remediation": _free_text},
                ),
                min_size=1,
                max_size=3,
            ),
        ),
        st.sampled_from(("ACCOUNT_DELETED", "ACCOUNT_OFFBOARDED", "ACCOUNT_RECONNECTED")).map(
            builders.account_update
        ),
    )


def account_review_updates() -> st.SearchStrategy[JSON]:
    return st.sampled_from(("APPROVED", "DEFERRED", "PENDING", "REJECTED")).map(
        builders.account_review_update
    )


def business_capability_updates() -> st.SearchStrategy[JSON]:
    return st.builds(
        lambda business, waba: builders.business_capability_update(
            max_daily_conversations_per_business=business, max_phone_numbers_per_waba=waba
        ),
        st.one_of(
            st.sampled_from((250, 2000, 10000, 100000, -1)),
            st.sampled_from(builders.MESSAGING_LIMIT_TIERS),
        ),
        st.integers(min_value=1, max_value=25),
    )


def template_status_updates() -> st.SearchStrategy[JSON]:
    return st.builds(
        lambda event, kw, reason, category, info: builders.template_status_update(
            event, **kw, reason=reason, category=category, rejection_info=info
        ),
        st.sampled_from(builders.TEMPLATE_EVENTS),
        _template_kwargs(),
        st.one_of(st.none(), st.sampled_from(("NONE", "INVALID_FORMAT", "PROMOTIONAL", "SCAM"))),
        st.one_of(st.none(), _categories),
        st.one_of(st.none(), st.tuples(_free_text, _free_text)),
    )


def template_quality_updates() -> st.SearchStrategy[JSON]:
    scores = st.sampled_from(("GREEN", "YELLOW", "RED", "UNKNOWN"))
    return st.builds(
        lambda old, new, kw: builders.template_quality_update(old, new, **kw),
        scores,
        scores,
        _template_kwargs(),
    )


def template_category_updates() -> st.SearchStrategy[JSON]:
    completed = st.builds(
        lambda new, old, kw: builders.template_category_update(new, **kw, previous_category=old),
        _categories,
        _categories,
        _template_kwargs(),
    )
    impending = st.builds(
        lambda new, correct, at, kw: builders.template_category_update(
            new, **kw, correct_category=correct, category_update_timestamp=at
        ),
        _categories,
        _categories,
        _ints,
        _template_kwargs(),
    )
    return st.one_of(completed, impending)


def phone_number_quality_updates() -> st.SearchStrategy[JSON]:
    tiers = st.sampled_from(builders.MESSAGING_LIMIT_TIERS)
    return st.builds(
        lambda number, event, current, old, business: builders.phone_number_quality_update(
            number,
            event,
            current_limit=current,
            old_limit=old,
            max_daily_conversations_per_business=business,
        ),
        wa_ids(),
        st.sampled_from(builders.PHONE_QUALITY_EVENTS),
        tiers,
        st.one_of(st.none(), tiers),
        st.one_of(st.none(), tiers),
    )


def phone_number_name_updates() -> st.SearchStrategy[JSON]:
    approved = st.builds(
        lambda n, name: builders.phone_number_name_update(n, "APPROVED", name),
        wa_ids(),
        _free_text,
    )
    rejected = st.builds(
        lambda n, name, reason: builders.phone_number_name_update(n, "REJECTED", name, reason),
        wa_ids(),
        _free_text,
        st.sampled_from(("NAME_FORMAT_UNACCEPTABLE", "NAME_NOT_CONSISTENT", "UNKNOWN")),
    )
    return st.one_of(approved, rejected)


def security_updates() -> st.SearchStrategy[JSON]:
    return st.builds(
        lambda n, event, requester: builders.security(n, event, requester=requester),
        wa_ids(),
        st.sampled_from(("PIN_CHANGED", "PIN_RESET_REQUEST", "PIN_REQUEST_SUCCESS")),
        st.one_of(st.none(), waba_ids()),
    )


def user_preferences_updates(*, era: Era | str | None = None) -> st.SearchStrategy[JSON]:
    return st.builds(
        lambda account, customer, value, at: builders.user_preferences(
            account, customer, value, timestamp=at
        ),
        accounts(),
        customers(era=era),
        st.sampled_from(("stop", "resume")),
        _ints,
    )


_BY_FIELD: dict[str, Callable[..., st.SearchStrategy[JSON]]] = {
    "account_update": account_updates,
    "account_review_update": account_review_updates,
    "business_capability_update": business_capability_updates,
    "message_template_status_update": template_status_updates,
    "message_template_quality_update": template_quality_updates,
    "template_category_update": template_category_updates,
    "phone_number_quality_update": phone_number_quality_updates,
    "phone_number_name_update": phone_number_name_updates,
    "security": security_updates,
    "user_preferences": user_preferences_updates,
}
assert set(_BY_FIELD) == set(builders.FIELDS), "every field needs a strategy"

#: Fields whose values show users, and so follow the era's identity model.
_WITH_USERS = frozenset({"user_preferences"})


def field_values(
    *, fields: Sequence[str] | None = None, era: Era | str | None = None
) -> st.SearchStrategy[tuple[str, JSON]]:
    """`(field, value)` pairs for the given fields (all of `FIELDS` by
    default), users in the era's shapes."""
    chosen_era = eras.era(era)
    if fields is None:
        chosen: tuple[str, ...] = builders.FIELDS
    else:
        if isinstance(fields, str) or not fields:
            raise ValueError(f"Expected a non-empty list of fields but got fields={fields!r}")
        for name in fields:
            if name not in _BY_FIELD:
                raise ValueError(f"Expected a field from FIELDS but got fields={list(fields)!r}")
        chosen = tuple(fields)
    return st.one_of(
        [
            (_BY_FIELD[name](era=chosen_era) if name in _WITH_USERS else _BY_FIELD[name]()).map(
                _tagged(name)
            )
            for name in chosen
        ]
    )


def _tagged(field: str) -> Callable[[JSON], tuple[str, JSON]]:
    def tag(value: JSON) -> tuple[str, JSON]:
        return (field, value)

    return tag
