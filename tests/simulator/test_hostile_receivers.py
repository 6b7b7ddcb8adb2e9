"""fakemeta as a client of hostile receivers: bounded in memory, in time, and on the terminal.

The receivers are raw sockets on loopback, so that they can misbehave as no
framework lets them: answer a body without end, trickle their answer a byte
at a time (never tripping a per-read timeout), or answer terminal escape
sequences. Every test is bounded to a few seconds, and so is every server:
one that a fixed bug would have waited on gives up on its own.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs

import pytest
from cli_helpers import run

from fakemeta.simulator import envelopes, messages
from fakemeta.simulator.errors import ReceiverTimeout
from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.graph.state import DEFAULT_PHONE_NUMBER, GraphState
from fakemeta.simulator.load._http import ProtocolViolation, ResponseReader
from fakemeta.simulator.targets import (
    RESPONSE_BODY_LIMIT,
    AsgiTarget,
    Exchange,
    HttpTarget,
    Request,
    Response,
    target_for,
)
from fakemeta.simulator.types import Payload

pytestmark = pytest.mark.timeout(30)

SECRET = "hostile-app-secret"
TOKEN = "hostile-verify-token"
# What a hostile receiver answers: clear the screen, retitle the window,
# recolour, a one-character CSI (U+009B) and a right-to-left override.
ESCAPES = "\x1b[2J\x1b]0;owned\x07 \x1b[31mred\x1b[0m \x9b31m \u202eevil"
RAW_CONTROL = re.compile("[\x1b\x07\x9b\u202e]")

Handler = Callable[[socket.socket, bytes, bytes, threading.Event], bool]
"""Answers one request (head, body); False closes the connection."""


class RawServer:
    """A receiver on 127.0.0.1 that hands each request to `handler`, one thread per connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.posts: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with conn:
            try:
                while not self.stop.is_set():
                    request = _read_request(conn)
                    if request is None or not self.handler(conn, *request, self.stop):
                        return
            except OSError:
                return


def _read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    while length is not None and len(body) < int(length[1]):
        body += conn.recv(65536)
    return head, body


def endless(conn: socket.socket, head: bytes, body: bytes, stop: threading.Event) -> bool:
    """200, then a body that ends only with the connection."""
    return long_body(None)(conn, head, body, stop)


def long_body(size: int | None) -> Handler:
    """200, then `size` bytes of body (None: without end) delimited by the connection's end."""

    def handle(conn: socket.socket, head: bytes, body: bytes, stop: threading.Event) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        piece, sent = b"x" * 65536, 0
        while not stop.is_set() and (size is None or sent < size):
            conn.sendall(piece)
            sent += len(piece)
        return False

    return handle


def trickler(*, head_first: bool = False, every: float = 0.1, lasting: float = 6.0) -> Handler:
    """Sends its answer a byte every `every` seconds (the head at once if
    `head_first`), and gives up after `lasting` seconds."""

    def handle(conn: socket.socket, head: bytes, body: bytes, stop: threading.Event) -> bool:
        start = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        rest = b"y" * 1000
        if head_first:
            conn.sendall(start)
        else:
            rest = start + rest
        ends = time.monotonic() + lasting
        for byte in rest:
            if stop.is_set() or time.monotonic() > ends:
                break
            conn.sendall(bytes([byte]))
            time.sleep(every)
        return False

    return handle


def escapes(conn: socket.socket, head: bytes, body: bytes, stop: threading.Event) -> bool:
    """200 with escape sequences in a header (the C1 CSI h11 lets through) and the body."""
    answer = ESCAPES.encode()
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Evil: a\x9b31mb\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
    )
    return True


@pytest.fixture
def serve_raw() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.__exit__()


def peak_rss(args: Sequence[str], *, limit: float = 20.0) -> tuple[int | None, float, int, str]:
    """Run `fakemeta ARGS` in a fresh process that measures its child: exit
    status (None if killed at `limit` s), seconds, peak RSS in MiB, stdout.

    The child may not map more than 2 GiB, so that a client that reads a body
    without end fails fast instead of eating the machine's memory.
    """
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "def cap():\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "start = time.monotonic()\n"
        "main = 'from fakemeta.simulator.cli import main; main()'\n"
        "cmd = [sys.executable, '-c', main, *sys.argv[2:]]\n"
        "try:\n"
        "    p = subprocess.run(cmd, capture_output=True, text=True,\n"
        "                       timeout=float(sys.argv[1]), preexec_fn=cap)\n"
        "    code, out = p.returncode, p.stdout + p.stderr\n"
        "except subprocess.TimeoutExpired as exc:\n"
        "    code, out = None, str(exc.stdout)\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([code, time.monotonic() - start, rss // 1024, out]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, str(limit), *args],
        capture_output=True,
        text=True,
        timeout=limit + 10,
    )
    code, seconds, mib, out = json.loads(done.stdout)
    return code, seconds, mib, out


# -- a body without end --------------------------------------------------------------


def test_a_long_body_is_cut_at_the_limit(
    serve_raw: Callable[[Handler], RawServer],
) -> None:
    # 64 MiB: more than fakemeta reads, little enough that reading it all fails fast.
    server = serve_raw(long_body(64 << 20))
    started = time.monotonic()
    with HttpTarget(server.url, timeout=5) as target:
        exchange = target.send("POST", "", b"{}")
        again = target.send("POST", "", b"{}")  # the dropped connection is replaced
    assert time.monotonic() - started < 3
    assert exchange.status == again.status == 200
    assert exchange.response.truncated
    assert exchange.response.body == b"x" * RESPONSE_BODY_LIMIT


def test_a_body_within_the_limit_is_whole_and_not_cut(
    serve_raw: Callable[[Handler], RawServer],
) -> None:
    def exactly_the_limit(conn: socket.socket, *_: object) -> bool:
        body = b"z" * RESPONSE_BODY_LIMIT
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        return True

    with HttpTarget(serve_raw(exactly_the_limit).url, timeout=5) as target:
        response = target.send("POST", "", b"{}").response
    assert response.body == b"z" * RESPONSE_BODY_LIMIT
    assert not response.truncated


def _long_wsgi_app(
    environ: dict[str, object], start_response: Callable[..., object]
) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return (b"w" * 65536 for _ in range(1024))  # 64 MiB


async def _long_asgi_app(scope: dict[str, object], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")  # the target then runs without it
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(128):  # 8 MiB
        await send({"type": "http.response.body", "body": b"a" * 65536, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize("app", [_long_wsgi_app, _long_asgi_app], ids=["wsgi", "asgi"])
def test_an_in_process_apps_long_body_is_cut_too(app: Callable[..., Any]) -> None:
    with target_for(app, "/hook", timeout=5) as target:
        response = target.send("POST", "", b"{}").response
    assert response.truncated
    assert len(response.body) == RESPONSE_BODY_LIMIT


def test_send_stays_small_against_a_body_without_end(
    serve_raw: Callable[[Handler], RawServer],
) -> None:
    server = serve_raw(endless)
    code, seconds, mib, out = peak_rss(
        ["send", server.url, "text", "--app-secret", SECRET, "--timeout", "5"]
    )
    print(f"fakemeta send against a body without end: {seconds:.1f} s, peak RSS {mib} MiB")
    assert code == 0, out
    assert seconds < 10
    assert mib < 200
    assert f"(cut at {RESPONSE_BODY_LIMIT // 1024} KiB: the receiver sent more)" in out


# -- a receiver that trickles ---------------------------------------------------------


@pytest.mark.parametrize("head_first", [False, True], ids=["trickled-head", "trickled-body"])
def test_the_timeout_is_the_whole_attempts_budget(
    serve_raw: Callable[[Handler], RawServer], head_first: bool
) -> None:
    # A byte every 0.1 s never trips a 1 s per-read timeout; the server gives up after 6 s.
    server = serve_raw(trickler(head_first=head_first))
    started = time.monotonic()
    with HttpTarget(server.url, timeout=1.0) as target, pytest.raises(ReceiverTimeout) as info:
        target.send("POST", "", b"{}")
    assert time.monotonic() - started < 2.0
    message = info.value.one_line()
    if head_first:
        assert "(HTTP 200) was still arriving after 1 s" in message
    else:
        assert "no answer from" in message


def test_send_gives_up_on_a_trickling_receiver_in_time(
    serve_raw: Callable[[Handler], RawServer],
) -> None:
    server = serve_raw(trickler())
    code, seconds, _, out = peak_rss(
        ["send", server.url, "text", "--app-secret", SECRET, "--timeout", "1"], limit=10
    )
    assert code == 2, out
    assert seconds < 5
    assert "ReceiverTimeout" in out


# -- escape sequences -----------------------------------------------------------------


def test_send_shows_escape_sequences_escaped(
    serve_raw: Callable[[Handler], RawServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve_raw(escapes)
    code, out, err = run(capsys, "send", server.url, "text", "--app-secret", SECRET, "-v")
    assert code == 0, err
    assert not RAW_CONTROL.search(out + err)
    assert "\\x1b[2J\\x1b]0;owned\\x07 \\x1b[31mred" in out
    assert "x-evil: a\\x9b31mb" in out
    assert "\\u202eevil" in out


# -- serve's dispatcher ---------------------------------------------------------------


def inbound(text: str) -> Payload:
    account = DEFAULT_PHONE_NUMBER.account
    customer = envelopes.Customer("966501234567", "Layla")
    return envelopes.message_payload(account, messages.text(customer, text), customer)


def slow_for_some(conn: socket.socket, head: bytes, body: bytes, stop: threading.Event) -> bool:
    """Passes the handshake; trickles its answer to deliveries that say "slow"."""
    request_line = head.split(b"\r\n", 1)[0].decode()
    if request_line.startswith("GET"):
        query = parse_qs(request_line.split(" ")[1].partition("?")[2])
        challenge = query["hub.challenge"][0].encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(challenge), challenge)
        )
        return True
    if b"slow" in body:
        return trickler()(conn, head, body, stop)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return True


def test_a_slow_delivery_does_not_hold_the_others(
    serve_raw: Callable[[Handler], RawServer],
) -> None:
    server = serve_raw(slow_for_some)
    state = GraphState()
    dispatcher = Dispatcher(state, app_secret=SECRET, timeout=2.0)
    try:
        assert dispatcher.subscribe(server.url, TOKEN).verified
        dispatcher.start()
        started = time.monotonic()
        state.webhooks.schedule("inbound", inbound("slow"), label="slow")
        for n in range(3):
            state.webhooks.schedule("inbound", inbound(f"fast {n}"), label=f"fast {n}")
        # All three before the slow attempt's 2 s deadline: nothing waited for it.
        while len([r for r in dispatcher.log.records() if r.state == "delivered"]) < 3:
            assert time.monotonic() - started < 1.8, "the fast deliveries waited for the slow one"
            time.sleep(0.02)
        # The slow attempt itself ends at its deadline, as a failed attempt.
        while not any(r.label == "slow" for r in dispatcher.log.records()):
            assert time.monotonic() - started < 4, "the slow attempt outlived its deadline"
            time.sleep(0.05)
        [slow] = [r for r in dispatcher.log.records() if r.label == "slow"]
        assert slow.state == "retrying"
        assert "ReceiverTimeout" in (slow.error or "")
    finally:
        dispatcher.stop()


def test_stop_completes_while_a_receiver_trickles(
    serve_raw: Callable[[Handler], RawServer],
) -> None:
    server = serve_raw(slow_for_some)
    state = GraphState()
    dispatcher = Dispatcher(state, app_secret=SECRET, timeout=30.0)
    assert dispatcher.subscribe(server.url, TOKEN).verified
    dispatcher.start()
    state.webhooks.schedule("inbound", inbound("slow"), label="slow")
    time.sleep(0.8)  # the attempt is in flight, its deadline far away
    stopping = threading.Thread(target=dispatcher.stop, daemon=True)
    started = time.monotonic()
    stopping.start()
    stopping.join(3)
    assert not stopping.is_alive(), "stop() waited on the trickling receiver"
    assert time.monotonic() - started < 2


class _RaisingTarget:
    """Passes the handshake, then fails every delivery with the receiver's words."""

    url = "http://127.0.0.1:9/hook"

    def send(
        self,
        method: str,
        query: str = "",
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        *,
        source_ip: str | None = None,
    ) -> Exchange:
        if method == "GET":
            challenge = parse_qs(query)["hub.challenge"][0].encode()
            request = Request(method, self.url, (), b"", source_ip)
            return Exchange(request, Response(200, (), challenge), 0.001)
        raise RuntimeError(f"the receiver said {ESCAPES}")

    def close(self) -> None:
        pass


def test_serve_logs_errors_with_escapes_escaped(caplog: pytest.LogCaptureFixture) -> None:
    state = GraphState()
    dispatcher = Dispatcher(state, app_secret=SECRET, target_factory=lambda url: _RaisingTarget())
    assert dispatcher.subscribe(_RaisingTarget.url, TOKEN).verified
    state.webhooks.schedule("inbound", inbound("hello"), label="hello")
    with caplog.at_level(logging.WARNING, logger="fakemeta.serve"):
        dispatcher.run_due()
    lines = [record.getMessage() for record in caplog.records]
    assert any("the receiver said \\x1b[2J\\x1b]0;owned" in line for line in lines), lines
    assert not any(RAW_CONTROL.search(line) for line in lines)
    # The delivery log (JSON for the console) keeps the receiver's words as they were.
    [record] = dispatcher.log.records()
    assert ESCAPES in (record.error or "")


# -- the load generator's reader ------------------------------------------------------


@pytest.mark.parametrize("after_head", [b"5;", b"0\r\n"], ids=["chunk-size-line", "trailers"])
def test_the_load_reader_does_not_buffer_without_end(after_head: bytes) -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + after_head)
    piece = b"a" * 4096
    for _ in range(15):  # 60 KiB: still a line a server may send
        reader.feed(piece)
    with pytest.raises(ProtocolViolation, match="longer than 64 KiB"):
        reader.feed(piece)


# -- compressed answers ---------------------------------------------------------------


def coded(coding: str, body: bytes) -> Handler:
    """200 with `body` (already in `coding`) and `Content-Encoding: coding`;
    keeps the request's head in `heads`."""

    def handle(conn: socket.socket, head: bytes, _body: bytes, stop: threading.Event) -> bool:
        handle.heads.append(head)  # type: ignore[attr-defined]
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
            % (coding.encode(), len(body))
            + body
        )
        return True

    handle.heads = []  # type: ignore[attr-defined]
    return handle


def gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    piece = bytes(1 << 20)
    return b"".join(packer.compress(piece) for _ in range(size >> 20)) + packer.flush()


def traced_post(target: HttpTarget | AsgiTarget) -> tuple[Response, int]:
    """One POST's response and the peak of Python's allocations while it was
    read, after a first POST that warms up the connection (or the loop)."""
    target.send("POST", "", b"{}")
    tracemalloc.start()
    try:
        response = target.send("POST", "", b"{}").response
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, peak


def test_a_gzip_bomb_is_inflated_only_up_to_the_limit(
    serve_raw: Callable[[Handler], RawServer],
) -> None:
    # 256 MiB of zeros in 256 KiB: one network chunk of it inflates to tens of MiB.
    bomb = gzip_of_zeros(256 << 20)
    server = serve_raw(coded("gzip", bomb))
    with HttpTarget(server.url, timeout=5) as target:
        response, peak = traced_post(target)
    print(f"peak Python memory reading a 256 MiB gzip bomb: {peak / 2**20:.1f} MiB")
    assert response.truncated
    assert response.body == bytes(RESPONSE_BODY_LIMIT)
    assert peak < 8 << 20


def raw_deflate(data: bytes) -> bytes:
    """Deflate without zlib's wrapper, as some servers send `Content-Encoding: deflate`."""
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("coding", "pack"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", raw_deflate),
        ("identity", bytes),
    ],
    ids=["gzip", "deflate", "raw-deflate", "identity"],
)
def test_a_compressed_answer_within_the_limit_is_read_whole(
    serve_raw: Callable[[Handler], RawServer], coding: str, pack: Callable[[bytes], bytes]
) -> None:
    answer = b'{"ok": true, "text": "' + b"salam " * 1000 + b'"}'
    with HttpTarget(serve_raw(coded(coding, pack(answer))).url, timeout=5) as target:
        response = target.send("POST", "", b"{}").response
    assert response.body == answer
    assert not response.truncated


def test_a_broken_or_unasked_coding_is_kept_as_it_came(
    serve_raw: Callable[[Handler], RawServer],
) -> None:
    for coding, body in [("gzip", b"\x1f\x8bnot gzip at all"), ("br", b"\x0b\x02\x80hello")]:
        with HttpTarget(serve_raw(coded(coding, body)).url, timeout=5) as target:
            response = target.send("POST", "", b"{}").response
        assert response.status == 200
        assert response.body.endswith(body[-5:])
        assert not response.truncated


def test_the_codings_asked_for_do_not_depend_on_what_is_installed(
    serve_raw: Callable[[Handler], RawServer],
) -> None:
    handler = coded("identity", b"ok")
    with HttpTarget(serve_raw(handler).url, timeout=5) as target:
        target.send("POST", "", b"{}")
    [head] = handler.heads  # type: ignore[attr-defined]
    assert re.search(rb"(?im)^accept-encoding: gzip, deflate\r$", head + b"\r"), head


async def _huge_asgi_app(scope: dict[str, object], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(96):  # 96 MiB, a MiB at a time
        await send({"type": "http.response.body", "body": bytes(1 << 20), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def test_an_asgi_apps_long_body_is_not_held_whole() -> None:
    with target_for(_huge_asgi_app, "/hook", timeout=10) as target:
        response, peak = traced_post(target)
    print(f"peak Python memory for a 96 MiB in-process ASGI answer: {peak / 2**20:.1f} MiB")
    assert response.truncated
    assert len(response.body) == RESPONSE_BODY_LIMIT
    assert peak < 8 << 20


# -- through a proxy from the environment ---------------------------------------------


def test_a_proxy_that_trickles_its_head_is_held_to_the_deadline(
    serve_raw: Callable[[Handler], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A receiver that is not on loopback goes through the environment's proxy; the
    # proxy here is a loopback socket that trickles a byte every 0.1 s (the name
    # below is never resolved: the request goes to the proxy).
    proxy = serve_raw(trickler())
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url.removesuffix("/hook"))
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.delenv("no_proxy", raising=False)
    started = time.monotonic()
    with (
        HttpTarget("http://receiver.example.invalid/hook", timeout=1.0) as target,
        pytest.raises(ReceiverTimeout),
    ):
        target.send("POST", "", b"{}")
    assert time.monotonic() - started < 2.0
