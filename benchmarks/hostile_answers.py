"""Peak memory of reading a hostile answer, against reading an honest one.

A receiver (or a probe) chooses what it answers; what fakemeta reads of it
must stay bounded however it answers. Each case sends one POST with
`HttpTarget` (or calls an in-process ASGI app through `target_for`) and
measures the peak of Python's allocations while the answer is read
(tracemalloc), after a first request that warms the connection and the
loop up:

- baseline: 64 KiB of plain text, exactly what is kept;
- gzip bomb: `Content-Encoding: gzip`, 256 MiB of zeros in 256 KiB;
- ASGI: an in-process app answering 96 MiB, a MiB at a time.

Prints each peak and its ratio to the baseline. Before the bounded reader,
one network chunk of the bomb inflated to tens of MiB, and httpx's ASGI
transport held the whole 96 MiB; the target is a ratio near 1.

    python benchmarks/hostile_answers.py
"""

from __future__ import annotations

import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

from fakemeta.simulator.targets import RESPONSE_BODY_LIMIT, HttpTarget, target_for


def _serve(answer: bytes) -> tuple[str, Callable[[], None]]:
    """A loopback server that answers every request with `answer` (a whole response)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    conn.sendall(answer)
                except OSError:  # the client closed a connection it read enough of
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()

    def close() -> None:
        stop.set()
        server.close()

    return f"http://127.0.0.1:{server.getsockname()[1]}/hook", close


def _response(body: bytes, coding: str | None = None) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
    if coding:
        head += b"Content-Encoding: %s\r\n" % coding.encode()
    return head + b"\r\n" + body


def _gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    piece = bytes(1 << 20)
    return b"".join(packer.compress(piece) for _ in range(size >> 20)) + packer.flush()


async def _huge_asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(96):
        await send({"type": "http.response.body", "body": bytes(1 << 20), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _peak(target: Any) -> tuple[int, bool]:
    target.send("POST", "", b"{}")  # warm up: connection, loop, thread
    tracemalloc.start()
    try:
        response = target.send("POST", "", b"{}").response
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, response.truncated


def main() -> None:
    cases: list[tuple[str, Callable[[], Any], Callable[[], None]]] = []
    for name, answer in (
        ("baseline: 64 KiB plain", _response(b"x" * RESPONSE_BODY_LIMIT)),
        ("gzip bomb: 256 MiB in 256 KiB", _response(_gzip_of_zeros(256 << 20), "gzip")),
    ):
        url, close = _serve(answer)
        cases.append((name, lambda url=url: HttpTarget(url, timeout=10), close))
    cases.append(
        ("ASGI app: 96 MiB", lambda: target_for(_huge_asgi_app, "/hook", timeout=30), lambda: None)
    )
    baseline = None
    for name, make, close in cases:
        with make() as target:
            peak, cut = _peak(target)
        close()
        baseline = baseline or peak
        print(
            f"{name:32} peak {peak / 2**20:8.2f} MiB  x{peak / baseline:6.1f} of baseline"
            f"  {'cut' if cut else 'whole'}"
        )


if __name__ == "__main__":
    main()
