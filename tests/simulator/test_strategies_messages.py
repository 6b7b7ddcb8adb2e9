"""Message strategies: valid messages of every type, in Meta's order,
reproducible from the Hypothesis seed alone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakemeta.simulator import encoding, messages
from fakemeta.simulator.envelopes import Customer
from fakemeta.simulator.strategies._messages import MESSAGE_STRATEGIES, inbound_messages
from fakemeta.simulator.types import Message

SENDERS = [
    Customer("16505551234", "Sheena Nelson"),
    Customer("966501234567", "ليلى", user_id="SA.80224331989386392876"),
    Customer(None, None, user_id="US.13491208655302741918", username="sheena.n"),
    Customer("16505551234", "Pablo", user_id="US.1349120865", parent_user_id="US.ENT.118157"),
]
FRAME = [
    "context", "referral", "from", "from_user_id", "from_parent_user_id", "group_id", "id",
    "timestamp", "errors", "type",
]  # fmt: skip
MEDIA_KEYS = ["caption", "filename", "mime_type", "sha256", "id", "url", "voice", "animated"]
WAMID = re.compile(r"wamid\.[A-Za-z0-9+/]+=*")


def assert_meta_frame(msg: Message, sender: Customer) -> None:
    """Frame keys in Meta's order; the type's object right after `type`
    (right before it for text); nothing else."""
    keys = list(msg)
    kind = msg["type"]
    frame = [k for k in keys if k != kind]
    assert frame == [k for k in FRAME if k in frame], keys
    if kind in msg:
        offset = -1 if kind == "text" else 1
        assert keys.index(kind) == keys.index("type") + offset, keys
    else:
        assert kind in ("request_welcome", "unsupported")
    sender_keys = ("from", "from_user_id", "from_parent_user_id")
    assert {k: msg[k] for k in sender_keys if k in msg} == sender.sender_fields  # type: ignore[literal-required]
    assert WAMID.fullmatch(msg["id"])
    assert msg["timestamp"].isdigit()


def assert_type_content(msg: Any) -> None:
    kind = msg["type"]
    body = msg.get(kind)
    if kind == "text":
        assert 1 <= len(body["body"]) <= 4096
    elif kind in ("image", "video", "audio", "document", "sticker"):
        assert {"mime_type", "sha256", "id"} <= set(body)
        assert list(body) == [k for k in MEDIA_KEYS if k in body]
        assert len(body.get("caption", "")) <= 1024
        if "url" in body:
            assert body["url"].startswith("https://lookaside.fbsbx.com/whatsapp_business/")
    elif kind == "reaction":
        assert set(body) in ({"message_id"}, {"message_id", "emoji"})
    elif kind in ("interactive", "button"):
        assert next(iter(msg)) == "context"
    elif kind == "unsupported":
        assert msg["errors"][0]["code"] == 131051
    elif kind == "system":
        assert body["type"] in ("user_changed_number", "user_changed_user_id")


@pytest.mark.parametrize("kind", messages.MESSAGE_TYPES)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_every_strategy_generates_valid_messages(kind: str, data: st.DataObject) -> None:
    sender = data.draw(st.sampled_from(SENDERS), label="sender")
    msg = data.draw(MESSAGE_STRATEGIES[kind](sender), label="message")
    assert msg["type"] == kind
    assert_meta_frame(msg, sender)
    assert_type_content(msg)
    if kind in ("image", "video", "audio", "document", "sticker"):  # always in 2026
        assert "url" in msg[kind]  # type: ignore[literal-required]
    if kind == "unsupported":
        assert "unsupported" in msg
    wire = encoding.encode(msg)
    assert wire.isascii()
    assert encoding.decode(wire) == msg
    assert list(encoding.decode(wire)) == list(msg)


def test_2025_media_and_unsupported_messages_may_lack_the_2025_additions() -> None:
    sender = SENDERS[0]
    seen = _collect(inbound_messages(sender, types=["image", "unsupported"], era="2025"), 60)
    bodies = [encoding.decode(wire) for wire in seen]
    assert any(b["type"] == "image" and "url" not in b["image"] for b in bodies)
    assert any(b["type"] == "unsupported" and "unsupported" not in b for b in bodies)
    assert all("group_id" not in b for b in bodies)


def test_strategies_cover_every_message_type() -> None:
    assert set(MESSAGE_STRATEGIES) == set(messages.MESSAGE_TYPES)


def _collect(strategy: st.SearchStrategy[Message], count: int = 20) -> list[bytes]:
    seen: list[bytes] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None)
    @given(strategy)
    def run(msg: Message) -> None:
        seen.append(encoding.encode(msg))

    run()
    return seen


def test_everything_is_drawn_so_the_same_seed_gives_the_same_messages() -> None:
    # Ids, media hashes, URL hashes and ad click ids all come from draws: two
    # runs from the same seed produce the same bytes.
    strategy = inbound_messages(SENDERS[1])
    first = _collect(strategy)
    assert first == _collect(strategy)
    assert len(set(first)) > 1


def test_message_ids_are_distinct_in_practice() -> None:
    # Ids carry 20 or 32 random hex digits drawn from a seed. Hypothesis
    # repeats small seeds on purpose (so a batch that must never hold a
    # duplicate id should draw with `unique_by`), yet most ids differ.
    ids = [encoding.decode(m)["id"] for m in _collect(inbound_messages(SENDERS[0]))]
    assert len(set(ids)) > len(ids) // 2


@settings(max_examples=20, deadline=None)
@given(inbound_messages(SENDERS[0], types=["text", "reaction"]))
def test_types_limits_what_is_drawn(msg: Message) -> None:
    assert msg["type"] in ("text", "reaction")


def test_reaction_removals_are_drawn() -> None:
    from hypothesis import find

    removed = find(
        MESSAGE_STRATEGIES["reaction"](SENDERS[0]),
        lambda m: "emoji" not in m["reaction"],  # type: ignore[typeddict-item]
    )
    assert list(removed["reaction"]) == ["message_id"]  # type: ignore[typeddict-item]


@pytest.mark.parametrize("types", [["txt"], ["text", "voice"], []])
def test_unknown_types_are_refused_eagerly(types: list[str]) -> None:
    with pytest.raises(ValueError, match=r"Expected a message type from MESSAGE_TYPES but got"):
        inbound_messages(SENDERS[0], types=types)


def test_the_error_names_the_bad_argument() -> None:
    with pytest.raises(ValueError, match=re.escape("got types=['txt']")):
        inbound_messages(SENDERS[0], types=["txt"])
    with pytest.raises(ValueError, match="collection of message types"):
        inbound_messages(SENDERS[0], types="text")
    with pytest.raises(TypeError, match="Expected a Customer"):
        MESSAGE_STRATEGIES["text"]("16505551234")  # type: ignore[arg-type]
