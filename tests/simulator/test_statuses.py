"""Status builders and value.errors: key orders, pricing models, errors, golden bytes."""

from __future__ import annotations

import random

import pytest

from fakemeta.simulator import encoding, statuses
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.meta_errors import META_ERRORS, meta_error

ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")
USER = Customer("16505551234", "Sheena Nelson")
SCOPED = Customer(None, "Pablo M.", user_id="US.13491208655302741918", username="@pablo")
BOTH = Customer("16505551234", "Pablo M.", user_id="US.13491208655302741918")
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA"


def test_sent_key_order_follows_meta():
    # 2025 (v23.0): a conversation beside the pricing.
    s = statuses.sent(
        WAMID, USER, timestamp="1750030073", category="marketing", era="2025",
        rng=random.Random(0),
    )  # fmt: skip
    assert list(s) == ["id", "status", "timestamp", "recipient_id", "conversation", "pricing"]
    assert list(s["conversation"]) == ["id", "expiration_timestamp", "origin"]
    assert s["conversation"]["expiration_timestamp"] == "1750116473"
    assert s["conversation"]["origin"] == {"type": "marketing"}


def test_2026_statuses_have_no_conversation_outside_a_free_entry_point():
    # v24.0+: "Omitted entirely ... unless webhook is for a free entry point conversation".
    s = statuses.sent(WAMID, BOTH, timestamp="1750030073", category="marketing")
    assert list(s) == ["id", "status", "timestamp", "recipient_id", "recipient_user_id", "pricing"]
    free = statuses.sent(WAMID, BOTH, category="referral_conversion", rng=random.Random(0))
    assert free["conversation"]["origin"] == {"type": "referral_conversion"}
    assert free["pricing"]["type"] == "free_entry_point"


def test_group_statuses_name_the_group_and_the_participant():
    parent = Customer("16505551234", "Pablo M.", user_id="US.1349", parent_user_id="US.ENT.1181")
    s = statuses.delivered(WAMID, parent, group_id="Y2FwaV9ncm91cDox", category="utility")
    assert list(s) == [
        "id", "status", "timestamp", "recipient_id", "recipient_type",
        "recipient_participant_id", "recipient_participant_user_id",
        "recipient_participant_parent_user_id", "pricing",
    ]  # fmt: skip
    assert (s["recipient_id"], s["recipient_type"]) == ("Y2FwaV9ncm91cDox", "group")
    with pytest.raises(ValueError, match="delivered or read status for a group"):
        statuses.status(WAMID, "sent", parent, group_id="Y2FwaV9ncm91cDox")


def test_2026_status_contacts_only_for_sent_delivered_and_read():
    scoped = Customer("16505551234", "Pablo M.", user_id="US.1349", username="pablo")
    value = statuses.statuses_value(ACCOUNT, [statuses.sent(WAMID, scoped)], [scoped])
    assert value["contacts"] == [  # no username on `sent`
        {"profile": {"name": "Pablo M."}, "wa_id": "16505551234", "user_id": "US.1349"}
    ]
    for s in (statuses.failed(WAMID, scoped), statuses.played(WAMID, scoped)):
        assert "contacts" not in statuses.statuses_value(ACCOUNT, [s], [scoped])


def test_pmp_pricing_order_is_the_wire_order():
    # Live bodies put category before type (Meta's reference prints the reverse).
    assert list(statuses.pricing("marketing")) == ["billable", "pricing_model", "category", "type"]


def test_cbp_pricing_has_no_type():
    assert statuses.pricing("utility", model="CBP") == {
        "billable": True, "pricing_model": "CBP", "category": "utility",
    }  # fmt: skip
    with pytest.raises(ValueError, match="no pricing type under CBP"):
        statuses.pricing("utility", model="CBP", type="regular")


@pytest.mark.parametrize(
    ("category", "kind", "billable"),
    [
        ("service", "free_customer_service", False),
        ("referral_conversion", "free_entry_point", False),
        ("marketing", "regular", True),
        ("utility", "regular", True),
    ],
)
def test_pmp_type_and_billable_follow_category(category, kind, billable):
    p = statuses.pricing(category)
    assert (p["type"], p["billable"]) == (kind, billable)


def test_delivered_conversation_has_no_expiration():
    s = statuses.delivered(WAMID, USER, timestamp="1750030075", era="2025", rng=random.Random(0))
    assert list(s["conversation"]) == ["id", "origin"]


def test_read_and_played_carry_no_billing_by_default():
    for s in (statuses.read(WAMID, USER), statuses.played(WAMID, USER)):
        assert "pricing" not in s
        assert "conversation" not in s
        assert "errors" not in s


def test_failed_carries_errors_in_meta_order():
    s = statuses.failed(WAMID, USER, timestamp="1751142888")
    assert list(s) == ["id", "status", "timestamp", "recipient_id", "errors"]
    (err,) = s["errors"]
    assert list(err) == ["code", "title", "message", "error_data", "href"]
    assert err["code"] == 131026
    assert err["title"] == err["message"] == "Message undeliverable"


def test_only_failed_statuses_have_errors():
    for kind in ("sent", "delivered", "read", "played"):
        assert "errors" not in statuses.status(WAMID, kind, USER)
        with pytest.raises(ValueError, match="only on 'failed'"):
            statuses.status(WAMID, kind, USER, errors=[statuses.error(131000)])
    with pytest.raises(ValueError, match="Expected errors for a failed status"):
        statuses.status(WAMID, "failed", USER)


def test_biz_opaque_sits_after_recipient_and_before_billing():
    s = statuses.sent(WAMID, BOTH, biz_opaque_callback_data="x", rng=random.Random(0))
    assert list(s)[3:7] == [
        "recipient_id", "recipient_user_id", "biz_opaque_callback_data", "pricing",
    ]  # fmt: skip


def test_business_scoped_recipient_without_number():
    s = statuses.delivered(WAMID, SCOPED, with_conversation=False)
    assert "recipient_id" not in s
    assert s["recipient_user_id"] == "US.13491208655302741918"


def test_failed_to_a_number_has_no_user_id():
    assert "recipient_user_id" not in statuses.failed(WAMID, BOTH)
    assert statuses.failed(WAMID, SCOPED)["recipient_user_id"] == SCOPED.user_id


def test_status_value_adds_contacts_for_scoped_recipients_but_not_failed():
    value = statuses.statuses_value(ACCOUNT, [statuses.delivered(WAMID, SCOPED)], [SCOPED])
    assert list(value) == ["messaging_product", "metadata", "contacts", "statuses"]
    assert value["contacts"][0]["user_id"] == SCOPED.user_id
    failed = statuses.statuses_value(ACCOUNT, [statuses.failed(WAMID, SCOPED)], [SCOPED])
    assert "contacts" not in failed
    classic = statuses.statuses_value(ACCOUNT, [statuses.sent(WAMID, USER)], [USER])
    assert "contacts" not in classic


def test_sent_contacts_leave_out_the_username():
    value = statuses.statuses_value(ACCOUNT, [statuses.sent(WAMID, SCOPED)], [SCOPED])
    assert "username" not in value["contacts"][0]["profile"]


def test_message_id_is_drawn_from_rng_when_none():
    a = statuses.sent(None, USER, timestamp="1", rng=random.Random(5))
    b = statuses.sent(None, USER, timestamp="1", rng=random.Random(5))
    assert a == b
    assert a["id"].startswith("wamid.")


def test_validation_messages():
    with pytest.raises(
        ValueError, match=r"Expected a status kind from STATUS_KINDS but got status_kind='seen'"
    ):
        statuses.status(WAMID, "seen", USER)
    with pytest.raises(ValueError, match="from PRICING_MODELS"):
        statuses.pricing(model="XYZ")
    with pytest.raises(ValueError, match="with wa_id or user_id"):
        statuses.status(WAMID, "sent", Customer(None))
    with pytest.raises(KeyError, match="META_ERRORS"):
        statuses.error(999999)


def test_unknown_code_with_own_wording():
    err = statuses.error(999999, title="T", details="D", href=None)
    assert err == {"code": 999999, "title": "T", "message": "T", "error_data": {"details": "D"}}


def test_meta_errors_table_serves_the_graph_api():
    assert {131047, 130429, 131056, 131026, 131051, 131000, 190, 100} <= set(META_ERRORS)
    assert (
        meta_error(131056).message
        == "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    )
    assert meta_error(190).http_status == 401
    assert meta_error(131000).http_status == 500


def test_errors_value_order_and_validation():
    value = statuses.errors_value(ACCOUNT, [statuses.error(130429)])
    assert list(value) == ["messaging_product", "metadata", "errors"]
    with pytest.raises(ValueError, match="at least one error"):
        statuses.errors_value(ACCOUNT, [])


def test_golden_bytes_failed_outside_window():
    s = statuses.failed(WAMID, USER, code=131047, timestamp="1751142888")
    assert encoding.encode(statuses.statuses_payload(ACCOUNT, s)) == (
        b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":'
        b'[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":'
        b'"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":'
        b'"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA","status":"failed",'
        b'"timestamp":"1751142888","recipient_id":"16505551234","errors":[{"code":131047,'
        b'"title":"Re-engagement message","message":"Re-engagement message","error_data":'
        b'{"details":"Message failed to send because more than 24 hours have passed since the '
        b'customer last replied to this number."},"href":"https:\\/\\/developers.facebook.com'
        b'\\/docs\\/whatsapp\\/cloud-api\\/support\\/error-codes\\/"}]}]},"field":"messages"}]}]}'
    )
