"""Shared by the `fakemeta serve` tests: the server on loopback, a bot's
webhook receiver on loopback, and a bounded wait.

`serving` starts the server's app (the Graph API taking ACCESS_TOKEN,
webhooks signed with APP_SECRET) on a free port and stops it on leaving;
`client_of` is an HTTP client of it.

`BotReceiver` answers the verification handshake like a correct receiver
(200 with the challenge when the token matches, else 403), verifies every
POST's signature with `fakemeta.simulator.signing.verify_signature` and records it
exactly as it arrived; `statuses` queues the answers to the next POSTs.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.graph.server import FakeMeta, Running, start
from fakemeta.simulator.graph.state import GraphSettings, GraphState
from fakemeta.simulator.signing import SIGNATURE_HEADER, verify_signature

APP_SECRET = "serve-test-app-secret"
VERIFY_TOKEN = "serve-test-verify-token"
ACCESS_TOKEN = "serve-test-access-token"

T = TypeVar("T")


def serve_settings(**options: Any) -> GraphSettings:
    """`GraphSettings` taking ACCESS_TOKEN, with `options`."""
    return GraphSettings(access_tokens=frozenset({ACCESS_TOKEN}), **options)


@contextmanager
def serving(
    settings: GraphSettings | None = None,
    *,
    dispatcher: Mapping[str, Any] | None = None,
    **app: Any,
) -> Iterator[Running]:
    """The server started on loopback with `settings` (`serve_settings()` when
    None), its `Dispatcher` signing with APP_SECRET and given `dispatcher`
    options, its `FakeMeta` given `app` options; stopped on leaving."""
    state = GraphState(serve_settings() if settings is None else settings)
    dispatch = Dispatcher(state, app_secret=APP_SECRET, **(dispatcher or {}))
    server = start(FakeMeta(state, dispatch, **app))
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def client_of(running: Running) -> Iterator[httpx.Client]:
    """An HTTP client of `running` (its base URL, a 10 s timeout)."""
    with httpx.Client(base_url=running.url, timeout=10) as client:
        yield client


@dataclass(frozen=True)
class Posted:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def messages(self) -> list[dict[str, Any]]:
        return [
            m
            for e in self.json["entry"]
            for c in e["changes"]
            for m in c["value"].get("messages", [])
        ]

    def statuses(self) -> list[dict[str, Any]]:
        return [
            s
            for e in self.json["entry"]
            for c in e["changes"]
            for s in c["value"].get("statuses", [])
        ]


class BotReceiver:
    """A webhook receiver at `.url` recording `.posts` and `.handshakes`."""

    def __init__(self, verify_token: str = VERIFY_TOKEN, app_secret: str = APP_SECRET) -> None:
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.posts: list[Posted] = []
        self.handshakes: list[dict[str, str]] = []
        self.statuses: deque[int] = deque()
        self.default_status = 200
        self.lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = (
            f"http://127.0.0.1:{self._server.server_port}/api/integrations/webhooks/whatsapp/"
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.method == "GET":
            self.handshakes.append(dict(request.args))
            ok = (
                request.args.get("hub.mode") == "subscribe"
                and request.args.get("hub.verify_token") == self.verify_token
            )
            challenge = request.args.get("hub.challenge", "")
            response = Response(challenge if ok else "Forbidden", 200 if ok else 403,
                                mimetype="text/plain")  # fmt: skip
            return response(environ, start_response)
        body = request.get_data()
        posted = Posted(
            dict(request.headers.items()),
            body,
            verify_signature(body, request.headers.get(SIGNATURE_HEADER), self.app_secret),
        )
        with self.lock:
            self.posts.append(posted)
            status = self.statuses.popleft() if self.statuses else self.default_status
        return Response("EVENT_RECEIVED", status, mimetype="text/plain")(environ, start_response)

    def __enter__(self) -> BotReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_for(predicate: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
