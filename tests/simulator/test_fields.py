"""Other webhook fields: key orders, entry time, validation, examples."""

from __future__ import annotations

import random

import pytest

from fakemeta.simulator import _examples, encoding, fields
from fakemeta.simulator.envelopes import Account, Customer

ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")
CUSTOMER = Customer("16505551234", "Sheena Nelson", user_id="US.13491208655302741918")
TEMPLATE = {"template_id": 1689556908129832, "name": "order_confirmation", "language": "en-US"}


def test_template_status_update_order():
    value = fields.template_status_update(
        "REJECTED", **TEMPLATE, reason="INVALID_FORMAT", category="MARKETING",
        rejection_info=("why", "fix"),
    )  # fmt: skip
    assert list(value) == [
        "event", "message_template_id", "message_template_name", "message_template_language",
        "reason", "message_template_category", "rejection_info",
    ]  # fmt: skip
    assert list(value["rejection_info"]) == ["reason", "recommendation"]


def test_template_reason_none_is_null():
    value = fields.template_status_update("PENDING_DELETION", **TEMPLATE, reason=None)
    assert b'"reason":null' in encoding.encode(value)


def test_template_id_must_be_an_int():
    with pytest.raises(TypeError, match="Expected int but got template_id='1'"):
        fields.template_quality_update("GREEN", "RED", template_id="1", name="x")  # type: ignore[arg-type]


def test_quality_and_category_orders():
    assert list(fields.template_quality_update("GREEN", "YELLOW", **TEMPLATE))[:2] == [
        "previous_quality_score", "new_quality_score",
    ]  # fmt: skip
    done = fields.template_category_update("MARKETING", **TEMPLATE, previous_category="UTILITY")
    assert list(done)[3:] == ["previous_category", "new_category"]
    soon = fields.template_category_update(
        "UTILITY", **TEMPLATE, correct_category="MARKETING", category_update_timestamp=1
    )
    assert list(soon)[3:] == ["new_category", "correct_category", "category_update_timestamp"]
    with pytest.raises(ValueError, match="exactly one"):
        fields.template_category_update("UTILITY", **TEMPLATE)


def test_phone_number_quality_update_order():
    value = fields.phone_number_quality_update(
        "15550783881", "DOWNGRADE", old_limit="TIER_1K", current_limit="TIER_250",
        max_daily_conversations_per_business="TIER_250",
    )  # fmt: skip
    assert list(value) == [
        "display_phone_number", "event", "old_limit", "current_limit",
        "max_daily_conversations_per_business",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="from MESSAGING_LIMIT_TIERS"):
        fields.phone_number_quality_update("1", "FLAGGED", current_limit="TIER_3")


def test_account_update_orders():
    assert list(fields.account_update("VERIFIED_ACCOUNT", phone_number="1")) == [
        "phone_number", "event",
    ]  # fmt: skip
    located = fields.account_update("BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE", country="IN")
    assert list(located) == ["country", "event"]
    removed = fields.account_update(
        "PARTNER_REMOVED", waba_info={"waba_id": "1", "owner_business_id": "2"},
        disconnection_reason="CHANGE_NUMBER", disconnection_initiated_by="USER",
    )  # fmt: skip
    assert list(removed) == ["event", "waba_info", "disconnection_info"]
    with pytest.raises(ValueError, match="Expected event from ACCOUNT_UPDATE_EVENTS"):
        fields.account_update("VERIFIED")


def test_name_update_always_has_rejection_reason():
    value = fields.phone_number_name_update("1", "APPROVED", "Lucky Shrub")
    assert list(value)[-1] == "rejection_reason"
    assert value["rejection_reason"] is None


def test_user_preferences_shape():
    value = fields.user_preferences(ACCOUNT, CUSTOMER, "stop", timestamp=1731705721)
    assert list(value) == ["messaging_product", "metadata", "contacts", "user_preferences"]
    assert list(value["user_preferences"][0]) == [
        "wa_id", "user_id", "detail", "category", "value", "timestamp",
    ]  # fmt: skip
    assert value["user_preferences"][0]["detail"] == "User requested to stop marketing messages"
    with pytest.raises(ValueError, match="stop/resume"):
        fields.user_preferences(ACCOUNT, CUSTOMER, "pause", timestamp=1)


def test_entry_time_is_an_int_for_management_fields():
    p = fields.payload(ACCOUNT.waba_id, "security", fields.security("1", "PIN_CHANGED"), time=17)
    assert list(p["entry"][0]) == ["id", "time", "changes"]
    assert type(p["entry"][0]["time"]) is int
    with pytest.raises(TypeError, match="Expected int but got time='17'"):
        fields.payload(ACCOUNT.waba_id, "security", {}, time="17")  # type: ignore[arg-type]


def test_user_preferences_entry_has_no_time():
    value = fields.user_preferences(ACCOUNT, CUSTOMER, "resume", timestamp=1)
    p = fields.payload(ACCOUNT.waba_id, "user_preferences", value, time=17)
    assert "time" not in p["entry"][0]


def test_unknown_field_is_refused():
    with pytest.raises(ValueError, match="Expected field from FIELDS but got field='bogus'"):
        fields.payload("1", "bogus", {}, time=1)


def test_golden_bytes_template_approved():
    value = fields.template_status_update("APPROVED", **TEMPLATE, category="UTILITY")
    body = encoding.encode(
        fields.payload(ACCOUNT.waba_id, "message_template_status_update", value, time=1751247548)
    )
    assert body == (
        b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398",'
        b'"time":1751247548,"changes":[{"value":{"event":"APPROVED","message_template_id":'
        b'1689556908129832,"message_template_name":"order_confirmation",'
        b'"message_template_language":"en-US","reason":"NONE","message_template_category":'
        b'"UTILITY"},"field":"message_template_status_update"}]}]}'
    )


def test_field_examples_are_deterministic_and_cover_every_field():
    a = _examples.field_examples(ACCOUNT, random.Random(7), 1750000000)
    b = _examples.field_examples(ACCOUNT, random.Random(7), 1750000000)
    assert a == b
    assert {field for field, _ in a.values()} == set(fields.FIELDS)
    assert a != _examples.field_examples(ACCOUNT, random.Random(8), 1750000000)


def test_status_examples_are_deterministic_and_named():
    user = Customer("16505551234", "Sheena Nelson", user_id="US.13491208655302741918")
    a = _examples.status_examples(ACCOUNT, user, random.Random(3), "1750030073")
    assert a == _examples.status_examples(ACCOUNT, user, random.Random(3), "1750030073")
    assert {"sent", "delivered", "read", "failed", "played", "failed_outside_window",
            "sent_biz_opaque", "delivered_phoneless", "failed_phoneless", "sent_pmp_pricing",
            "delivered_parent_user_id", "delivered_group", "read_group"} <= set(a)  # fmt: skip
    assert "sent_cbp_pricing" not in a
    assert a["failed_outside_window"]["errors"][0]["code"] == 131047
    assert "recipient_id" not in a["delivered_phoneless"]
    assert a["failed_phoneless"]["recipient_user_id"].startswith("EG.")
    assert "recipient_user_id" not in a["failed"]  # failed, sent to a number
    assert a["delivered_group"]["recipient_type"] == "group"
    assert "biz_opaque_callback_data" in a["sent_biz_opaque"]
    payloads = _examples.status_example_payloads(ACCOUNT, user, random.Random(3), "1750030073")
    assert "contacts" in payloads["delivered_phoneless"]["entry"][0]["changes"][0]["value"]
    assert "contacts" in payloads["sent"]["entry"][0]["changes"][0]["value"]
    assert "contacts" not in payloads["failed"]["entry"][0]["changes"][0]["value"]
    bare = payloads["delivered_contact_without_profile"]["entry"][0]["changes"][0]["value"]
    assert bare["contacts"] == [{"wa_id": "16505551234", "user_id": "US.13491208655302741918"}]


def test_2025_status_examples_have_numbers_conversations_and_cbp():
    user = Customer("16505551234", "Sheena Nelson")
    a = _examples.status_examples(ACCOUNT, user, random.Random(3), "1750030073", era="2025")
    assert a["sent_cbp_pricing"]["pricing"]["pricing_model"] == "CBP"
    assert "conversation" in a["sent"]
    assert "conversation" in a["delivered"]
    assert not {"delivered_phoneless", "delivered_group"} & set(a)
    payloads = _examples.status_example_payloads(
        ACCOUNT, user, random.Random(3), "1750030073", era="2025"
    )
    assert all("contacts" not in p["entry"][0]["changes"][0]["value"] for p in payloads.values())


def test_error_examples():
    examples = _examples.error_examples(ACCOUNT)
    assert examples["rate_limit_hit"]["errors"][0]["code"] == 130429


def test_error_values_carry_errors_instead_of_messages():
    for value in _examples.error_examples(ACCOUNT).values():
        assert list(value) == ["messaging_product", "metadata", "errors"]
        assert list(value["errors"][0]) == ["code", "title", "message", "error_data", "href"]
