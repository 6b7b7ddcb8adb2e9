"""The receiver's own check of `X-Hub-Signature-256` over the raw request bytes.

Written independently of `fakemeta.simulator.signing` on purpose: if both shared one
function, a bug in it would pass the contract suite unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["SIGNATURE_HEADER", "SIGNATURE_PREFIX", "signature_is_valid"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
_PREFIX = SIGNATURE_PREFIX
_HEX64 = re.compile(r"[0-9a-f]{64}")


def signature_is_valid(raw_body: bytes, header_value: str | None, app_secret: str) -> bool:
    """True only for `sha256=` followed by the full lowercase hex HMAC-SHA256 of `raw_body`.

    A missing header, an empty secret, a bare digest, another algorithm and a
    truncated or partly matching digest are all refused; the digest comparison
    is constant-time.
    """
    if not app_secret or not header_value or not header_value.startswith(_PREFIX):
        return False
    provided = header_value[len(_PREFIX) :]
    if _HEX64.fullmatch(provided) is None:
        return False
    expected = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(provided.encode("ascii"), expected.encode("ascii"))
