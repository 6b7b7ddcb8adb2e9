"""Targets: bytes out unchanged, exchanges recorded, source addresses, typed errors."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.errors import (
    InvalidTargetError,
    ReceiverCrashed,
    ReceiverProtocolError,
    ReceiverTimeout,
    ReceiverUnreachable,
    SimulatorError,
    SourceAddressError,
    TlsError,
    TransportError,
    UsageError,
)
from fakemeta.simulator.targets import AsgiTarget, HttpTarget, WsgiTarget, target_for

if TYPE_CHECKING:
    from conftest import LoopbackReceiver

BODY = b'{"text":"\\u0645\\ud83d\\ude80 a\\/b"}'


def assert_one_line(error: SimulatorError, starts: str) -> None:
    line = error.one_line()
    assert "\n" not in str(error)
    assert line.startswith(starts), line
    assert " — " in line  # what was wrong — what to do


# -- HTTP ------------------------------------------------------------------------


def test_http_post_sends_the_bytes_and_records_the_exchange(
    loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> None:
    delivery = Delivery.signed(BODY, loopback_secret)
    with HttpTarget(loopback_receiver.url) as target:
        exchange = target.send("POST", "", delivery.body, delivery.headers)
    [received] = loopback_receiver.requests
    assert received.body == BODY
    assert received.signature_ok
    assert received.method == "POST"
    assert received.path == "/webhook"
    assert received.header("User-Agent") == "facebookexternalua"
    assert exchange.request.url == loopback_receiver.url
    assert exchange.request.body == BODY
    assert exchange.request.header("x-hub-signature-256") == delivery.signature
    assert exchange.request.header("Content-Length") == str(len(BODY))
    assert exchange.request.source_ip is None
    assert exchange.status == 200
    assert exchange.response.body == b"ok"
    assert exchange.response.content_type.startswith("text/plain")
    assert exchange.latency > 0


def test_http_adds_no_user_agent_of_its_own(loopback_receiver: LoopbackReceiver) -> None:
    with HttpTarget(loopback_receiver.url) as target:
        target.send("POST", "", b"{}", [("Content-Type", "application/json")])
    [received] = loopback_receiver.requests
    assert received.header("User-Agent") is None


def test_http_get_with_query(loopback_receiver: LoopbackReceiver) -> None:
    with HttpTarget(loopback_receiver.url + "?tenant=7") as target:
        exchange = target.send("GET", "hub.mode=subscribe&x=%2F")
    [received] = loopback_receiver.requests
    assert received.method == "GET"
    assert received.body == b""
    assert received.query == b"tenant=7&hub.mode=subscribe&x=%2F"
    assert received.args == {"tenant": "7", "hub.mode": "subscribe", "x": "/"}
    assert exchange.request.header("Content-Length") is None


def test_redirects_are_not_followed(loopback_receiver: LoopbackReceiver) -> None:
    loopback_receiver.handler = lambda r: (302, b"", {"Location": "/elsewhere"})
    with HttpTarget(loopback_receiver.url) as target:
        exchange = target.send("POST", "", b"{}")
    assert exchange.status == 302
    assert len(loopback_receiver.requests) == 1


@pytest.mark.parametrize("source_ip", ["127.0.0.7", "127.1.2.3"])
def test_loopback_source_address_arrives_as_remote_addr(
    loopback_receiver: LoopbackReceiver, source_ip: str
) -> None:
    with HttpTarget(loopback_receiver.url) as target:
        exchange = target.send("POST", "", b"{}", source_ip=source_ip)
        target.send("POST", "", b"{}")
    assert [r.remote_addr for r in loopback_receiver.requests] == [source_ip, "127.0.0.1"]
    assert exchange.request.source_ip == source_ip


def test_source_address_pool_is_bounded(loopback_receiver: LoopbackReceiver) -> None:
    with HttpTarget(loopback_receiver.url, max_clients=2) as target:
        for last in (10, 11, 12, 10):
            target.send("POST", "", b"{}", source_ip=f"127.0.0.{last}")
        assert len(target._clients) == 2
    addresses = [r.remote_addr for r in loopback_receiver.requests]
    assert addresses == ["127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.10"]


@pytest.mark.parametrize(
    ("url", "source_ip", "message"),
    [
        ("http://127.0.0.1:9/webhook", "10.0.0.7", "not in 127.0.0.0/8"),
        ("http://127.0.0.1:9/webhook", "::1", "not in 127.0.0.0/8"),
        ("http://127.0.0.1:9/webhook", "localhost", "not in 127.0.0.0/8"),
        ("https://example.com/webhook", "127.0.0.7", "is not on loopback"),
        ("http://[::1]:8000/webhook", "127.0.0.7", "is IPv6 loopback"),
    ],
)
def test_source_address_refused_before_sending(url: str, source_ip: str, message: str) -> None:
    with HttpTarget(url) as target, pytest.raises(SourceAddressError, match=message) as info:
        target.send("POST", "", b"{}", source_ip=source_ip)
    assert isinstance(info.value, UsageError)
    assert_one_line(info.value, "SourceAddressError: source address")


@pytest.mark.parametrize(
    "url",
    [
        "example.com/webhook",
        "ftp://example.com/x",
        "http://",
        "http://exa mple.com",
        "http://[::1",
        "http://example.com:99999/x",
    ],
)
def test_invalid_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(InvalidTargetError) as info:
        HttpTarget(url)
    assert_one_line(info.value, "InvalidTargetError: invalid receiver URL")


def test_connection_refused_is_receiver_unreachable(loopback_closed_url: str) -> None:
    with HttpTarget(loopback_closed_url) as target, pytest.raises(ReceiverUnreachable) as info:
        target.send("POST", "", b"{}")
    assert info.value.url == loopback_closed_url
    assert info.value.one_line() == (
        f"ReceiverUnreachable: cannot connect to {loopback_closed_url}:"
        " connection refused — is the receiver running?"
    )


def test_slow_receiver_is_a_timeout(loopback_receiver: LoopbackReceiver) -> None:
    def slow(request: object) -> tuple[int, bytes, dict[str, str]]:
        time.sleep(1.0)
        return 200, b"late", {}

    loopback_receiver.handler = slow
    target = HttpTarget(loopback_receiver.url, timeout=0.2)
    with target, pytest.raises(ReceiverTimeout) as info:
        target.send("POST", "", b"{}")
    assert isinstance(info.value, TransportError)
    assert_one_line(
        info.value, f"ReceiverTimeout: no answer from {loopback_receiver.url} after 0.2 s"
    )


def test_https_to_a_plain_server_is_a_tls_error(loopback_receiver: LoopbackReceiver) -> None:
    url = loopback_receiver.url.replace("http://", "https://")
    with HttpTarget(url) as target, pytest.raises(TlsError) as info:
        target.send("POST", "", b"{}")
    assert_one_line(info.value, f"TlsError: TLS handshake with {url} failed")


@pytest.fixture
def hang_up_url() -> Iterator[str]:
    """A loopback server that reads the request and closes without answering."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/webhook"
    stop.set()
    server.close()


def test_hang_up_is_a_protocol_error(hang_up_url: str) -> None:
    with HttpTarget(hang_up_url) as target, pytest.raises(ReceiverProtocolError) as info:
        target.send("POST", "", b"{}")
    assert_one_line(
        info.value, f"ReceiverProtocolError: no complete HTTP response from {hang_up_url}"
    )


# -- WSGI --------------------------------------------------------------------------


def recording_wsgi(seen: list[dict[str, Any]]) -> Callable[..., list[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("handler exploded")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        seen.append(
            {
                "remote": environ["REMOTE_ADDR"],
                "path": environ["PATH_INFO"],
                "query": environ["QUERY_STRING"],
                "body": environ["wsgi.input"].read(length),
                "ua": environ.get("HTTP_USER_AGENT"),
            }
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"stored"]

    return app


def test_wsgi_target_sets_remote_addr_per_request() -> None:
    seen: list[dict[str, Any]] = []
    with WsgiTarget(recording_wsgi(seen), "/webhook") as target:
        first = target.send("POST", "", BODY, [("User-Agent", "facebookexternalua")])
        target.send("POST", "", BODY, source_ip="203.0.113.9")
        target.send("GET", "hub.mode=subscribe", source_ip="127.0.0.7")
    assert [s["remote"] for s in seen] == ["127.0.0.1", "203.0.113.9", "127.0.0.7"]
    assert seen[0]["body"] == BODY
    assert seen[0]["path"] == "/webhook"
    assert seen[0]["ua"] == "facebookexternalua"
    assert seen[1]["ua"] is None
    assert seen[2]["query"] == "hub.mode=subscribe"
    assert first.status == 200
    assert first.response.body == b"stored"
    assert target.url == "http://testserver/webhook"


def test_wsgi_app_exception_is_receiver_crashed() -> None:
    target = WsgiTarget(recording_wsgi([]), "/boom")
    with target, pytest.raises(ReceiverCrashed) as info:
        target.send("POST", "", b"{}")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert_one_line(info.value, "ReceiverCrashed: the app raised RuntimeError: handler exploded")


def test_wsgi_source_must_be_an_ip() -> None:
    with WsgiTarget(recording_wsgi([]), "/") as target, pytest.raises(SourceAddressError):
        target.send("POST", "", b"{}", source_ip="nope")


# -- ASGI --------------------------------------------------------------------------


class CountingAsgi:
    """A hand-written ASGI app whose state must survive between requests."""

    def __init__(self) -> None:
        self.count = 0
        self.seen: list[dict[str, Any]] = []
        self.lock: asyncio.Lock | None = None  # bound to the loop of the first request

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:  # fails if a later request runs on another loop
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            if scope["path"] == "/boom":
                raise ValueError("asgi handler exploded")
            if scope["path"] == "/slow":
                await asyncio.sleep(2)
            self.count += 1
            self.seen.append(
                {"client": scope["client"], "body": body, "query": scope["query_string"]}
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": str(self.count).encode()})


def test_asgi_target_keeps_state_and_sets_client() -> None:
    app = CountingAsgi()
    with AsgiTarget(app, "/webhook") as target:
        one = target.send("POST", "", BODY)
        two = target.send("POST", "", BODY, source_ip="127.0.0.9")
        three = target.send("GET", "hub.challenge=1", source_ip="198.51.100.4")
    assert [one.response.body, two.response.body, three.response.body] == [b"1", b"2", b"3"]
    assert [s["client"][0] for s in app.seen] == ["127.0.0.1", "127.0.0.9", "198.51.100.4"]
    assert app.seen[0]["body"] == BODY
    assert app.seen[2]["query"] == b"hub.challenge=1"


def test_asgi_app_exception_is_receiver_crashed() -> None:
    with AsgiTarget(CountingAsgi(), "/boom") as target, pytest.raises(ReceiverCrashed) as info:
        target.send("POST", "", b"{}")
    assert isinstance(info.value.__cause__, ValueError)


def test_asgi_slow_app_is_a_timeout() -> None:
    target = AsgiTarget(CountingAsgi(), "/slow", timeout=0.1)
    with target, pytest.raises(ReceiverTimeout):
        target.send("POST", "", b"{}")


# -- choosing a target --------------------------------------------------------------


async def bare_asgi(scope: Any, receive: Any, send: Any) -> None:
    raise NotImplementedError


def test_target_for_picks_by_kind() -> None:
    assert isinstance(target_for("http://127.0.0.1:8000/webhook"), HttpTarget)
    assert isinstance(target_for(recording_wsgi([]), "/hook"), WsgiTarget)
    assert isinstance(target_for(bare_asgi), AsgiTarget)
    asgi = target_for(CountingAsgi(), "/hook")
    assert isinstance(asgi, AsgiTarget)
    assert asgi.url == "http://testserver/hook"
    assert isinstance(target_for(CountingAsgi(), kind="wsgi"), WsgiTarget)
    with pytest.raises(InvalidTargetError):
        target_for(42)  # type: ignore[arg-type]


class _LifespanApp:
    """An ASGI app with a lifespan: it opens its 'database' on startup."""

    def __init__(self, *, fail: bool = False) -> None:
        self.events: list[str] = []
        self.fail = fail

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if self.fail:
                        await send({"type": "lifespan.startup.failed", "message": "no database"})
                        return
                    self.events.append("startup")
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.events.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b"open" if self.events == ["startup"] else b"closed"
        self.events.append("request")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def test_asgi_lifespan_starts_before_the_first_request_and_stops_on_close() -> None:
    app = _LifespanApp()
    target = AsgiTarget(app, "/webhook")
    assert app.events == []
    assert target.send("GET").response.body == b"open"
    target.close()
    assert app.events == ["startup", "request", "shutdown"]


def test_asgi_app_without_lifespan_still_serves() -> None:
    calls: list[str] = []

    async def plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope["type"])
        if scope["type"] != "http":
            raise RuntimeError(f"unsupported scope {scope['type']}")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with AsgiTarget(plain, "/") as target:
        assert target.send("GET").status == 204
    assert calls == ["lifespan", "http"]


def test_asgi_startup_failure_is_a_one_line_crash() -> None:
    app = _LifespanApp(fail=True)
    with AsgiTarget(app, "/") as target:
        for _ in range(2):  # every request, not only the first
            with pytest.raises(ReceiverCrashed, match="lifespan startup failed: no database"):
                target.send("GET")
    assert "request" not in app.events
