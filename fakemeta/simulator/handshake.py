"""The verification handshake, as Meta performs it before sending any POST.

Meta's side of the subscription step: `GET <callback URL>?hub.mode=subscribe
&hub.challenge=<opaque, usually 10 digits>&hub.verify_token=<token>` through
the same targets as deliveries. The callback is verified only when it
answers `200` with the challenge, byte for byte, as the whole body; the
result says why not otherwise.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fakemeta.simulator import ids
from fakemeta.simulator.targets import Exchange, Target

__all__ = ["USER_AGENT", "HandshakeResult", "handshake", "handshake_query"]

# What Meta's verification GET carries (the POSTs say `facebookexternalua`).
USER_AGENT = "facebookplatform/1.0 (+http://developers.facebook.com)"

_SHOWN = 60  # characters of a body shown in a reason


@dataclass(frozen=True)
class HandshakeResult:
    """The verdict on one handshake; `reason` is empty when `verified`."""

    verified: bool
    reason: str
    challenge: str
    verify_token: str | None
    mode: str
    exchange: Exchange

    @property
    def status(self) -> int:
        return self.exchange.status

    def __bool__(self) -> bool:
        return self.verified


def handshake_query(mode: str, challenge: str, verify_token: str | None) -> str:
    """The query string in Meta's order; every reserved character percent-encoded.

    A `verify_token` of None leaves `hub.verify_token` out (a missing token).
    """
    fields = [("hub.mode", mode), ("hub.challenge", challenge)]
    if verify_token is not None:
        fields.append(("hub.verify_token", verify_token))
    return urlencode(fields, quote_via=quote, safe="")


def handshake(
    target: Target,
    verify_token: str | None,
    *,
    challenge: str | None = None,
    mode: str = "subscribe",
    rng: random.Random | None = None,
    source_ip: str | None = None,
) -> HandshakeResult:
    """Send the verification GET and judge the answer.

    `challenge` defaults to 10 random digits, as Meta sends; any string
    works, including ones that need URL-encoding. `verify_token=None` sends
    no `hub.verify_token` at all. Verified only when the
    status is 200 and the body is exactly the challenge's UTF-8 bytes.
    Transport failures raise the `fakemeta.simulator.errors` they are.
    """
    if challenge is None:
        challenge = ids.digits(10, rng)
    exchange = target.send(
        "GET",
        handshake_query(mode, challenge, verify_token),
        headers=(("User-Agent", USER_AGENT), ("Accept", "*/*")),
        source_ip=source_ip,
    )
    reason = _reason(exchange, challenge)
    return HandshakeResult(
        verified=not reason,
        reason=reason,
        challenge=challenge,
        verify_token=verify_token,
        mode=mode,
        exchange=exchange,
    )


def _reason(exchange: Exchange, challenge: str) -> str:
    response = exchange.response
    expected = challenge.encode("utf-8")
    if response.status != 200:
        return (
            f"status {response.status}, expected 200 (body {_show(response.body)},"
            f" content type {response.content_type or 'none'})"
        )
    if response.body == expected:
        return ""
    how = "body differs"
    if response.body.strip() == expected:
        how = "body is the challenge with whitespace around it"
    elif _json_wraps(response.body, challenge):
        how = "body is the challenge wrapped in JSON"
    elif expected in response.body:
        how = "body contains the challenge among other text"
    return (
        f"{how}: expected {_show(expected)}, got {_show(response.body)}"
        f" (content type {response.content_type or 'none'})"
    )


def _json_wraps(body: bytes, challenge: str) -> bool:
    try:
        value = json.loads(body)
    except ValueError:
        return False
    if isinstance(value, dict):
        return challenge in {str(v) for v in value.values()}
    return str(value) == challenge or value == [challenge]


def _show(body: bytes) -> str:
    """A body for a one-line reason: repr of its text, trimmed, with its length."""
    text = body.decode("utf-8", errors="replace")
    shown = repr(text[:_SHOWN]) + ("..." if len(text) > _SHOWN else "")
    return f"{shown} ({len(body)} bytes)"
