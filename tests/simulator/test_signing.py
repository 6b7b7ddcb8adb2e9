"""sign() and verify_signature(): Meta's HMAC over the raw bytes, checked strictly."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakemeta.simulator.signing import sign, sign_sha1, verify_signature

SECRET = "app-secret"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'
# The golden vectors below were computed independently:
#   printf hello | openssl dgst -sha256 -hmac secret
EXPECTED = "sha256=" + hmac.new(b"app-secret", BODY, hashlib.sha256).hexdigest()


def test_sign_is_prefixed_lowercase_hex_hmac_sha256() -> None:
    assert sign(BODY, SECRET) == EXPECTED
    assert sign(BODY, SECRET.encode()) == EXPECTED
    assert EXPECTED[7:] == EXPECTED[7:].lower()
    assert len(EXPECTED) == 7 + 64


def test_golden_vector() -> None:
    assert sign(b"hello", "secret") == (
        "sha256=88aab3ede8d3adf94d26ab90d3bafd4a2083070c3bcce9c014ee04a443847c0b"
    )
    assert sign_sha1(b"hello", "secret") == "sha1=5112055c05f944f85755efc5cd8970e194e9f45b"


def test_verify_accepts_exactly_the_right_header() -> None:
    assert verify_signature(BODY, EXPECTED, SECRET)
    assert verify_signature(BODY, EXPECTED.encode(), SECRET)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "missing"),
        ("", "empty"),
        (EXPECTED[7:], "bare digest without sha256="),
        ("sha1=" + EXPECTED[7:], "another algorithm"),
        ("SHA256=" + EXPECTED[7:], "prefix in the wrong case"),
        ("sha256=" + EXPECTED[7:].upper(), "uppercase digest"),
        (EXPECTED[:-1], "truncated digest"),
        (EXPECTED[:-8] + "00000000", "right prefix, wrong tail"),
        (EXPECTED + "00", "digest too long"),
        (" " + EXPECTED, "leading space"),
        ("sha256=" + "0" * 64, "zeros"),
        (b"\xff\xfe", "not ASCII"),
    ],
)
def test_verify_rejects(header: str | bytes | None, why: str) -> None:
    assert not verify_signature(BODY, header, SECRET), why


def test_verify_rejects_without_a_secret() -> None:
    assert not verify_signature(BODY, sign(BODY, ""), "")


def test_verify_rejects_another_secret_and_other_bytes() -> None:
    assert not verify_signature(BODY, sign(BODY, "other"), SECRET)
    assert not verify_signature(BODY + b" ", EXPECTED, SECRET)


@given(st.binary(max_size=512), st.text(min_size=1, max_size=40), st.integers(0, 511))
def test_any_single_byte_change_is_rejected(body: bytes, secret: str, index: int) -> None:
    header = sign(body, secret)
    assert verify_signature(body, header, secret)
    if body:
        i = index % len(body)
        changed = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
        assert not verify_signature(changed, header, secret)
