"""Handshake: Meta's verification GET and its verdict."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pytest

from fakemeta.simulator.errors import ReceiverUnreachable
from fakemeta.simulator.handshake import USER_AGENT, handshake, handshake_query
from fakemeta.simulator.targets import AsgiTarget, HttpTarget, WsgiTarget

if TYPE_CHECKING:
    from conftest import LoopbackReceiver, LoopbackRequest

TOKEN = "meatyhamhock"
Answer = Callable[[str], tuple[int, bytes, str]]


def echo(challenge: str) -> tuple[int, bytes, str]:
    return 200, challenge.encode(), "text/plain"


@pytest.fixture
def answer_with(
    loopback_receiver: LoopbackReceiver,
) -> Iterator[Callable[[Answer], HttpTarget]]:
    """Make the loopback receiver answer a right token with `answer(challenge)`, else 403."""
    targets: list[HttpTarget] = []

    def install(answer: Answer) -> HttpTarget:
        def handler(request: LoopbackRequest) -> tuple[int, bytes, dict[str, str]]:
            if request.args.get("hub.verify_token") != TOKEN:
                return 403, b"Forbidden", {"Content-Type": "text/plain"}
            status, body, content_type = answer(request.args.get("hub.challenge", ""))
            return status, body, {"Content-Type": content_type}

        loopback_receiver.handler = handler
        targets.append(HttpTarget(loopback_receiver.url))
        return targets[-1]

    yield install
    for target in targets:
        target.close()


def test_exact_echo_is_verified(
    answer_with: Callable[[Answer], HttpTarget], loopback_receiver: LoopbackReceiver
) -> None:
    result = handshake(answer_with(echo), TOKEN)
    assert result.verified
    assert result
    assert result.reason == ""
    assert result.status == 200
    assert len(result.challenge) == 10
    assert result.challenge.isdigit()
    [request] = loopback_receiver.requests
    assert request.method == "GET"
    assert request.body == b""
    assert request.header("User-Agent") == USER_AGENT
    assert [k for k, _ in parse_qsl(request.query.decode())] == [
        "hub.mode",
        "hub.challenge",
        "hub.verify_token",
    ]
    assert request.args == {
        "hub.mode": "subscribe",
        "hub.challenge": result.challenge,
        "hub.verify_token": TOKEN,
    }


def test_default_challenge_is_seeded_by_rng(answer_with: Callable[[Answer], HttpTarget]) -> None:
    target = answer_with(echo)
    one = handshake(target, TOKEN, rng=random.Random(5)).challenge
    two = handshake(target, TOKEN, rng=random.Random(5)).challenge
    three = handshake(target, TOKEN).challenge
    assert one == two
    assert one.isdigit()
    assert len(three) == 10


@pytest.mark.parametrize(
    "challenge",
    [
        "a b&c=d/é?#+%20🚀",
        "hub.verify_token=meatyhamhock&x=1",
        "x" * 2000,
        "٣٤٥ مرحبا",
        "<script>alert(1)</script>",
    ],
)
def test_challenges_that_need_encoding_arrive_intact(
    answer_with: Callable[[Answer], HttpTarget],
    loopback_receiver: LoopbackReceiver,
    challenge: str,
) -> None:
    result = handshake(answer_with(echo), TOKEN, challenge=challenge)
    assert loopback_receiver.requests[0].args["hub.challenge"] == challenge
    assert loopback_receiver.requests[0].args["hub.verify_token"] == TOKEN
    assert result.verified, result.reason


def test_query_percent_encodes_every_reserved_character() -> None:
    query = handshake_query("subscribe", "a b+c/d", "t&k")
    assert query == "hub.mode=subscribe&hub.challenge=a%20b%2Bc%2Fd&hub.verify_token=t%26k"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda c: (200, (c + "\n").encode(), "text/plain"), "with whitespace around it"),
        (lambda c: (200, f"  {c} ".encode(), "text/plain"), "with whitespace around it"),
        (
            lambda c: (200, json.dumps({"challenge": c}).encode(), "application/json"),
            "wrapped in JSON",
        ),
        (lambda c: (200, json.dumps(c).encode(), "application/json"), "wrapped in JSON"),
        (lambda c: (200, json.dumps([c]).encode(), "application/json"), "wrapped in JSON"),
        (
            lambda c: (200, json.dumps({"hub.challenge": int(c)}).encode(), "application/json"),
            "wrapped in JSON",
        ),
        (lambda c: (200, f"<p>{c}</p>".encode(), "text/html"), "contains the challenge"),
        (lambda c: (200, b"OK", "text/plain"), "body differs"),
        (lambda c: (200, b"", "text/plain"), "body differs"),
        (lambda c: (201, c.encode(), "text/plain"), "status 201, expected 200"),
        (lambda c: (500, b"oops", "text/plain"), "status 500, expected 200"),
    ],
)
def test_anything_but_200_and_the_exact_challenge_is_not_verified(
    answer_with: Callable[[Answer], HttpTarget], answer: Answer, reason: str
) -> None:
    result = handshake(answer_with(answer), TOKEN, challenge="1158201444")
    assert not result.verified
    assert not result
    assert reason in result.reason
    assert "\n" not in result.reason


def test_wrong_token_reason_shows_status_body_and_content_type(
    answer_with: Callable[[Answer], HttpTarget],
) -> None:
    result = handshake(answer_with(echo), "wrong-token", challenge="1158201444")
    assert not result.verified
    assert result.reason == (
        "status 403, expected 200 (body 'Forbidden' (9 bytes), content type text/plain)"
    )


def test_body_differs_reason_shows_both_trimmed(
    answer_with: Callable[[Answer], HttpTarget],
) -> None:
    result = handshake(answer_with(lambda c: (200, b"y" * 500, "text/html")), TOKEN, challenge="7")
    assert result.reason.startswith("body differs: expected '7' (1 bytes), got 'yyyy")
    assert "...' (500 bytes)" not in result.reason  # the ellipsis follows the quote
    assert "... (500 bytes)" in result.reason
    assert "content type text/html" in result.reason
    assert len(result.reason) < 200


def test_missing_token_leaves_the_parameter_out(
    answer_with: Callable[[Answer], HttpTarget], loopback_receiver: LoopbackReceiver
) -> None:
    result = handshake(answer_with(echo), None, challenge="42")
    assert "hub.verify_token" not in loopback_receiver.requests[0].args
    assert not result.verified
    assert result.status == 403
    empty = handshake(answer_with(echo), "", challenge="42")
    assert loopback_receiver.requests[1].args["hub.verify_token"] == ""
    assert not empty.verified


def test_mode_is_sent_as_given(
    answer_with: Callable[[Answer], HttpTarget], loopback_receiver: LoopbackReceiver
) -> None:
    handshake(answer_with(echo), TOKEN, mode="unsubscribe")
    assert loopback_receiver.requests[0].args["hub.mode"] == "unsubscribe"


def test_source_ip_is_used(
    answer_with: Callable[[Answer], HttpTarget], loopback_receiver: LoopbackReceiver
) -> None:
    assert handshake(answer_with(echo), TOKEN, source_ip="127.0.0.42")
    assert loopback_receiver.requests[0].remote_addr == "127.0.0.42"


def test_unreachable_receiver_raises(loopback_closed_url: str) -> None:
    with HttpTarget(loopback_closed_url) as target, pytest.raises(ReceiverUnreachable):
        handshake(target, TOKEN)


# -- in-process --------------------------------------------------------------------


def wsgi_verifier(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    args = dict(parse_qsl(environ["QUERY_STRING"]))
    if args.get("hub.verify_token") == TOKEN and args.get("hub.mode") == "subscribe":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [args["hub.challenge"].encode()]
    start_response("403 Forbidden", [("Content-Type", "text/plain")])
    return [b"no"]


async def asgi_verifier(scope: dict[str, Any], receive: Any, send: Any) -> None:
    args = dict(parse_qsl(scope["query_string"].decode()))
    ok = args.get("hub.verify_token") == TOKEN and args.get("hub.mode") == "subscribe"
    body = args["hub.challenge"].encode() if ok else b"no"
    await send(
        {
            "type": "http.response.start",
            "status": 200 if ok else 403,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_in_process_targets_give_the_same_verdicts() -> None:
    for target in (WsgiTarget(wsgi_verifier, "/hook"), AsgiTarget(asgi_verifier, "/hook")):
        with target:
            assert handshake(target, TOKEN, challenge="é & 🚀").verified
            refused = handshake(target, "nope")
            assert not refused.verified
            assert refused.status == 403
            assert not handshake(target, TOKEN, mode="unsubscribe").verified


def test_an_unreachable_receiver_never_shows_the_verify_token(loopback_closed_url: str) -> None:
    from fakemeta.simulator.errors import ReceiverUnreachable

    with HttpTarget(loopback_closed_url) as target, pytest.raises(ReceiverUnreachable) as error:
        handshake(target, "s3cret-verify-token")
    assert "s3cret-verify-token" not in error.value.one_line()
    assert loopback_closed_url in error.value.one_line()
