"""The little HTTP/1.1 a load run needs: the request's fixed head, and a
reader for responses on a keep-alive connection.

A general client (httpx, aiohttp) spends more per request than building and
signing the body does, so the engine writes requests itself and reads
answers with this reader: status line, `Content-Length`, chunked bodies,
bodies delimited by the connection's end, interim 1xx answers,
`Connection: close`. It never pipelines: one request per connection at a time.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fakemeta.simulator.delivery import CONTENT_TYPE, USER_AGENT
from fakemeta.simulator.errors import InvalidTargetError
from fakemeta.simulator.signing import LEGACY_SIGNATURE_HEADER, SIGNATURE_HEADER

__all__ = ["Endpoint", "ProtocolViolation", "ResponseReader", "endpoint"]

_STATUS = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})")
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)[ \t]*\r\n", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:[^\r\n]*close", re.IGNORECASE)
_KEEP_ALIVE = re.compile(rb"\r\nconnection:[^\r\n]*keep-alive", re.IGNORECASE)

_HEAD = 0
_LENGTH_BODY = 1
_CHUNKS = 2
_UNTIL_CLOSE = 3
_MAX_HEAD = 64 * 1024


class ProtocolViolation(Exception):
    """The receiver answered something that is not an HTTP/1.x response."""


class Endpoint:
    """Where requests go, and the bytes every request starts with."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidTargetError(
                f"cannot load {url!r}: give the webhook's full http:// or https:// URL"
            )
        self.url = url
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        try:
            port = parts.port
        except ValueError:
            raise InvalidTargetError(f"cannot load {url!r}: the port is not a number") from None
        self.port = port or (443 if self.tls else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        default_port = (self.tls and self.port == 443) or (not self.tls and self.port == 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        authority = host if default_port else f"{host}:{self.port}"
        # The header order of `Delivery.signed`, after the request line and Host.
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {CONTENT_TYPE}\r\n"
            f"User-Agent: {USER_AGENT}\r\n{SIGNATURE_HEADER}: "
        ).encode("ascii")
        self.legacy = f"\r\n{LEGACY_SIGNATURE_HEADER}: ".encode("ascii")
        # What `BodyFactory.requests` puts around the two digests.
        self.head_to_digest = self.head + b"sha256="
        self.middle = self.legacy + b"sha1="

    def request(self, body: bytes, signature: bytes, legacy: bytes) -> bytes:
        length = b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        return b"".join((self.head, signature, self.legacy, legacy, length, body))


def endpoint(url: str) -> Endpoint:
    return Endpoint(url)


class ResponseReader:
    """Feeds on the bytes of one connection; `feed()` returns the status
    code when a whole response has arrived, else 0. After a response,
    `close` says whether the server will close the connection."""

    __slots__ = ("_buffer", "_last", "_last_status", "_remaining", "_state", "_status", "close")

    def __init__(self) -> None:
        self._buffer = b""
        self._state = _HEAD
        self._remaining = 0
        self._status = 0
        self.close = False
        # The last whole response read in one piece, and its status: a server
        # answering alike sends the same bytes again (until its Date header
        # ticks over), and the same bytes parse the same.
        self._last = b""
        self._last_status = 0

    def feed(self, data: bytes) -> int:
        if self._state == _HEAD and not self._buffer:
            if data == self._last:
                self.close = False  # only keep-alive answers are remembered
                return self._last_status
            # The common case first, with plain searches: a whole 2xx-5xx
            # keep-alive response whose length is in `Content-Length: `.
            end = data.find(b"\r\n\r\n")
            at = data.find(b"\r\nContent-Length: ", 0, end) if end > 0 else -1
            if at > 0 and data.startswith(b"HTTP/1.1 ") and data.find(b"hunked", 0, end) < 0:
                digits = data[at + 18 : data.find(b"\r\n", at + 18, end + 2)]
                if (
                    digits.isdigit()
                    and len(data) == end + 4 + int(digits)
                    and data[9] != 49  # not a 1xx
                ):
                    self.close = data.find(b"lose", 0, end) > 0 and (
                        _CLOSE.search(data, 0, end + 2) is not None
                    )
                    status = int(data[9:12])
                    if not self.close:
                        self._last, self._last_status = data, status
                    return status
        buffer = self._buffer + data if self._buffer else data
        self._buffer = b""
        while True:
            if self._state == _HEAD:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > _MAX_HEAD:
                        raise ProtocolViolation("response headers longer than 64 KiB")
                    self._buffer = buffer
                    return 0
                interim = self._head(buffer[: end + 2], buffer)
                buffer = buffer[end + 4 :]
                if interim:  # a 1xx answer before the real one: read on
                    continue
            if self._state == _LENGTH_BODY:
                if len(buffer) < self._remaining:
                    self._remaining -= len(buffer)
                    return 0
                return self._done(buffer[self._remaining :])
            if self._state == _CHUNKS:
                return self._chunks(buffer)
            return 0  # _UNTIL_CLOSE: the body ends with the connection

    def eof(self) -> int:
        """The connection ended: the status if that completed a response, else 0."""
        if self._state == _UNTIL_CLOSE:
            return self._done(b"")
        return 0

    def _head(self, head: bytes, whole: bytes) -> bool:
        match = _STATUS.match(head)
        if match is None:
            raise ProtocolViolation(f"not an HTTP/1.x status line: {whole[:40]!r}")
        status = int(match.group(2))
        if 100 <= status < 200 and status != 101:
            return True
        self._status = status
        http10 = match.group(1) == b"0"
        self.close = _KEEP_ALIVE.search(head) is None if http10 else _CLOSE.search(head) is not None
        length = _LENGTH.search(head)
        if status in (204, 304):
            self._state, self._remaining = _LENGTH_BODY, 0
        elif _CHUNKED.search(head) is not None:
            self._state, self._remaining = _CHUNKS, -1
        elif length is not None:
            self._state, self._remaining = _LENGTH_BODY, int(length.group(1))
        else:
            self._state, self.close = _UNTIL_CLOSE, True
        return False

    def _chunks(self, buffer: bytes) -> int:
        position = 0
        while True:
            if self._remaining < 0:  # at a chunk-size line
                line = position
                end = buffer.find(b"\r\n", position)
                if end < 0:
                    break
                size_text = buffer[position:end].split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolViolation(f"bad chunk size {size_text[:20]!r}") from None
                position = end + 2
                if size == 0:
                    # The last chunk: skip any trailers up to the empty line.
                    close = buffer.find(b"\r\n\r\n", position - 2)
                    if close < 0:
                        position = line  # read the last chunk's line again with its trailers
                        break
                    return self._done(buffer[close + 4 :])
                self._remaining = size + 2  # the data and its CRLF
            take = min(self._remaining, len(buffer) - position)
            position += take
            self._remaining -= take
            if self._remaining:
                break
            self._remaining = -1
        self._buffer = buffer[position:]
        # Only a chunk-size line or the trailers wait here, never chunk data: a
        # receiver that sends either without end must not grow the buffer.
        if len(self._buffer) > _MAX_HEAD:
            raise ProtocolViolation("a chunk-size line or trailers longer than 64 KiB")
        return 0

    def _done(self, leftover: bytes) -> int:
        if leftover:
            # Nothing was pipelined, so nothing may follow: don't trust the connection.
            self.close = True
        status, self._status = self._status, 0
        self._state, self._remaining = _HEAD, 0
        return status
