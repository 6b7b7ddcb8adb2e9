"""Whole-delivery strategies: batching, contacts, accounts, bounds, encoding."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakemeta.simulator import strategies
from fakemeta.simulator.encoding import decode, encode
from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.signing import sign, verify_signature

ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")


def _values(payload: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(c["field"], c["value"]) for e in payload["entry"] for c in e["changes"]]


@given(strategies.message_payloads(account=ACCOUNT, max_entries=3, max_messages=5))
def test_message_payloads_are_addressed_batched_and_consistent(payload: Any) -> None:
    assert list(payload) == ["object", "entry"]
    assert 1 <= len(payload["entry"]) <= 3
    ids = []
    for field, value in _values(payload):
        assert field == "messages"
        assert value["metadata"]["phone_number_id"] == ACCOUNT.phone_number_id
        messages = value["messages"]
        ids += [m["id"] for m in messages]
        if any(m["type"] == "system" for m in messages):
            assert all(m["type"] == "system" for m in messages)
            assert "contacts" not in value
            continue
        senders = {m.get("from") or m.get("from_user_id") for m in messages}
        contacts = {c.get("wa_id") or c.get("user_id") for c in value["contacts"]}
        assert senders == contacts
        assert len(value["contacts"]) == len(contacts)
    assert len(ids) == len(set(ids)), "a batch never repeats a message id"


@given(strategies.payloads(account=ACCOUNT))
def test_any_payload_encodes_signs_and_round_trips(payload: Any) -> None:
    body = encode(payload)
    body.decode("ascii")
    assert decode(body) == payload
    assert verify_signature(body, sign(body, "s"), "s")


@given(strategies.batches(account=ACCOUNT, max_parts=4))
def test_batches_mix_several_parts(payload: Any) -> None:
    assert len(payload["entry"]) >= 2


@settings(max_examples=20)
@given(strategies.message_payloads(types=["text"], max_entries=1, max_changes=1, max_messages=1))
def test_types_restrict_the_messages(payload: Any) -> None:
    ((_, value),) = _values(payload)
    assert [m["type"] for m in value["messages"]] == ["text"]


@given(st.data())
def test_field_and_status_payloads(data: st.DataObject) -> None:
    fields = data.draw(strategies.field_payloads(account=ACCOUNT))
    ((field, _),) = _values(fields)
    assert field != "messages"
    assert isinstance(fields["entry"][0].get("time", 0), int)
    statuses = data.draw(strategies.status_payloads(account=ACCOUNT, max_statuses=3))
    for _, value in _values(statuses):
        assert 1 <= len(value["statuses"]) <= 3


def test_bounds_are_checked_eagerly() -> None:
    with pytest.raises(ValueError, match="max_entries=0"):
        strategies.message_payloads(max_entries=0)
    with pytest.raises(ValueError, match="max_statuses=0"):
        strategies.status_payloads(max_statuses=0)


def test_facade_exports_every_strategy_module() -> None:
    for name in ("texts", "customers", "text_messages", "statuses", "field_values", "batches"):
        assert name in strategies.__all__
        assert callable(getattr(strategies, name))
