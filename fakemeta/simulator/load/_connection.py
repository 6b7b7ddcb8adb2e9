"""A connection of the load engine, and the attempts it carries.

`Connection` is the asyncio protocol of one keep-alive HTTP/1.1 connection:
it feeds what arrives to a `ResponseReader` and tells its `Engine` when an
answer is complete, when the bytes make no sense, and when the connection
is gone. `Job` is one attempt to make (see its docstring).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fakemeta.simulator.load._http import ProtocolViolation, ResponseReader

if TYPE_CHECKING:
    from fakemeta.simulator.load.engine import Engine

__all__ = ["DUPLICATE", "FIRST", "RETRY", "Connection", "Job"]

#: What an attempt is: a delivery's first, a duplicate of it, a retry.
FIRST, DUPLICATE, RETRY = 0, 1, 2


class Job:
    """One attempt to make: the request and when it was due. The first
    attempt of a delivery also stands for the delivery (`delivery` is itself):
    the inbound message ids, whether any copy was acknowledged, and how many
    copies (first, duplicate) are not settled yet; retries and duplicates
    point to it."""

    __slots__ = ("acked", "attempt", "delivery", "ids", "intended", "kind", "open", "request")

    def __init__(
        self,
        delivery: Job | None,
        request: bytes,
        kind: int,
        attempt: int,
        intended: float,
        ids: list[bytes] | None = None,
    ) -> None:
        self.delivery = delivery or self
        self.request, self.kind, self.attempt, self.intended = request, kind, attempt, intended
        self.ids, self.acked, self.open = ids, False, 1


class Connection(asyncio.Protocol):
    __slots__ = ("backoff", "engine", "job", "reader", "sent_at", "transport")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.transport: asyncio.Transport | None = None
        self.reader = ResponseReader()
        self.job: Job | None = None
        self.sent_at = 0.0
        self.backoff = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.reader = ResponseReader()
        self.backoff = 0.0
        self.engine.opened(self)

    def data_received(self, data: bytes) -> None:
        try:
            status = self.reader.feed(data)
        except ProtocolViolation as exc:
            self.engine.failed(self, "protocol", str(exc))
            return
        if status:
            self.engine.answered(self, status)

    def eof_received(self) -> bool | None:
        status = self.reader.eof()
        if status:
            self.engine.answered(self, status)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.engine.lost(self, exc)
