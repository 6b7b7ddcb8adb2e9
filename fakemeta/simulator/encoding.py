"""Payload to bytes: the one place a payload becomes what Meta puts on the wire.

Meta sends minified JSON, keys in its own order (never sorted), every
non-ASCII character escaped as a lowercase `\\uXXXX` (astral characters as
surrogate pairs) and every `/` escaped as `\\/`. Older Meta documentation also
shows `<`, `%` and `@` escaped as `\\u003c`, `\\u0025`, `\\u0040`; that is the
`legacy_escapes` option. The signature covers these exact bytes, so a
receiver that re-serialises the JSON before verifying fails on them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["LEGACY_ESCAPES", "decode", "encode"]

LEGACY_ESCAPES = {"<": "\\u003c", "%": "\\u0025", "@": "\\u0040"}


def encode(payload: Mapping[str, Any] | list[Any], *, legacy_escapes: bool = False) -> bytes:
    """The exact bytes Meta would send for `payload`.

    `/`, `<`, `%` and `@` cannot occur outside strings in JSON text, so
    replacing them in the serialised text escapes exactly the string contents.
    """
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    text = text.replace("/", "\\/")
    if legacy_escapes:
        for char, escape in LEGACY_ESCAPES.items():
            text = text.replace(char, escape)
    return text.encode("ascii")


def decode(body: bytes) -> Any:
    """Parse wire bytes back into Python objects (key order kept)."""
    return json.loads(body)
