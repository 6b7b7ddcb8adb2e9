"""Receivers that misbehave on purpose, on 127.0.0.1, for the load tests.

`RawServer` speaks just enough HTTP/1.1 over plain sockets to answer a load
run: `answer` answers every request 200, `hang` accepts and never answers,
`answer` with `stop_after=N` answers N requests and then closes its
listening socket and every connection (a receiver that goes away mid-run).
Everything it starts stops when the fixture ends.

`receiver` is the reference receiver the Locust tests deliver to.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from load_helpers import PHONE_NUMBER_ID

if TYPE_CHECKING:
    from fakemeta.reference_receiver.serve import Running

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK"


class RawServer:
    def __init__(self, mode: str = "answer", stop_after: int | None = None) -> None:
        self.mode = mode
        self.stop_after = stop_after
        self.answered = 0
        self.accepted = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._gone = threading.Event()
        self._connections: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def start(self) -> RawServer:
        self._threads[0].start()
        return self

    def wait_for_requests(self, count: int, timeout: float) -> bool:
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                if self.answered + self.accepted * (self.mode == "hang") >= count:
                    return True
                deadline.wait(0.05)
            return False
        finally:
            timer.cancel()

    def _accept(self) -> None:
        while not self._stopped.is_set() and not self._gone.is_set():
            try:
                connection, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.accepted += 1
                self._connections.append(connection)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _serve(self, connection: socket.socket) -> None:
        buffer = b""
        connection.settimeout(0.2)
        while not self._stopped.is_set() and not self._gone.is_set():
            try:
                data = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if self.mode == "hang":
                continue
            buffer += data
            while (end := buffer.find(b"\r\n\r\n")) >= 0:
                head = buffer[:end].lower()
                at = head.find(b"content-length:")
                length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
                if len(buffer) < end + 4 + length:
                    break
                buffer = buffer[end + 4 + length :]
                with self._lock:
                    self.answered += 1
                    done = self.stop_after is not None and self.answered >= self.stop_after
                with contextlib.suppress(OSError):
                    connection.sendall(OK)
                if done:
                    self.go_away()
                    return

    def go_away(self) -> None:
        """Stop listening and drop every connection: connects are refused from now on."""
        self._gone.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                    connection.close()

    def stop(self) -> None:
        self._stopped.set()
        self.go_away()
        for thread in self._threads:
            thread.join(timeout=2)


@pytest.fixture
def raw_server() -> Iterator[type[RawServer]]:
    """Makes `RawServer`s, started; each is stopped when the test ends."""
    started: list[RawServer] = []

    class Started(RawServer):
        def __init__(self, mode: str = "answer", stop_after: int | None = None) -> None:
            super().__init__(mode, stop_after)
            started.append(self)
            self.start()

    yield Started
    for server in started:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[Running]:
    """The reference receiver, not rate limited, for PHONE_NUMBER_ID."""
    # Here, not at the top: the other load tests need no receiver extra.
    from fakemeta.reference_receiver.serve import start_background

    with start_background({"rate_limit": "off", "phone_number_id": PHONE_NUMBER_ID}) as running:
        yield running
