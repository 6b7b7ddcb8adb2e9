"""Shared by the fake Graph API tests: a clock that stands still, a state on
it, and `call()` for requests straight into `api.handle`."""

from __future__ import annotations

import json
from typing import Any

from fakemeta.simulator.clock import OffsetClock
from fakemeta.simulator.graph.api import GraphResponse, handle
from fakemeta.simulator.graph.state import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_PHONE_NUMBER,
    GraphSettings,
    GraphState,
)

TOKEN = DEFAULT_ACCESS_TOKEN
PHONE = DEFAULT_PHONE_NUMBER
PNID = PHONE.phone_number_id
USER = "16505551234"
START = 1_750_000_000.0


class FrozenClock(OffsetClock):
    """An `OffsetClock` whose time moves only by `advance`."""

    def __init__(self, start: float = START) -> None:
        super().__init__()
        self._start = start

    def now(self) -> float:
        return self._start + self.offset


def make_state(**settings: Any) -> GraphState:
    return GraphState(GraphSettings(**settings), clock=FrozenClock())


def call(
    state: GraphState,
    method: str,
    path: str,
    payload: Any = None,
    *,
    token: str | None = TOKEN,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> GraphResponse:
    sent_headers = {"Host": "fakemeta.test", **(headers or {})}
    if token is not None:
        sent_headers["Authorization"] = f"Bearer {token}"
    if body is None:
        body = b"" if payload is None else json.dumps(payload).encode()
        sent_headers.setdefault("Content-Type", "application/json")
    return handle(state, method, path, query, sent_headers, body)


def send(state: GraphState, payload: dict[str, Any], **kwargs: Any) -> GraphResponse:
    return call(state, "POST", f"/v23.0/{PNID}/messages", payload, **kwargs)


def text(body: str = "hello", to: str = USER, **extra: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": {"body": body},
        **extra,
    }


def template(name: str = "order_update", to: str = USER) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": {"name": name, "language": {"code": "en_US"}},
    }


def error_of(response: GraphResponse) -> dict[str, Any]:
    """The `error` object, after checking Meta's error shape."""
    payload = response.json()
    assert list(payload) == ["error"]
    error = payload["error"]
    assert isinstance(error, dict)
    keys = [k for k in ("message", "type", "code", "error_subcode", "error_data") if k in error]
    assert list(error) == [*keys, "fbtrace_id"]
    assert isinstance(error["code"], int)
    assert error["fbtrace_id"].startswith("A")
    assert len(error["fbtrace_id"]) == 23
    if "error_data" in error:
        assert list(error["error_data"]) == ["messaging_product", "details"]
    return error
