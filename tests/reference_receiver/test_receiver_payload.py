"""Reading the envelope defensively: texts per type, senders, contacts, cleaning."""

from __future__ import annotations

from typing import Any

import pytest

from fakemeta.reference_receiver.payload import iter_changes, message_text, parse_message, sanitize


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"type": "text", "text": {"body": "b"}}, "b"),
        ({"type": "image", "image": {"caption": "c"}}, "c"),
        ({"type": "image", "image": {}}, None),
        ({"type": "interactive", "interactive": {"button_reply": {"title": "t"}}}, "t"),
        ({"type": "button", "button": {"text": "x", "payload": "p"}}, "x"),
        ({"type": "reaction", "reaction": {"emoji": "👍"}}, None),
        ({"type": "text", "text": "not a dict"}, None),
        ({"type": 5}, None),
    ],
)
def test_message_text(message: dict[str, Any], text: str | None) -> None:
    assert message_text(message) == text


def test_contact_name_matches_the_sender() -> None:
    contacts = [{"profile": {"name": "A"}, "wa_id": "1"}, {"profile": {"name": "B"}, "wa_id": "2"}]
    parsed = parse_message({"from": "2", "id": "wamid.x", "type": "text"}, contacts)
    assert parsed is not None
    assert parsed.name == "B"


@pytest.mark.parametrize(
    "message",
    [None, [], {"id": "x"}, {"from": "1"}, {"from": "1", "id": ""}, {"from": "1" * 40, "id": "x"}],
)
def test_unusable_messages_are_none(message: Any) -> None:
    assert parse_message(message, []) is None


def test_timestamp_out_of_range_is_ignored() -> None:
    parsed = parse_message({"from": "1", "id": "x", "timestamp": "9" * 30}, [])
    assert parsed is not None
    assert parsed.sent_at is None


def test_iter_changes_skips_garbage() -> None:
    changes = list(iter_changes({"entry": [None, {"changes": [1, {"field": "messages"}]}]}))
    assert [c.field for c in changes] == [None, "messages"]
    assert changes[1].phone_number_id is None


def test_sanitize_replaces_nul_and_lone_surrogates_only() -> None:
    assert sanitize({"a\x00": ["x\ud800y", "مرحبا 😀", 1, None]}) == {
        "a\ufffd": ["x\ufffdy", "مرحبا 😀", 1, None]
    }
