"""Signatures the way Meta makes them, and a strict check for host projects.

Meta signs every POST with HMAC-SHA256 of the raw body, keyed with the app
secret, in `X-Hub-Signature-256: sha256=<lowercase hex>`. It also sends the
legacy `X-Hub-Signature: sha1=<hex>`; only the SHA-256 header is verified.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = [
    "LEGACY_SIGNATURE_HEADER",
    "SIGNATURE_HEADER",
    "sign",
    "sign_sha1",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Hub-Signature-256"
LEGACY_SIGNATURE_HEADER = "X-Hub-Signature"

_HEADER = re.compile(r"sha256=[0-9a-f]{64}")


def _key(app_secret: str | bytes) -> bytes:
    return app_secret.encode("utf-8") if isinstance(app_secret, str) else app_secret


def sign(body: bytes, app_secret: str | bytes) -> str:
    """The `X-Hub-Signature-256` header value for `body`: `sha256=` and the hex digest."""
    return "sha256=" + hmac.new(_key(app_secret), body, hashlib.sha256).hexdigest()


def sign_sha1(body: bytes, app_secret: str | bytes) -> str:
    """The legacy `X-Hub-Signature` header value Meta sends beside the SHA-256 one."""
    return "sha1=" + hmac.new(_key(app_secret), body, hashlib.sha1).hexdigest()


def verify_signature(body: bytes, header: str | bytes | None, app_secret: str | bytes) -> bool:
    """True only when `header` is exactly Meta's signature of `body` under `app_secret`.

    Rejected: no header, no secret, a header without the `sha256=` prefix (a
    bare digest), another algorithm, an uppercase or partial digest. The
    comparison is constant-time. Pass the raw request bytes, never re-encoded
    JSON.
    """
    if not header or not app_secret:
        return False
    if isinstance(header, bytes):
        try:
            header = header.decode("ascii")
        except UnicodeDecodeError:
            return False
    if _HEADER.fullmatch(header) is None:
        return False
    return hmac.compare_digest(header, sign(body, app_secret))
