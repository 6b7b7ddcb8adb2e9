"""A total deadline for an HTTP exchange with an untrusted server.

httpx's timeouts are per socket operation: a server that sends one byte a
second never trips them, and can hold a sender, a check, a probe or serve's
dispatcher for as long as it likes. Here the deadline is the whole
exchange's: `attempt_deadline(seconds)` sets it for the code inside (a
`ContextVar`, so per thread and per asyncio task), and a client whose
transports went through `enforce_deadlines` cuts every connect, TLS
handshake, read and write to what is left of it, raising httpx's own
timeout errors when it has passed. Outside `attempt_deadline` such a client
behaves as httpx's does.

Every pool of the client is covered, including those httpx makes for
proxies named by the environment (`HTTPS_PROXY`...), whose connections a
caller never sees.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import httpcore
import httpx

__all__ = ["attempt_deadline", "deadline", "enforce_deadlines", "overdue"]

#: Writes go out in pieces, each given what is left of the deadline.
_WRITE_PIECE = 64 * 1024

# The monotonic time by which the current exchange must end.
_DEADLINE: ContextVar[float | None] = ContextVar("fakemeta_attempt_deadline", default=None)

_Client = TypeVar("_Client", httpx.Client, httpx.AsyncClient)


@contextlib.contextmanager
def attempt_deadline(seconds: float | None) -> Iterator[float | None]:
    """Within the block, exchanges end `seconds` from now at the latest
    (None: no deadline). Yields the deadline's `time.monotonic()` value."""
    at = None if seconds is None else time.monotonic() + seconds
    token = _DEADLINE.set(at)
    try:
        yield at
    finally:
        _DEADLINE.reset(token)


def deadline() -> float | None:
    """The current deadline (`time.monotonic()` value), or None."""
    return _DEADLINE.get()


def overdue() -> bool:
    """True once the current deadline has passed."""
    at = _DEADLINE.get()
    return at is not None and time.monotonic() > at


def enforce_deadlines(client: _Client) -> _Client:
    """`client`, with every transport it will use bound by `attempt_deadline`.

    Patches httpcore's pools, which take a network backend but have no public
    way to be given one through httpx: the client's own transport and those
    mounted for environment proxies. A transport that is not httpx's HTTP
    transport (WSGI, ASGI, a mock) is left as it is.
    """
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, _DeadlineBackend | _AsyncDeadlineBackend):
            continue
        if isinstance(backend, httpcore.NetworkBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
        elif isinstance(backend, httpcore.AsyncNetworkBackend):
            pool._network_backend = _AsyncDeadlineBackend(backend)  # type: ignore[union-attr]
    return client


def _budget(timeout: float | None, error: type[Exception]) -> float | None:
    """`timeout` for one socket operation, cut to what is left of the deadline."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the attempt's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the current deadline,
    looked up on each call: a kept-alive connection serves exchanges with
    different deadlines."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_PIECE):
            piece = buffer[start : start + _WRITE_PIECE]
            self._stream.write(piece, _budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, budget))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Opens `_DeadlineStream`s; connecting, too, ends by the deadline."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, budget, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, budget, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncDeadlineStream(httpcore.AsyncNetworkStream):
    """`_DeadlineStream` for asyncio clients."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, _budget(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_PIECE):
            piece = buffer[start : start + _WRITE_PIECE]
            await self._stream.write(piece, _budget(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        stream = await self._stream.start_tls(ssl_context, server_hostname, budget)
        return _AsyncDeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncDeadlineBackend(httpcore.AsyncNetworkBackend):
    """`_DeadlineBackend` for asyncio clients."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        stream = await self._backend.connect_tcp(host, port, budget, local_address, socket_options)
        return _AsyncDeadlineStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        stream = await self._backend.connect_unix_socket(path, budget, socket_options)
        return _AsyncDeadlineStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)
