"""Connections of the load engine: opening them, and opening them again.

The layer of `fakemeta.simulator.load.engine.Engine` above `_outcomes` (`Engine.__init__`
sets the state declared here). `Connection` (the asyncio protocol) reports
here when it opened and when it is gone. A connection that opens joins the
free ones; one that is lost settles its attempt (an answer read up to the
close counts, anything else failed) and opens again at once, then after
each further failure to connect twice as late, from 50 ms up to 1 s. A
failure to connect is counted by its class (`refused`, `tls`, `timeout`,
`connect`).
"""

from __future__ import annotations

import asyncio
import ssl
import time

from fakemeta.simulator.load._connection import Connection
from fakemeta.simulator.load._http import Endpoint
from fakemeta.simulator.load._outcomes import Outcomes

__all__ = ["Connecting", "tls_context"]

_MAX_BACKOFF = 1.0


def tls_context(endpoint: Endpoint, *, insecure: bool) -> ssl.SSLContext | None:
    """The TLS context for `endpoint` (None for plain HTTP); `insecure` checks no certificate."""
    if not endpoint.tls:
        return None
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Connecting(Outcomes):
    """Opens the connections, and opens again the ones that are lost."""

    _loop: asyncio.AbstractEventLoop | None
    _ssl: ssl.SSLContext | None
    _started: bool
    _closing: bool

    def opened(self, connection: Connection) -> None:
        self._free.append(connection)
        if self._started:
            self._dispatch(time.perf_counter())

    def lost(self, connection: Connection, exc: Exception | None) -> None:
        if self._closing:
            connection.transport = None
            return
        if connection.job is not None:
            status = connection.reader.eof() if exc is None else 0
            if status:
                self.answered(connection, status)
            else:
                error = "closed" if exc is None else "reset"
                why = "the receiver closed the connection before answering"
                self.failed(connection, error, why if exc is None else str(exc))
        connection.transport = None
        if connection in self._free:
            self._free.remove(connection)
        if not self._stopping and self._loop is not None:
            self._reopen(connection)

    def _reopen(self, connection: Connection) -> None:
        """Open `connection` again after its backoff (none after a clean close)."""
        assert self._loop is not None
        delay = connection.backoff
        connection.backoff = min(_MAX_BACKOFF, max(0.05, delay * 2))
        self._loop.call_later(delay, self._reopen_now, connection)

    def _reopen_now(self, connection: Connection) -> None:
        if not self._stopping and self._loop is not None:
            self._loop.create_task(self._open(connection))

    async def _open(self, connection: Connection) -> None:
        if self._stopping:
            return
        assert self._loop is not None
        endpoint = self.endpoint
        try:
            await asyncio.wait_for(
                self._loop.create_connection(
                    lambda: connection, endpoint.host, endpoint.port, ssl=self._ssl
                ),
                self.plan.timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            error = _connect_error(exc)
            self._errors[error] = self._errors.get(error, 0) + 1
            self.last_error = f"{error}: {_reason(exc)}"
            if self._started:
                self._reopen(connection)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _connect_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "connect"
