"""The fake Graph API for httpx, in-process: a respx router over `api.handle`.

Code under test keeps calling `https://graph.facebook.com/v23.0/...` (any
scheme or port, and Meta's media CDN host `lookaside.fbsbx.com`); the router
answers from a `GraphState` shared with the test, so the test can open
windows (`mock.state.record_inbound(...)`), move the clock, read the queued
status webhooks and assert on what was sent:

    with GraphMock() as graph:
        graph.state.record_inbound(PHONE_ID, "16505551234")
        my_bot.reply("16505551234", "hi")       # uses httpx
        assert graph.last_message()["content"] == {"body": "hi"}

Needs `respx` (the `pytest` extra: `pip install 'fakemeta[pytest]'`); the
in-process `fakemeta_graph` fixture imports this module, nothing else does.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Final

import httpx

try:
    import respx
except ImportError as error:
    raise ImportError(
        "the in-process fake Graph API (fakemeta_graph, GraphMock) needs respx: "
        "pip install 'fakemeta[pytest]'"
    ) from error

from fakemeta.simulator.graph.api import DEFAULT_MEDIA_BASE, handle
from fakemeta.simulator.graph.state import GraphSettings, GraphState

__all__ = ["GRAPH_HOSTS", "GraphMock"]

#: Hosts routed into the fake: the Graph API and Meta's media CDN.
GRAPH_HOSTS: Final = ("graph.facebook.com", "lookaside.fbsbx.com")


class GraphMock:
    """A respx router answering Graph API calls from `state`.

    Use as a context manager, or `start()` / `stop()`. Requests to other
    hosts fail (respx's `AllMockedAssertionError`) unless `pass_through=True`
    lets them reach the network.
    """

    def __init__(
        self,
        state: GraphState | None = None,
        *,
        settings: GraphSettings | None = None,
        hosts: Sequence[str] = GRAPH_HOSTS,
        pass_through: bool = False,
    ) -> None:
        if state is not None and settings is not None:
            raise ValueError("Expected state= or settings=, not both")
        self.state = state if state is not None else GraphState(settings)
        self.router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
        for host in hosts:
            self.router.route(host=host).mock(side_effect=self._respond)
        if pass_through:
            self.router.route().pass_through()

    def _respond(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        answer = handle(
            self.state,
            request.method,
            url.path,
            url.query.decode("utf-8", errors="replace"),
            dict(request.headers),
            request.read(),
            base_url=self.state.settings.media_base_url or DEFAULT_MEDIA_BASE,
        )
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> GraphMock:
        self.router.start()
        return self

    def stop(self) -> None:
        """Unpatch httpx; routes and the call record stay, so it can restart
        and the test can still assert on `calls`."""
        self.router.stop(clear=False, reset=False)

    def __enter__(self) -> GraphMock:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- assertions -------------------------------------------------------------

    @property
    def calls(self) -> Any:
        """respx's record of every request the router answered."""
        return self.router.calls

    def sent_messages(
        self, to: str | None = None, *, phone_number_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Accepted messages, oldest first (see `GraphState.sent_messages`)."""
        return self.state.sent_messages(phone_number_id=phone_number_id, to=to)

    def last_message(self, to: str | None = None) -> dict[str, Any]:
        """The latest accepted message (to `to`); `AssertionError` if none."""
        sent = self.sent_messages(to)
        if not sent:
            who = "" if to is None else f" to {to!r}"
            raise AssertionError(f"Expected a message sent{who} but none was accepted")
        return sent[-1]
