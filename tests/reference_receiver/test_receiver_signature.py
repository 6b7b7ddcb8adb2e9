"""The receiver's own signature check, against fixed vectors computed independently."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from fakemeta.reference_receiver.signature import signature_is_valid

BODY = b'{"object":"whatsapp_business_account","entry":[]}'
SECRET = "app-secret"
GOOD = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


def test_good_signature_passes() -> None:
    assert signature_is_valid(BODY, GOOD, SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        GOOD[7:],
        GOOD.upper(),
        GOOD + " ",
        GOOD[:-1],
        GOOD + "0",
        "sha1=" + GOOD[7:],
        GOOD.replace("sha256=", "sha256:"),
        "sha256=" + "é" * 64,
    ],
)
def test_malformed_headers_fail(header: str | None) -> None:
    assert not signature_is_valid(BODY, header, SECRET)


def test_empty_secret_never_verifies() -> None:
    empty = "sha256=" + hmac.new(b"", BODY, hashlib.sha256).hexdigest()
    assert not signature_is_valid(BODY, empty, "")


def test_other_body_or_secret_fails() -> None:
    assert not signature_is_valid(BODY + b" ", GOOD, SECRET)
    assert not signature_is_valid(BODY, GOOD, SECRET + "x")
