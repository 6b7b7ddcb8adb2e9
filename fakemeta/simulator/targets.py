"""Targets: where a delivery's bytes go, over HTTP or in-process.

The last step of the data flow on Meta's side: a `Delivery` (or the GET of
the handshake) goes to a `Target`, which sends the bytes unchanged and
records the round trip as an `Exchange`. Generation never knows which
target it feeds (STYLE rule 4): the same case runs against a URL
(`HttpTarget`), a WSGI app (`WsgiTarget`) or an ASGI app (`AsgiTarget`).

A receiver is untrusted, so what is read of it is bounded in size and in
time: `RESPONSE_BODY_LIMIT` bytes of a body are kept (the rest is drained a
little, then the connection is closed, and the `Response` says it was cut),
and over HTTP the target's `timeout` is the whole attempt's budget, enforced
on every socket operation, so a receiver that trickles a byte a second
cannot hold a sender, a check or serve's dispatcher. `printable()` makes
the receiver's text safe to show on a terminal.

Client IPs matter to receivers that rate-limit per address, so every send
takes a `source_ip`: over HTTP on loopback the socket is bound to that
address in 127.0.0.0/8; in-process it becomes `REMOTE_ADDR` (WSGI) or the
scope's `client` (ASGI). Transport failures become the typed errors of
`fakemeta.simulator.errors`, each with one line of explanation.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import re
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import httpx

from fakemeta.simulator._asgi import Lifespan
from fakemeta.simulator.bodies import ACCEPT_ENCODING, BoundedBody
from fakemeta.simulator.deadlines import attempt_deadline, enforce_deadlines
from fakemeta.simulator.errors import (
    InvalidTargetError,
    ReceiverCrashed,
    ReceiverTimeout,
    SimulatorError,
    SourceAddressError,
    from_httpx,
)

__all__ = [
    "RESPONSE_BODY_LIMIT",
    "AsgiTarget",
    "Exchange",
    "HttpTarget",
    "Request",
    "Response",
    "Target",
    "WsgiTarget",
    "printable",
    "target_for",
]

HeaderPairs = tuple[tuple[str, str], ...]

_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_T = TypeVar("_T")

#: How much of a response body is kept: more than any check or report needs.
#: A receiver that answers more (10 GB, or forever) is cut here, not read into memory.
RESPONSE_BODY_LIMIT = 64 * 1024
#: After the limit, this much more is read and thrown away, so that an answer a
#: little too long leaves the connection reusable; past it the connection is closed.
_DRAIN_LIMIT = 1024 * 1024

# C0 and C1 controls (ESC starts terminal escape sequences; U+009B is a
# one-character CSI), DEL, and the bidirectional overrides that can make a line
# read differently from its bytes. Newline and tab are kept.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with control characters shown as escapes (`\\x1b`), newline and tab kept.

    For text a receiver chose (status line, headers, body) on its way to a
    terminal or a log, so that it cannot move the cursor, recolour or retitle
    the terminal, or hide what it says. Reports that are data (JSON) keep the
    raw text.
    """
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _find(headers: HeaderPairs, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


@dataclass(frozen=True)
class Request:
    """What was sent: every header as it went out (Host, Content-Length included)."""

    method: str
    url: str
    headers: HeaderPairs
    body: bytes
    source_ip: str | None

    def header(self, name: str) -> str | None:
        return _find(self.headers, name)


@dataclass(frozen=True)
class Response:
    """What came back: status, headers in order, body bytes (decompressed).

    `truncated`: the receiver sent more than `RESPONSE_BODY_LIMIT` bytes of
    body and `body` holds only the first of them.
    """

    status: int
    headers: HeaderPairs
    body: bytes
    truncated: bool = False

    def header(self, name: str) -> str | None:
        return _find(self.headers, name)

    @property
    def content_type(self) -> str:
        return self.header("Content-Type") or ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Exchange:
    """One round trip; `latency` is seconds from sending to the response read (as far as kept)."""

    request: Request
    response: Response
    latency: float

    @property
    def status(self) -> int:
        return self.response.status


class Target(Protocol):
    """Somewhere to send requests: `url` is the webhook's address, as reports show it."""

    url: str

    def send(
        self,
        method: str,
        query: str = "",
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        *,
        source_ip: str | None = None,
    ) -> Exchange:
        """Send `body` (bytes, as they are) to `url` + `?query` (already URL-encoded)."""
        ...

    def close(self) -> None: ...


class _ClientTarget:
    """Shared machinery: an httpx client per source address, error mapping, timing."""

    in_process = False

    def __init__(self, url: str, *, timeout: float, max_clients: int = 32) -> None:
        self.url = url
        self.timeout = timeout
        self._max_clients = max_clients
        self._clients: OrderedDict[str | None, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(
        self,
        method: str,
        query: str = "",
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        *,
        source_ip: str | None = None,
    ) -> Exchange:
        source_ip = self._check_source(source_ip)
        url = self.url if not query else self.url + ("&" if "?" in self.url else "?") + query
        content = None if not body and method.upper() in _BODYLESS else body
        client = self._client(source_ip)
        request = client.build_request(method, url, content=content, headers=list(headers))
        start = time.perf_counter()
        try:
            with attempt_deadline(None if self.in_process else self.timeout):
                response, body_read = self._send(client, request)
        except httpx.HTTPError as exc:
            # Not the query: a handshake's holds the verify token, and this reaches logs.
            raise from_httpx(exc, url=self.url, source_ip=source_ip, timeout=self.timeout) from exc
        except SimulatorError:
            raise
        except Exception as exc:
            if not self.in_process:
                raise
            raise ReceiverCrashed(
                f"the app raised {type(exc).__name__}: {exc} while handling {method} {self.url}"
                " — a server would answer 500; fix the handler so it answers",
                url=self.url,
            ) from exc
        latency = time.perf_counter() - start
        return Exchange(
            Request(method, url, tuple(request.headers.multi_items()), body, source_ip),
            Response(
                response.status_code,
                tuple(response.headers.multi_items()),
                bytes(body_read.kept),
                body_read.truncated,
            ),
            latency,
        )

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            self._close_client(client)

    # -- for subclasses ------------------------------------------------------

    def _check_source(self, source_ip: str | None) -> str | None:
        if source_ip is not None:
            try:
                ipaddress.ip_address(source_ip)
            except ValueError:
                raise SourceAddressError(
                    f"source address {source_ip!r} is not an IP address — give one like 127.0.0.7"
                ) from None
        return source_ip

    def _client(self, source_ip: str | None) -> Any:
        with self._lock:
            client = self._clients.get(source_ip)
            if client is not None:
                self._clients.move_to_end(source_ip)
                return client
            client = self._new_client(source_ip)
            # httpx would add `User-Agent: python-httpx`; only the caller's headers say who we are.
            del client.headers["User-Agent"]
            # And the codings it accepts would depend on what is installed.
            client.headers["Accept-Encoding"] = ACCEPT_ENCODING
            self._clients[source_ip] = client
            evicted = (
                self._clients.popitem(last=False)[1]
                if len(self._clients) > self._max_clients
                else None
            )
        if evicted is not None:
            self._close_client(evicted)
        return client

    def _new_client(self, source_ip: str | None) -> Any:
        raise NotImplementedError

    def _send(self, client: Any, request: httpx.Request) -> tuple[httpx.Response, _BodyRead]:
        response: httpx.Response = client.send(request, stream=True)
        body = _BodyRead(self, response)
        try:
            body.read(response.iter_raw())
        finally:
            response.close()  # unread bytes left: the connection is closed, not reused
        return response, body

    def _close_client(self, client: Any) -> None:
        client.close()


class HttpTarget(_ClientTarget):
    """A receiver at a URL, over real HTTP(S).

    The body goes out as `content=` bytes, never re-encoded; redirects are
    not followed (Meta counts a 3xx as a failure). On a loopback URL a
    `source_ip` in 127.0.0.0/8 binds the socket to that address, so the
    receiver sees it as the client IP; proxies from the environment are then
    ignored, since a proxy would hide the address.
    """

    def __init__(
        self, url: str, *, timeout: float = 10.0, verify_tls: bool = True, max_clients: int = 32
    ) -> None:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise InvalidTargetError(
                f"invalid receiver URL {url!r}: {exc} — give the full URL, e.g. https://example.com/webhook"
            ) from None
        if (
            parsed.scheme not in ("http", "https")
            or not parsed.host
            or not 0 < (parsed.port or 80) < 65536
            or any(c.isspace() for c in url)
        ):
            raise InvalidTargetError(
                f"invalid receiver URL {url!r}: it needs http:// or https://, a host,"
                " a port below 65536 and no spaces"
                " — give the full URL, e.g. https://example.com/webhook"
            )
        super().__init__(url, timeout=timeout, max_clients=max_clients)
        self.verify_tls = verify_tls
        self.loopback = _is_loopback_host(parsed.host)
        self.ipv6 = ":" in parsed.host
        # Plain HTTP to loopback never speaks TLS: no proxy is used there and
        # redirects are not followed.
        self._tls_unused = parsed.scheme == "http" and self.loopback
        # One TLS context for all of this target's clients (one per source
        # address), made with the first: httpx would build one per client.
        self._tls_context: ssl.SSLContext | None = None

    def _check_source(self, source_ip: str | None) -> str | None:
        if source_ip is None:
            return None
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            address = None
        if address is None or address not in _LOOPBACK_V4:
            raise SourceAddressError(
                f"source address {source_ip!r} is not in 127.0.0.0/8"
                " — only loopback addresses can be chosen, e.g. 127.0.0.7"
            )
        if self.ipv6:
            raise SourceAddressError(
                f"source address {source_ip} asked for, but {self.url} is IPv6 loopback"
                " — use the receiver's http://127.0.0.1:<port> URL instead"
            )
        if not self.loopback:
            raise SourceAddressError(
                f"source address {source_ip} asked for, but {self.url} is not on loopback"
                " — drop the source address for a remote receiver"
            )
        return source_ip

    def _new_client(self, source_ip: str | None) -> httpx.Client:
        # `verify=True` loads the CA bundle, 40-60 ms: not for a context that
        # is never used, and once per target, not per client (the caller
        # holds the lock).
        if self._tls_context is None:
            self._tls_context = httpx.create_ssl_context(
                verify=False if self._tls_unused else self.verify_tls,
                trust_env=not self.loopback,
            )
        if self.loopback:
            # Bound to the source address; never through a proxy.
            transport = httpx.HTTPTransport(
                verify=self._tls_context, local_address=source_ip, trust_env=False
            )
            client = httpx.Client(
                transport=transport, timeout=self.timeout, follow_redirects=False, trust_env=False
            )
        else:
            # httpx's own transports, so that it mounts those for the
            # environment's proxies (it does not when given a transport).
            client = httpx.Client(
                verify=self._tls_context,
                timeout=self.timeout,
                follow_redirects=False,
                trust_env=True,
            )
        return enforce_deadlines(client)


class WsgiTarget(_ClientTarget):
    """A WSGI app called in-process through `httpx.WSGITransport`.

    `source_ip` (any IP address; default 127.0.0.1) becomes `REMOTE_ADDR`.
    There is no timeout: the app runs in the caller's thread.
    """

    in_process = True

    def __init__(
        self, app: Callable[..., Any], path: str = "/", *, base_url: str = "http://testserver"
    ) -> None:
        super().__init__(_join(base_url, path), timeout=0.0)
        self.app = app

    def _new_client(self, source_ip: str | None) -> httpx.Client:
        transport = httpx.WSGITransport(app=self.app, remote_addr=source_ip or "127.0.0.1")
        return httpx.Client(transport=transport, follow_redirects=False, trust_env=False)


class AsgiTarget(_ClientTarget):
    """An ASGI app called in-process through `httpx.ASGITransport`, from sync code.

    Requests run on one event loop in a background thread that lives as long
    as the target, so app state bound to the loop survives between requests.
    The ASGI lifespan runs on that loop: `startup` before the first request
    (a FastAPI or Starlette app opens its database there), `shutdown` on
    `close()`; an app that does not speak lifespan is run without it.
    `source_ip` becomes the scope's `client`.
    """

    in_process = True

    def __init__(
        self,
        app: Callable[..., Any],
        path: str = "/",
        *,
        base_url: str = "http://testserver",
        timeout: float = 10.0,
    ) -> None:
        super().__init__(_join(base_url, path), timeout=timeout)
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lifespan = Lifespan(app)
        self._startup_error: SimulatorError | None = None

    def _run(self, coroutine: Coroutine[Any, Any, _T], url: str) -> _T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="fakemeta-asgi", daemon=True
            )
            self._thread.start()
            try:
                self._await(self._lifespan.startup(), url)
            except SimulatorError as error:
                self._startup_error = error
        if self._startup_error is not None:
            coroutine.close()  # never sent: an app whose startup failed serves nothing
            raise self._startup_error
        return self._await(coroutine, url)

    def _await(self, coroutine: Coroutine[Any, Any, _T], url: str) -> _T:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            future.cancel()
            raise ReceiverTimeout(
                f"no answer from the ASGI app at {url} after {self.timeout:g} s"
                " — make the handler answer quickly or raise the timeout",
                url=url,
            ) from None

    def _new_client(self, source_ip: str | None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(
            app=_CappedAsgi(self.app), client=(source_ip or "127.0.0.1", 50000)
        )
        return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)

    def _send(self, client: Any, request: httpx.Request) -> tuple[httpx.Response, _BodyRead]:
        async def send() -> tuple[httpx.Response, _BodyRead]:
            response: httpx.Response = await client.send(request, stream=True)
            body = _BodyRead(self, response)
            try:
                await body.aread(response.aiter_raw())
            finally:
                await response.aclose()
            return response, body

        return self._run(send(), str(request.url))

    def _close_client(self, client: Any) -> None:
        if self._loop is not None:
            self._await(client.aclose(), self.url)

    def close(self) -> None:
        super().close()
        if self._loop is not None and self._thread is not None:
            with contextlib.suppress(SimulatorError):  # a failed shutdown must not hang us
                self._await(self._lifespan.shutdown(), self.url)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
            self._loop = self._thread = None


class _CappedAsgi:
    """An ASGI app whose response body reaches httpx cut to one byte more than
    `RESPONSE_BODY_LIMIT` (enough to say it was cut): `httpx.ASGITransport`
    holds a body whole before it is read, so the cut has to come first."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        room = RESPONSE_BODY_LIMIT + 1

        async def capped_send(message: Any) -> None:
            nonlocal room
            if message.get("type") == "http.response.body":
                body = message.get("body", b"")[:room]
                room -= len(body)
                message = {**message, "body": body}
            await send(message)

        await self.app(scope, receive, capped_send)


def target_for(
    url_or_app: str | Callable[..., Any],
    path: str = "/",
    *,
    kind: Literal["wsgi", "asgi"] | None = None,
    timeout: float = 10.0,
    verify_tls: bool = True,
) -> HttpTarget | WsgiTarget | AsgiTarget:
    """The target for a URL (`path` ignored) or an app (`path` is the webhook's route).

    An app whose `__call__` is a coroutine function is taken as ASGI, any
    other callable as WSGI; `kind` overrides the guess.
    """
    if isinstance(url_or_app, str):
        return HttpTarget(url_or_app, timeout=timeout, verify_tls=verify_tls)
    if not callable(url_or_app):
        raise InvalidTargetError(
            f"{url_or_app!r} is neither a URL nor a WSGI/ASGI app — pass the URL string or the app"
        )
    if kind is None:
        call = url_or_app if inspect.isfunction(url_or_app) else type(url_or_app).__call__
        kind = "asgi" if inspect.iscoroutinefunction(call) else "wsgi"
    if kind == "asgi":
        return AsgiTarget(url_or_app, path, timeout=timeout)
    return WsgiTarget(url_or_app, path)


def _join(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def _is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _BodyRead:
    """The kept start of a response body (`bodies.BoundedBody`), read within the
    attempt's deadline."""

    def __init__(self, target: _ClientTarget, response: httpx.Response) -> None:
        encoding = response.headers.get("content-encoding", "")
        self._body = BoundedBody(encoding, RESPONSE_BODY_LIMIT, drain=_DRAIN_LIMIT)
        self._target = target
        self._status = response.status_code

    @property
    def kept(self) -> bytearray:
        return self._body.kept

    @property
    def truncated(self) -> bool:
        return self._body.truncated

    def read(self, chunks: Iterable[bytes]) -> None:
        try:
            self._body.read(chunks)
        except httpx.TimeoutException:
            raise self._overdue() from None

    async def aread(self, chunks: AsyncIterator[bytes]) -> None:
        await self._body.aread(chunks)

    def _overdue(self) -> ReceiverTimeout:
        url, timeout = self._target.url, self._target.timeout
        return ReceiverTimeout(
            f"the answer from {url} (HTTP {self._status}) was still arriving after"
            f" {timeout:g} s, the time one attempt may take — make the receiver send its"
            " whole answer at once, quickly, or raise the timeout",
            url=url,
        )
