"""Delivery: exact bytes, Meta's headers, and one-change negative variants."""

from __future__ import annotations

import dataclasses
import hmac
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from fakemeta.simulator import encoding
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.envelopes import Account, Customer, message_payload
from fakemeta.simulator.signing import verify_signature
from fakemeta.simulator.targets import HttpTarget
from fakemeta.simulator.types import Payload

if TYPE_CHECKING:
    from conftest import LoopbackReceiver

SECRET = "app-secret-for-tests"
ACCOUNT = Account("102290129340398", "106540352242922", "15550783881")
SENDER = Customer("966501234567", "محمد 🚀")


def text_payload(body: str, *, message_id: str = "wamid.HBgLOTY2NTAxMjM0NTY3FQIAEhgg") -> Payload:
    message = {
        "from": "966501234567",
        "id": message_id,
        "timestamp": "1718036589",
        "type": "text",
        "text": {"body": body},
    }
    return message_payload(ACCOUNT, message, SENDER)  # type: ignore[arg-type]


PAYLOAD = text_payload("مرحبا 👋 see https://example.com/a/b")
VALID = Delivery.of(PAYLOAD, SECRET)


def expected_hmac(body: bytes, secret: str, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), body, algorithm).hexdigest()


def changed(a: Delivery, b: Delivery) -> set[str]:
    """What differs between two deliveries: 'body' and/or lower-case header names."""
    result = {"body"} if a.body != b.body else set()
    names = {k.lower() for k, _ in a.headers} | {k.lower() for k, _ in b.headers}
    result |= {name for name in names if a.header(name) != b.header(name)}
    return result


# -- the valid delivery --------------------------------------------------------


def test_of_body_is_the_meta_encoding_of_the_payload() -> None:
    assert VALID.body == encoding.encode(PAYLOAD)
    assert b"\\/" in VALID.body
    assert b"\\u0645" in VALID.body  # Arabic escaped, never raw UTF-8
    assert b"\\ud83d\\udc4b" in VALID.body  # emoji as a surrogate pair
    assert VALID.label == "valid"


def test_headers_are_metas_in_order() -> None:
    assert VALID.headers == (
        ("Content-Type", "application/json"),
        ("User-Agent", "facebookexternalua"),
        ("X-Hub-Signature-256", "sha256=" + expected_hmac(VALID.body, SECRET)),
        ("X-Hub-Signature", "sha1=" + expected_hmac(VALID.body, SECRET, "sha1")),
    )
    assert verify_signature(VALID.body, VALID.signature, SECRET)


def test_header_lookup_ignores_case() -> None:
    assert VALID.header("x-hub-signature-256") == VALID.header("X-HUB-SIGNATURE-256")
    assert VALID.header("content-type") == "application/json"
    assert VALID.header("X-Missing") is None


def test_of_with_legacy_escapes() -> None:
    delivery = Delivery.of(text_payload("a@b.com 100% <ok>"), SECRET, legacy_escapes=True)
    assert b"\\u0040" in delivery.body
    assert b"\\u0025" in delivery.body
    assert b"\\u003c" in delivery.body
    assert verify_signature(delivery.body, delivery.signature, SECRET)


def test_signed_keeps_any_bytes() -> None:
    body = b'{"b":1,  "a" : "\\u00e9"}\n'
    delivery = Delivery.signed(body, SECRET)
    assert delivery.body is body
    assert verify_signature(body, delivery.signature, SECRET)


def test_delivery_is_frozen_and_hashable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        VALID.body = b"{}"  # type: ignore[misc]
    assert Delivery.of(PAYLOAD, SECRET) == VALID
    assert hash(VALID) == hash(Delivery.of(PAYLOAD, SECRET))


# -- one change each -------------------------------------------------------------

SIG = "x-hub-signature-256"
LEGACY = "x-hub-signature"

VARIANTS: list[tuple[str, Callable[[Delivery], Delivery], set[str]]] = [
    ("unsigned", Delivery.unsigned, {SIG, LEGACY}),
    ("tampered", Delivery.tampered, {"body"}),
    ("signed_with", lambda d: d.signed_with("another-secret"), {SIG, LEGACY}),
    ("with_prefix", lambda d: d.with_prefix("SHA256="), {SIG}),
    ("without_prefix", Delivery.without_prefix, {SIG}),
    ("with_algorithm", Delivery.with_algorithm, {SIG}),
    ("truncated", Delivery.truncated, {SIG}),
    ("partial_digest", Delivery.partial_digest, {SIG}),
    ("reencoded", Delivery.reencoded, {"body"}),
    ("with_body", lambda d: d.with_body(b'{"object":"whatsapp_business_account"}'), {"body"}),
    ("with_header", lambda d: d.with_header(SIG, "sha256=" + "0" * 64), {SIG}),
]


@pytest.mark.parametrize(("name", "make", "expected"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_variant_changes_exactly_one_thing_and_fails_verification(
    name: str, make: Callable[[Delivery], Delivery], expected: set[str]
) -> None:
    variant = make(VALID)
    assert changed(VALID, variant) == expected
    assert not verify_signature(variant.body, variant.signature, SECRET)
    assert variant.label != "valid"
    assert variant.label
    # The original is untouched (frozen, variants are new objects).
    assert verify_signature(VALID.body, VALID.signature, SECRET)


def test_header_only_variants_still_verify() -> None:
    """Documented exceptions: changes outside the signature leave it valid."""
    for variant in (
        VALID.without_header("User-Agent"),
        VALID.with_header("Content-Type", "text/plain"),
        VALID.without_header("X-Hub-Signature"),
    ):
        assert len(changed(VALID, variant)) == 1
        assert verify_signature(variant.body, variant.signature, SECRET)


def test_unsigned_has_no_signature_header_at_all() -> None:
    unsigned = VALID.unsigned()
    assert unsigned.signature is None
    assert unsigned.header("X-Hub-Signature") is None
    assert [k for k, _ in unsigned.headers] == ["Content-Type", "User-Agent"]


def test_tampered_changes_one_digit_inside_a_string_value() -> None:
    tampered = VALID.tampered()
    diffs = [i for i, (a, b) in enumerate(zip(VALID.body, tampered.body, strict=True)) if a != b]
    assert len(diffs) == 1
    index = diffs[0]
    assert chr(VALID.body[index]).isdigit()
    assert chr(tampered.body[index]).isdigit()
    assert f"byte {index}" in tampered.label
    # Still JSON, and only one string value differs.
    original, changed_obj = json.loads(VALID.body), json.loads(tampered.body)
    assert original != changed_obj
    assert json.dumps(original).count('"') == json.dumps(changed_obj).count('"')


def test_tampered_never_touches_a_unicode_escape_or_a_key() -> None:
    # The only digits are inside `\u` escapes and a key; letters in the value remain.
    body = b'{"k1":"\\u0645\\u0631ab"}'
    tampered = Delivery.signed(body, SECRET).tampered()
    assert tampered.body == b'{"k1":"\\u0645\\u0631ac"}'
    assert json.loads(tampered.body) == {"k1": "مرac"}


def test_tampered_at_a_given_index_and_fallbacks() -> None:
    assert Delivery.signed(b"abc", SECRET).tampered(at=0).body == b"bbc"
    assert Delivery.signed(b"[1]", SECRET).tampered().body == b"[2]"
    assert Delivery.signed(b"{}", SECRET).tampered().body == b"{|"
    with pytest.raises(ValueError, match="empty body"):
        Delivery.signed(b"", SECRET).tampered()
    with pytest.raises(ValueError, match="outside the body"):
        Delivery.signed(b"{}", SECRET).tampered(at=5)


def test_digest_variants_keep_the_shape_they_promise() -> None:
    digest = expected_hmac(VALID.body, SECRET)
    assert VALID.without_prefix().signature == digest
    assert VALID.with_prefix("sha512=").signature == "sha512=" + digest
    assert VALID.with_algorithm().signature == VALID.header("X-Hub-Signature")
    assert VALID.truncated(10).signature == "sha256=" + digest[:10]
    partial = VALID.partial_digest().signature
    assert partial is not None
    assert len(partial) == len("sha256=") + 64
    assert partial[:39] == "sha256=" + digest[:32]
    assert all(a != b for a, b in zip(partial[39:], digest[32:], strict=True))


def test_digest_variants_need_a_signature() -> None:
    with pytest.raises(ValueError, match="no X-Hub-Signature-256"):
        VALID.unsigned().truncated()
    with pytest.raises(ValueError, match="Expected 0 <= n < 64"):
        VALID.truncated(64)
    with pytest.raises(ValueError, match="algorithm='sha1'"):
        VALID.with_algorithm("md5")


def test_reencoded_is_the_naive_serialisation() -> None:
    reencoded = VALID.reencoded()
    text = reencoded.body.decode("utf-8")
    assert "مرحبا 👋" in text
    assert "https://example.com/a/b" in text
    assert '", "' in text or '": "' in text
    assert json.loads(reencoded.body) == json.loads(VALID.body)
    assert reencoded.signature == VALID.signature


def test_with_header_replaces_in_place_and_without_header_drops_every_copy() -> None:
    changed_ua = VALID.with_header("user-agent", "curl/8")
    assert [k for k, _ in changed_ua.headers] == [k for k, _ in VALID.headers]
    assert changed_ua.header("User-Agent") == "curl/8"
    added = VALID.with_header("X-Extra", "1")
    assert added.headers[-1] == ("X-Extra", "1")
    doubled = Delivery(VALID.body, (*VALID.headers, ("user-agent", "again")))
    assert doubled.without_header("User-Agent").header("user-agent") is None


def test_labels_chain_for_variants_of_variants() -> None:
    twice = VALID.unsigned().tampered()
    assert twice.label.startswith("unsigned + tampered")


# -- over the wire ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["مرحبا بك", "emoji 🚀👩‍👩‍👧 done", 'a/b\\c "quoted" https://x.y/z', "\u200f\u0301 rtl"],
)
def test_exact_bytes_and_headers_arrive(
    loopback_receiver: LoopbackReceiver, loopback_secret: str, text: str
) -> None:
    delivery = Delivery.of(text_payload(text), loopback_secret)
    with HttpTarget(loopback_receiver.url) as target:
        exchange = target.send("POST", "", delivery.body, delivery.headers)
    assert exchange.status == 200
    [received] = loopback_receiver.requests
    assert received.body == delivery.body
    assert received.signature_ok
    for name in ("Content-Type", "User-Agent", "X-Hub-Signature-256", "X-Hub-Signature"):
        assert received.header(name) == delivery.header(name)
    assert json.loads(received.body)["entry"][0]["changes"][0]["value"]["messages"][0]["text"] == {
        "body": text
    }


def test_negative_variants_arrive_unchanged_and_fail_at_the_receiver(
    loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    valid = Delivery.of(PAYLOAD, loopback_secret)
    variants = [make(valid) for _, make, _ in VARIANTS]
    with HttpTarget(loopback_receiver.url) as target:
        for variant in variants:
            target.send("POST", "", variant.body, variant.headers)
    assert len(loopback_receiver.requests) == len(variants)
    for variant, received in zip(variants, loopback_receiver.requests, strict=True):
        assert received.body == variant.body
        assert received.header("X-Hub-Signature-256") == variant.signature
        assert not received.signature_ok, variant.label
