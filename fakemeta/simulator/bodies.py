"""The start of an untrusted server's answer, bounded after decoding.

httpx decodes a gzip answer one network chunk at a time, and one chunk of
64 KiB can inflate to tens of megabytes before a caller sees any of it, so
a cap on what `iter_bytes()` yields bounds nothing. `BoundedBody` reads the
raw bytes (`iter_raw()`) and inflates them itself, never more than the room
left under its limit; past the limit it notes the body was cut and reads on
(raw, undecoded) only as far as `drain`, so that an answer a little too long
leaves its connection reusable.

Content codings: identity, `gzip` and `deflate`, the ones our clients
accept (`ACCEPT_ENCODING`). An answer in any other coding, or whose coding
is broken, is kept as its raw bytes: it is shown to a person, never parsed
as the answer to a check.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable

__all__ = ["ACCEPT_ENCODING", "BoundedBody"]

#: What our clients ask for. Pinned, so that what is sent does not depend on
#: which optional decoders (brotli, zstandard) happen to be installed.
ACCEPT_ENCODING = "gzip, deflate"


class BoundedBody:
    """At most `limit` bytes of a decoded body, fed raw chunks."""

    def __init__(self, content_encoding: str, limit: int, *, drain: int = 0) -> None:
        self.kept = bytearray()
        self.limit = limit
        #: True when the body had more than `limit` bytes (decoded).
        self.truncated = False
        #: Raw bytes read so far.
        self.raw_seen = 0
        self._drain = drain
        self._stop_at: int | None = None
        self._decoder = _Inflater.for_coding(content_encoding)

    def read(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            if not self.feed(chunk):
                return

    async def aread(self, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            if not self.feed(chunk):
                return

    def feed(self, raw: bytes) -> bool:
        """Take one raw chunk; False when reading should stop."""
        self.raw_seen += len(raw)
        if not self.truncated:
            room = self.limit - len(self.kept)
            decoded = self._decoder.take(raw, room)
            if len(decoded) > room:
                decoded = decoded[:room]
                self.truncated = True
                self._stop_at = self.raw_seen + self._drain
            self.kept += decoded
        return self._stop_at is None or self.raw_seen < self._stop_at


class _Inflater:
    """gzip or deflate, inflated at most `room + 1` bytes at a time (one more
    than fits says the body goes on)."""

    def __init__(self, wbits: int, *, raw_fallback: bool) -> None:
        self._inflate = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback  # deflate: zlib-wrapped, or bare as some servers send
        self._started = False
        self._broken = False

    @classmethod
    def for_coding(cls, content_encoding: str) -> _Inflater | _Raw:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if not codings:
            return _Raw()
        if codings in (["gzip"], ["x-gzip"]):
            return cls(zlib.MAX_WBITS | 16, raw_fallback=False)
        if codings == ["deflate"]:
            return cls(zlib.MAX_WBITS, raw_fallback=True)
        return _Raw()

    def take(self, raw: bytes, room: int) -> bytes:
        if self._broken:
            return raw[: room + 1]
        try:
            out = self._inflate.decompress(raw, room + 1)
        except zlib.error:
            if self._raw_fallback and not self._started:
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                self._raw_fallback = False
                return self.take(raw, room)
            # Broken coding: what is left is shown as it came.
            self._broken = True
            return raw[: room + 1]
        self._started = True
        return out


class _Raw:
    """No coding, or one we did not ask for: the bytes as they came."""

    def take(self, raw: bytes, room: int) -> bytes:
        return raw[: room + 1]
