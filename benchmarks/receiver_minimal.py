"""The baseline for `receiver_throughput.py`: a WSGI app that only verifies signatures.

It reads the body, checks `X-Hub-Signature-256` with HMAC-SHA256 and answers
200: the cost of HTTP plus verification, with no parsing and no storage.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from typing import Any

SECRET = os.environ.get("META_CLIENT_SECRET", "").encode()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    header = environ.get("HTTP_X_HUB_SIGNATURE_256", "")
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    ok = bool(SECRET) and hmac.compare_digest(header.encode(), expected.encode())
    status = "200 OK" if ok else "401 Unauthorized"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"OK" if ok else b"Invalid signature"]
