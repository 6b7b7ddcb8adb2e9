"""Loopback fixtures: a real HTTP receiver on 127.0.0.1 in a thread.

Fixture names start with `loopback_` (this conftest is shared with other
simulator tests). The receiver records every request exactly as it arrived
and verifies signatures with `fakemeta.simulator.signing.verify_signature`;
`loopback_cli` runs a `fakemeta` command against it, signed with its secret.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from cli_helpers import Cli, run
from werkzeug.serving import make_server
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from fakemeta.simulator.signing import SIGNATURE_HEADER, verify_signature

LOOPBACK_SECRET = "loopback-app-secret"


@dataclass(frozen=True)
class LoopbackRequest:
    method: str
    path: str
    query: bytes
    args: dict[str, str]
    headers: list[tuple[str, str]]
    body: bytes
    remote_addr: str
    signature_ok: bool

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


Handler = Callable[[LoopbackRequest], tuple[int, bytes, dict[str, str]]]


class LoopbackReceiver:
    """Answers the queued statuses in turn (then `default_status`), or `handler`'s answer."""

    def __init__(self) -> None:
        self.requests: list[LoopbackRequest] = []
        self.statuses: deque[int] = deque()
        self.default_status = 200
        self.handler: Handler | None = None
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.port = self._server.server_port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.url = self.base_url + "/webhook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def respond(self, *statuses: int) -> None:
        self.statuses.extend(statuses)

    def _app(self, environ: dict[str, object], start_response: Callable[..., object]) -> object:
        request = WerkzeugRequest(environ)
        body = request.get_data()
        recorded = LoopbackRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            args=dict(request.args),
            headers=list(request.headers.items()),
            body=body,
            remote_addr=request.remote_addr or "",
            signature_ok=verify_signature(
                body, request.headers.get(SIGNATURE_HEADER), LOOPBACK_SECRET
            ),
        )
        self.requests.append(recorded)
        if self.handler is not None:
            status, content, headers = self.handler(recorded)
        else:
            status = self.statuses.popleft() if self.statuses else self.default_status
            content, headers = b"ok", {"Content-Type": "text/plain"}
        response = WerkzeugResponse(content, status=status, headers=headers)
        return response(environ, start_response)

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def loopback_receiver() -> Iterator[LoopbackReceiver]:
    """A started receiver; POST and GET to `.url`, inspect `.requests`."""
    with LoopbackReceiver() as receiver:
        yield receiver


@pytest.fixture
def loopback_secret() -> str:
    """The app secret `loopback_receiver` verifies signatures with."""
    return LOOPBACK_SECRET


@pytest.fixture
def loopback_cli(capsys: pytest.CaptureFixture[str], loopback_receiver: LoopbackReceiver) -> Cli:
    """`loopback_cli(COMMAND, *args)`: `fakemeta COMMAND URL *args --app-secret
    SECRET` in-process, to `loopback_receiver` with its secret; returns the
    exit status, stdout and stderr."""

    def cli(command: str, *args: str) -> tuple[int, str, str]:
        return run(capsys, command, loopback_receiver.url, *args, "--app-secret", LOOPBACK_SECRET)

    return cli


@pytest.fixture
def loopback_closed_url() -> str:
    """A loopback URL on a port where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhook"
