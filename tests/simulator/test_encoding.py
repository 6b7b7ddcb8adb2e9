"""encode(): Meta's exact bytes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from fakemeta.simulator.encoding import decode, encode
from fakemeta.simulator.strategies import hostile_texts


def test_minified_keys_in_insertion_order_never_sorted() -> None:
    assert encode({"value": {"b": 1, "a": 2}, "field": "messages"}) == (
        b'{"value":{"b":1,"a":2},"field":"messages"}'
    )


def test_non_ascii_is_lowercase_u_escapes_and_emoji_are_surrogate_pairs() -> None:
    assert encode({"t": "مرحبا 👋é"}) == (
        b'{"t":"\\u0645\\u0631\\u062d\\u0628\\u0627 \\ud83d\\udc4b\\u00e9"}'
    )


def test_every_slash_is_escaped() -> None:
    assert encode({"url": "https://a.b/c/d"}) == b'{"url":"https:\\/\\/a.b\\/c\\/d"}'


def test_backslash_followed_by_slash_round_trips() -> None:
    body = encode({"t": "a\\/b"})
    assert body == b'{"t":"a\\\\\\/b"}'
    assert decode(body) == {"t": "a\\/b"}


def test_legacy_escapes_are_off_by_default_and_on_when_asked() -> None:
    payload = {"t": "<b>100% @me</b>"}
    assert encode(payload) == b'{"t":"<b>100% @me<\\/b>"}'
    assert encode(payload, legacy_escapes=True) == (
        b'{"t":"\\u003cb>100\\u0025 \\u0040me\\u003c\\/b>"}'
    )


def test_floats_and_booleans_as_meta_writes_them() -> None:
    assert encode({"latitude": 37.44221496582, "voice": True, "n": None}) == (
        b'{"latitude":37.44221496582,"voice":true,"n":null}'
    )


@given(st.dictionaries(hostile_texts(max_size=200), hostile_texts(max_size=200), max_size=4))
def test_output_is_ascii_and_round_trips(payload: dict[str, str]) -> None:
    for legacy in (False, True):
        body = encode(payload, legacy_escapes=legacy)
        body.decode("ascii")
        assert decode(body) == payload
        assert b"/" not in body.replace(b"\\/", b"")
        assert json.loads(body) == payload
