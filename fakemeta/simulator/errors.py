"""The simulator's error tree: what can go wrong on Meta's side of the wire.

Two families, kept apart so that callers can tell them apart (STYLE rule 9):

- `UsageError`: the user asked for something impossible (a URL that is not
  one, a source address off loopback, an unknown variant, a bad override).
  Not retried; the command line prints the one line and exits 2.
- `TransportError`: talking to the receiver failed (refused, timed out, TLS,
  the connection dropped, the in-process app raised). The sender records it
  as a failed attempt and retries, as Meta does; the command line reports an
  unreachable receiver with the one line and exits 2.

Every message is one line: what was wrong, then what to do about it.
`from_httpx()` turns a failed httpx request into the right one of these;
the targets are its callers.
"""

from __future__ import annotations

import errno
import socket
import ssl

import httpx

__all__ = [
    "BadInput",
    "BadOverride",
    "FixturesMissing",
    "InvalidTargetError",
    "MissingExtra",
    "ReceiverCrashed",
    "ReceiverProtocolError",
    "ReceiverTimeout",
    "ReceiverUnreachable",
    "SimulatorError",
    "SourceAddressError",
    "TlsError",
    "TransportError",
    "UnknownEra",
    "UnknownVariant",
    "UsageError",
    "from_httpx",
]


class SimulatorError(Exception):
    """Base of every error the simulator raises on purpose.

    Cause: see the subclass. Fix: see the subclass; `one_line()` gives the
    text to show a user, without a traceback.
    """

    def one_line(self) -> str:
        """`ClassName: message` on a single line, for terminals and reports."""
        text = " ".join(str(self).split())
        return f"{type(self).__name__}: {text}"


class UsageError(SimulatorError):
    """The simulator was asked for something it cannot do.

    Cause: an argument or a configuration value is invalid. Fix: correct the
    argument the message names; nothing was sent.
    """


class InvalidTargetError(UsageError):
    """The target is neither a usable URL nor a WSGI/ASGI application.

    Cause: a URL without `http://` or `https://`, without a host, or that does
    not parse; or an object that is not callable. Fix: give the webhook's full
    URL (`https://example.com/webhook`) or the application object itself.
    """


class SourceAddressError(UsageError):
    """A source address was asked for where the simulator cannot use one.

    Cause: a source address outside 127.0.0.0/8, a source address for a
    receiver that is not on loopback, or an address this machine cannot bind
    (macOS only configures 127.0.0.1). Fix: use 127.x.y.z with a loopback
    receiver URL, drop the source address for remote receivers, or on macOS
    add the alias (`sudo ifconfig lo0 alias 127.0.0.7`).
    """


class BadInput(UsageError):
    """Input given to the simulator cannot be used as it is.

    Cause: a file or argument that should hold JSON (or another stated
    format) does not. Fix: correct the input the message names, or use the
    option it suggests.
    """


class BadOverride(UsageError):
    """A `--set path=value` override does not fit the payload.

    Cause: no `=`, an empty path, a path through a key or index the payload
    does not have, or `path:=json` with text that is not JSON. Fix: follow
    the message (it lists the keys or the list length where the path broke).
    """


class UnknownVariant(UsageError):
    """No payload variant or fixture goes by that name, or several do.

    Cause: a misspelt or ambiguous variant name. Fix: use one of the names
    `fakemeta fixtures list` prints (the message lists the candidates when
    the name was ambiguous).
    """


class UnknownEra(UsageError):
    """No era goes by that name.

    Cause: an `--era`/`era=` value other than the era names. Fix: use one of
    `fakemeta.simulator.eras.ERA_NAMES` ("2025", "2026"); leave it out for the current
    shapes.
    """


class FixturesMissing(UsageError):
    """The canonical fixture files cannot be found beside the code.

    Cause: an installation without its `fixtures` data, or a checkout where
    they were never written. Fix: reinstall fakemeta, or in a checkout run
    `python -m fakemeta.simulator.fixtures` to write them.
    """


class MissingExtra(UsageError):
    """A command or feature needs an optional dependency that is not installed.

    Cause: fakemeta was installed without the extra that carries it (the
    built-in reference receiver's Flask and SQLAlchemy are the `receiver`
    extra). Fix: install the extra the message names, e.g.
    `pip install 'fakemeta[receiver]'`, or give the URL of your own receiver.
    """


class TransportError(SimulatorError):
    """Sending to the receiver failed before a complete HTTP response came back.

    Cause: see the subclass. Fix: see the subclass. `url` is where the request
    was going. The sender counts this as a failed attempt and retries.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class ReceiverUnreachable(TransportError):
    """No connection could be opened to the receiver.

    Cause: nothing listens on that host and port (connection refused), the
    host name does not resolve, or the network is unreachable. Fix: start the
    receiver, or check the URL's host and port.
    """


class ReceiverTimeout(TransportError):
    """The receiver did not answer in time.

    Cause: connecting, sending or reading the response took longer than the
    target's timeout. Fix: make the receiver acknowledge quickly (Meta expects
    an answer within seconds; do slow work after answering 200) or raise the
    timeout.
    """


class TlsError(TransportError):
    """The TLS handshake with the receiver failed.

    Cause: an invalid, expired, self-signed or wrongly named certificate, or
    plain HTTP spoken on an HTTPS port. Fix: serve a valid certificate (Meta
    requires one), use `http://` for a plain server, or turn verification off
    for a local test certificate (`verify_tls=False`).
    """


class ReceiverProtocolError(TransportError):
    """The connection opened but no valid HTTP response came back.

    Cause: the receiver closed the connection early, reset it, or answered
    something that is not HTTP/1.1. Fix: look at the receiver's logs for a
    crash while handling the request.
    """


class ReceiverCrashed(TransportError):
    """The in-process application raised instead of answering.

    Cause: an exception escaped the WSGI/ASGI app (a server would have
    answered 500). Fix: the original exception is chained as `__cause__`;
    fix the handler so that it answers, even for bodies it rejects.
    """


def _root(exc: BaseException) -> BaseException:
    """The innermost cause: httpx wraps httpcore, which wraps the OSError."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def from_httpx(
    exc: httpx.HTTPError, *, url: str, source_ip: str | None = None, timeout: float = 0.0
) -> SimulatorError:
    """The typed error for a failed httpx request to `url`, with its one-line message.

    A usage error (unsupported URL scheme, an address this machine cannot
    bind) or a `TransportError` for everything the receiver's side caused.
    """
    root = _root(exc)
    reason = (str(root) or type(root).__name__).replace("\n", " ")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return InvalidTargetError(f"cannot send to {url}: {reason} — check the URL")
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connecting",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(exc), "waiting for the response")
        return ReceiverTimeout(
            f"no answer from {url} after {timeout:g} s ({phase})"
            " — make the receiver acknowledge quickly or raise the timeout",
            url=url,
        )
    if isinstance(root, ssl.SSLError):
        detail = getattr(root, "verify_message", None) or getattr(root, "reason", None) or reason
        return TlsError(
            f"TLS handshake with {url} failed: {detail}"
            " — serve a valid certificate, use http:// for a plain server,"
            " or turn TLS verification off for a test certificate",
            url=url,
        )
    if isinstance(exc, httpx.ConnectError):
        if (
            source_ip is not None
            and isinstance(root, OSError)
            and root.errno == errno.EADDRNOTAVAIL
        ):
            return SourceAddressError(
                f"cannot send from {source_ip}: this machine cannot bind it ({reason})"
                f" — on macOS run `sudo ifconfig lo0 alias {source_ip}`"
            )
        if isinstance(root, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(root, socket.gaierror):
            reason = f"the host name does not resolve ({reason})"
        return ReceiverUnreachable(
            f"cannot connect to {url}: {reason} — is the receiver running?", url=url
        )
    return ReceiverProtocolError(
        f"no complete HTTP response from {url}: {reason}"
        " — the receiver closed the connection; check its logs for a crash",
        url=url,
    )
