"""Envelopes: Meta's nesting, key order, contacts, batching."""

from __future__ import annotations

from typing import Any, cast

from fakemeta.simulator import envelopes
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.types import Message

ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")
ALI = Customer("966501234567", "علي")


def _message(sender: Customer, wamid: str) -> Message:
    return cast(
        Message,
        {**sender.sender_fields, "id": wamid, "timestamp": "1700000000", "type": "text",
         "text": {"body": "hi"}},
    )  # fmt: skip


def test_message_payload_nests_in_meta_order() -> None:
    payload: Any = envelopes.message_payload(ACCOUNT, _message(ALI, "wamid.A"), ALI)
    assert list(payload) == ["object", "entry"]
    assert payload["object"] == "whatsapp_business_account"
    entry = payload["entry"][0]
    assert list(entry) == ["id", "changes"]
    assert entry["id"] == ACCOUNT.waba_id
    change = entry["changes"][0]
    assert list(change) == ["value", "field"]
    assert change["field"] == "messages"
    value = change["value"]
    assert list(value) == ["messaging_product", "metadata", "contacts", "messages"]
    assert value["metadata"] == {
        "display_phone_number": "15550783881",
        "phone_number_id": "106540352242922",
    }
    assert value["contacts"] == [{"profile": {"name": "علي"}, "wa_id": "966501234567"}]


def test_contacts_list_each_sender_once_in_order() -> None:
    bob = Customer("14155550100", "Bob")
    messages = [_message(ALI, "wamid.1"), _message(bob, "wamid.2"), _message(ALI, "wamid.3")]
    payload: Any = envelopes.message_payload(ACCOUNT, messages, [ALI, bob, ALI])
    contacts = payload["entry"][0]["changes"][0]["value"]["contacts"]
    assert [c["wa_id"] for c in contacts] == ["966501234567", "14155550100"]


def test_no_senders_means_no_contacts_array() -> None:
    payload: Any = envelopes.message_payload(ACCOUNT, _message(ALI, "wamid.S"), None)
    assert "contacts" not in payload["entry"][0]["changes"][0]["value"]


def test_business_scoped_user_without_number() -> None:
    user = Customer(None, "Mia", user_id="US.13491208655302741918", username="mia.k")
    assert user.sender_fields == {"from_user_id": "US.13491208655302741918"}
    assert user.contact == {
        "profile": {"name": "Mia", "username": "mia.k"},
        "user_id": "US.13491208655302741918",
    }


def test_field_payload_entry_has_int_time_between_id_and_changes() -> None:
    payload: Any = envelopes.field_payload("1", "account_update", {"event": "X"}, time=1700000000)
    entry = payload["entry"][0]
    assert list(entry) == ["id", "time", "changes"]
    assert entry["time"] == 1700000000
    assert entry["changes"] == [{"value": {"event": "X"}, "field": "account_update"}]


def test_batch_keeps_every_entry_in_order() -> None:
    parts = [envelopes.message_payload(ACCOUNT, _message(ALI, f"wamid.{i}"), ALI) for i in range(3)]
    joined: Any = envelopes.batch(parts)
    ids = [e["changes"][0]["value"]["messages"][0]["id"] for e in joined["entry"]]
    assert ids == ["wamid.0", "wamid.1", "wamid.2"]
    assert list(joined) == ["object", "entry"]
