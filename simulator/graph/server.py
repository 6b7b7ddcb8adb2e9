"""The `fakemeta serve` server: one WSGI app over the Graph state.

Routes, as moto lays out its standalone server:

- `/_fakemeta/console` (and `/`): the web console page, from
  `simulator/graph/console/` when present, else a placeholder;
- `/_fakemeta/...`: the control API (`control.py`);
- `/v{N}/{app-id}/subscriptions`: the app's webhook subscription
  (`subscriptions.py`), which performs the verification handshake;
- everything else: the fake Graph API (`api.handle`), which the bot calls.

`start()` runs it on a background thread (tests, the pytest fixture);
`serve()` runs it in the foreground until SIGINT or SIGTERM. Both run the
dispatcher thread that delivers the webhooks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mimetypes
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.security import safe_join
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from simulator.envelopes import Account
from simulator.graph import api, subscriptions
from simulator.graph.control import PREFIX, ControlApi, json_response
from simulator.graph.dispatch import Dispatcher
from simulator.graph.state import GraphState
from simulator.graph.subscriptions import DEFAULT_APP_ID

__all__ = ["CONSOLE_DIR", "DEFAULT_APP_ID", "FakeMeta", "Running", "serve", "start"]

log = logging.getLogger("fakemeta.serve")

CONSOLE_DIR = Path(__file__).resolve().parent / "console"
CONSOLE = PREFIX + "/console"

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
    ) -> None:
        self.state = state
        self.dispatcher = dispatcher
        self.app_id = app_id
        self.console_dir = console_dir
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
        }

    def __call__(self, environ: WsgiEnviron, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.route(request)
        except Exception:  # a bug here must not take the bot's request down with a traceback
            log.exception("fakemeta: error handling %s %s", request.method, request.path)
            response = json_response({"error": "fakemeta internal error; see the server log"}, 500)
        return response(environ, start_response)

    def route(self, request: Request) -> Response:
        path = request.path
        if path in ("/", CONSOLE) or path.startswith(CONSOLE + "/"):
            return self.console(request)
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return self.control(request)
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


class _Handler(WSGIRequestHandler):
    """Request lines go to the `fakemeta.serve.http` logger; long-polls are not logged."""

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
