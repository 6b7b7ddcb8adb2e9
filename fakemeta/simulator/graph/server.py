"""The `fakemeta serve` server: one WSGI app over the Graph state.

Routes, as moto lays out its standalone server:

- `/_fakemeta/console` (and `/`): the web console page, from
  `fakemeta/simulator/graph/console/` when present, else a placeholder;
- `/_fakemeta/...`: the control API (`control.py`);
- `/v{N}/{app-id}/subscriptions`: the app's webhook subscription
  (`subscriptions.py`), which performs the verification handshake;
- everything else: the fake Graph API (`api.handle`), which the bot calls.

Before routing, `_guard` keeps other web pages away from the console and
the control API (Host allow-list, same-origin state changes, JSON bodies,
CSP), and a body over `max_body_bytes` is refused 413 without being read,
in Meta's error shape on Graph routes.

`start()` runs it on a background thread (tests, the pytest fixture);
`serve()` runs it in the foreground until SIGINT or SIGTERM. Both run the
dispatcher thread that delivers the webhooks.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import mimetypes
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.security import safe_join
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.graph import api, subscriptions
from fakemeta.simulator.graph._guard import CONSOLE_HEADERS, SECURITY_HEADERS, Guard, too_large
from fakemeta.simulator.graph.control import PREFIX, ControlApi, json_response
from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.graph.state import GraphState
from fakemeta.simulator.graph.subscriptions import DEFAULT_APP_ID
from fakemeta.simulator.graph.validation import GraphError

__all__ = [
    "CONSOLE_DIR",
    "DEFAULT_APP_ID",
    "MAX_BODY_BYTES",
    "FakeMeta",
    "Running",
    "serve",
    "start",
]

log = logging.getLogger("fakemeta.serve")

CONSOLE_DIR = Path(__file__).resolve().parent / "console"
CONSOLE = PREFIX + "/console"

#: The largest request body read: Meta's largest media, a 100 MB document,
#: base64-encoded in a control API message (4/3 of it), with room for the JSON.
MAX_BODY_BYTES = 100 * 1024 * 1024 * 4 // 3 + 1024 * 1024

WsgiEnviron = dict[str, Any]
StartResponse = Callable[..., Any]


class FakeMeta:
    """The WSGI app; `state` and `dispatcher` are there for tests to read."""

    def __init__(
        self,
        state: GraphState,
        dispatcher: Dispatcher,
        *,
        app_id: str = DEFAULT_APP_ID,
        console_dir: Path = CONSOLE_DIR,
        allowed_hosts: Sequence[str] = (),
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if max_body_bytes < 1:
            raise ValueError(f"Expected max_body_bytes >= 1 but got {max_body_bytes!r}")
        self.state = state
        self.dispatcher = dispatcher
        self.app_id = app_id
        self.console_dir = console_dir
        self.allowed_hosts = tuple(allowed_hosts)
        self.max_body_bytes = max_body_bytes
        self.guard = Guard("127.0.0.1", self.allowed_hosts)  # `start` adds its --host
        self.base_url = ""  # set once the server knows its address
        self.control = ControlApi(state, dispatcher, account_for=self.account_for, info=self.info)

    def account_for(self, phone_number_id: str | None) -> Account:
        numbers = self.state.settings.phone_numbers
        if phone_number_id is None:
            return next(iter(numbers.values())).account
        return numbers[phone_number_id].account

    def info(self) -> dict[str, Any]:
        return {
            "graph_api": self.base_url,
            "app_id": self.app_id,
            "era": self.state.era.name,
            "phone_numbers": [
                {
                    "phone_number_id": n.phone_number_id,
                    "display_phone_number": n.display_phone_number,
                    "waba_id": n.waba_id,
                }
                for n in self.state.settings.phone_numbers.values()
            ],
            "console": self.base_url + CONSOLE,
            "subscription": self.dispatcher.subscription.to_json(),
            "limits": self.limits(),
        }

    def limits(self) -> dict[str, Any]:
        """The memory bounds and what they have evicted so far."""
        return {
            "max_body_bytes": self.max_body_bytes,
            **self.state.limits(),
            "max_deliveries": self.dispatcher.log.limit,
            "max_events": self.dispatcher.events.limit,
            "evicted": {
                **self.state.evicted(),
                "deliveries": self.dispatcher.log.evicted,
                "events": self.dispatcher.events.evicted,
            },
        }

    def __call__(self, environ: WsgiEnviron, start_response: StartResponse) -> Iterable[bytes]:
        # Not kept in the environ (werkzeug's default), which the handler
        # holds until the next request: with it, a 20 MB body outlived its request.
        request = Request(environ, populate_request=False)
        # A declared Content-Length over the limit is refused unread (`route`);
        # a chunked body is read up to one byte past it.
        request.max_content_length = self.max_body_bytes + 1
        try:
            response = self.route(request)
        except RequestEntityTooLarge:
            response = self._too_large(request)
        except Exception:  # a bug here must not take the bot's request down with a traceback
            log.exception("fakemeta: error handling %r %r", request.method, request.path)
            if _is_control(request.path):
                body = {"error": "fakemeta internal error; see the server log"}
                response = json_response(body, 500)
            else:
                result = api.refuse(request.path, GraphError(131000, details="see the server log"))
                response = Response(result.body, status=result.status, headers=result.headers)
        return response(environ, start_response)

    def route(self, request: Request) -> Response:
        path = request.path
        if _is_control(path):
            refused = self.guard.refusal(request)
            if refused is not None:
                status, reason = refused
                return json_response({"error": reason}, status, SECURITY_HEADERS)
        if too_large(request, self.max_body_bytes):
            return self._too_large(request)
        # werkzeug stops a chunked body at the limit without a word: one byte
        # past it means there was more.
        chunked = request.content_length is None and request.environ.get("wsgi.input_terminated")
        if chunked and len(request.get_data(cache=True)) > self.max_body_bytes:
            return self._too_large(request)
        if path in ("/", CONSOLE) or path.startswith(CONSOLE + "/"):
            response = self.console(request)
            response.headers.update(CONSOLE_HEADERS)
            return response
        if path == PREFIX or path.startswith(PREFIX + "/"):
            response = self.control(request)
            response.headers.update(SECURITY_HEADERS)
            return response
        if path == "/favicon.ico":  # browsers ask; it is no Graph API object
            return Response(status=404)
        match = subscriptions.PATH.match(path)
        if match:
            tokens = {
                *self.state.settings.access_tokens,
                f"{self.app_id}|{self.dispatcher.app_secret}",
            }
            return subscriptions.handle(
                request,
                self.dispatcher,
                version=match["version"],
                app_id=match["app_id"],
                expected_app_id=self.app_id,
                tokens=tokens,
            )
        return self.graph(request)

    def _too_large(self, request: Request) -> Response:
        """413, unread: `Connection: close`, as the rest of the body is not read."""
        size = request.content_length
        what = "a chunked body" if size is None else f"{size} bytes"
        why = f"the request body is {what}; this server reads at most {self.max_body_bytes}"
        if _is_control(request.path):
            response = json_response({"error": why + " (--max-body-bytes)"}, 413)
        else:
            result = api.refuse(request.path, GraphError(100, details=why, http_status=413))
            response = Response(result.body, status=result.status, headers=result.headers)
        if request.headers.get("Connection", "").lower() != "close":  # else werkzeug says it
            response.headers["Connection"] = "close"
        return response

    def graph(self, request: Request) -> Response:
        result = api.handle(
            self.state,
            request.method,
            request.path,
            request.query_string.decode("latin-1"),
            dict(request.headers.items()),
            request.get_data(),
            base_url=self.base_url or None,
        )
        response = Response(result.body, status=result.status, headers=result.headers)
        if request.method == "POST" and request.path.endswith("/messages"):
            self._published_sent(request.path, result.status, result.body, request.get_data())
        self.dispatcher.wake()  # a send may have queued status webhooks due now
        return response

    def console(self, request: Request) -> Response:
        if request.path == "/":
            return Response(status=302, headers={"Location": CONSOLE})
        name = request.path[len(CONSOLE) :].lstrip("/") or "index.html"
        found = safe_join(str(self.console_dir), name)
        if found is not None and Path(found).is_file():
            mime = mimetypes.guess_type(found)[0] or "application/octet-stream"
            return Response(Path(found).read_bytes(), mimetype=mime)
        if name != "index.html":
            return json_response({"error": f"no console file {name!r}"}, 404)
        return Response(_placeholder(self.info()), mimetype="text/html")

    def _published_sent(self, path: str, status: int, body: bytes | str, sent: bytes) -> None:
        """Tell console readers the bot sent a message, or marked one read (the
        events feed), so the chat and the customer's ticks change at once."""
        if status != 200:
            return
        phone_number_id = path.rstrip("/").split("/")[-2]
        try:
            data = json.loads(body)
            if data.get("success") is True:
                request = json.loads(sent)
                if request.get("status") != "read":
                    return
                event, fields = "status", {"id": request["message_id"], "status": "read"}
            else:
                event = "message"
                message_id = data["messages"][0]["id"]
                # A send to a user id answers without `wa_id`: the record
                # knows the number, if the server does, and the user id.
                record = self.state.message(message_id) or {}
                fields = {
                    "direction": "out",
                    "wa_id": record.get("wa_id", data["contacts"][0].get("wa_id")),
                    "id": message_id,
                }
                if record.get("user_id") is not None:
                    fields["user_id"] = record["user_id"]
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return
        self.dispatcher.events.publish(
            event, {**fields, "phone_number_id": phone_number_id}, at=self.state.clock.now()
        )


_TRIM_AFTER = 1024 * 1024  # bytes of request body


def _trim_heap() -> None:
    """Give freed C heap back to the system (glibc's `malloc_trim`; elsewhere nothing)."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def _is_control(path: str) -> bool:
    """The console and the control API: what the guard protects."""
    return path == "/" or path == PREFIX or path.startswith(PREFIX + "/")


class _Handler(WSGIRequestHandler):
    """Request lines go to the `fakemeta.serve.http` logger; long-polls are not logged.

    After a large body, the C heap is trimmed: glibc keeps freed 20 MB
    buffers in its arenas, and 25 uploads of 20 MB held 450 MB that no
    Python object used any more.
    """

    def handle_one_request(self) -> None:
        super().handle_one_request()
        headers = getattr(self, "headers", None)
        length = headers.get("Content-Length", "") if headers is not None else ""
        if length.isdigit() and int(length) >= _TRIM_AFTER:
            _trim_heap()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.path.startswith(PREFIX + "/events"):
            return
        logging.getLogger("fakemeta.serve.http").info(
            '"%s %s" %s', self.command, self.path, getattr(code, "value", code)
        )

    def log(self, type: str, message: str, *args: Any) -> None:
        logging.getLogger("fakemeta.serve.http").debug(message, *args)


@dataclass
class Running:
    """A started server: its base `url`, the app, and how to stop it."""

    url: str
    app: FakeMeta
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.app.dispatcher.stop()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; `OSError` (port in use, bad host) is the caller's to report."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def start(app: FakeMeta, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Serve `app` on a background thread; port 0 picks a free one."""
    app.guard = Guard(host, app.allowed_hosts)
    sock = bind(host, port)
    try:
        server = make_server(host, port, app, threaded=True, request_handler=_Handler,
                             fd=sock.fileno())  # fmt: skip
    finally:
        sock.close()  # the server holds its own duplicate of the descriptor
    shown = f"[{host}]" if ":" in host else host
    app.base_url = f"http://{shown}:{server.port}"
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="fakemeta-http",
        daemon=True,
    )
    thread.start()
    app.dispatcher.start()
    return Running(app.base_url, app, server, thread)


def serve(
    app: FakeMeta,
    host: str,
    port: int,
    *,
    on_ready: Callable[[Running], None] = lambda running: None,
) -> None:
    """Serve until SIGINT or SIGTERM, then stop accepting, stop the dispatcher, return."""
    stop = threading.Event()
    with _signals(lambda: stop.set()):
        running = start(app, host, port)
        try:
            on_ready(running)
            while not stop.wait(0.5):
                pass
        finally:
            running.stop()


@contextlib.contextmanager
def _signals(handler: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call `handler` instead of raising, for as long as the block runs."""
    previous = {
        sig: signal.signal(sig, lambda signum, frame: handler())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _placeholder(info: dict[str, Any]) -> str:
    routes = "".join(f"<li><code>{r}</code></li>" for r in (
        "POST /_fakemeta/inbound", "GET /_fakemeta/deliveries", "GET /_fakemeta/subscription",
        "POST /_fakemeta/subscription/verify", "GET /_fakemeta/conversations",
        "GET /_fakemeta/events?after=0", "POST /_fakemeta/faults", "POST /_fakemeta/clock",
        "POST /_fakemeta/reset",
    ))  # fmt: skip
    return (
        "<!doctype html><meta charset=utf-8><title>fakemeta</title>"
        "<h1>fakemeta serve</h1>"
        f"<p>Graph API base URL: <code>{info['graph_api']}</code></p>"
        "<p>The web console is not installed; the control API is at "
        f"<a href='{PREFIX}/'>{PREFIX}/</a>:</p><ul>{routes}</ul>"
    )
