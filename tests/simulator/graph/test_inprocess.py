"""InProcessGraph: the fake Graph API inside a host's tests, webhooks to the app in-process."""

from __future__ import annotations

import httpx
import pytest
from bot_app import PHONE_NUMBER_ID, SECRET, TOKEN, VERIFY_TOKEN, make_bot

from fakemeta.simulator.graph.inprocess import InProcessGraph, SubscriptionFailed, WebhookRefused


def _graph(app: object) -> InProcessGraph:
    return InProcessGraph(
        app,  # type: ignore[arg-type]
        path="/webhook/",
        app_secret=SECRET,
        verify_token=VERIFY_TOKEN,
        access_token=TOKEN,
        phone_number_id=PHONE_NUMBER_ID,
    )


def test_customer_message_reply_and_statuses_round_trip() -> None:
    app, seen = make_bot()
    with _graph(app) as graph:
        attempts = graph.customer_says("مرحبا 👋", from_="966501234567")
        assert [a.response_status for a in attempts] == [200]
        assert seen["messages"][0]["text"]["body"] == "مرحبا 👋"
        reply = graph.last_message(to="966501234567")
        assert reply["type"] == "text"
        assert reply["request"]["text"]["body"] == "you said: مرحبا 👋"
        assert reply["status"] == "accepted"
        graph.deliver()
        statuses = [s["status"] for s in seen["statuses"] if s["id"] == reply["id"]]
        assert statuses == ["sent", "delivered", "read"]
        assert seen["unsigned"] == 0
        assert all(a.response_status == 200 for a in graph.deliveries)
        assert all(a.state == "delivered" for a in graph.deliveries)


def test_the_app_gets_metas_errors_for_a_wrong_token() -> None:
    app, seen = make_bot(token="not-the-token")
    with _graph(app) as graph:
        graph.customer_says("hi")
        assert graph.sent_messages() == []
        (error,) = seen["errors"]
        assert error["error"]["code"] == 190
        assert error["error"]["type"] == "OAuthException"


def test_outside_the_window_a_free_form_message_fails_with_131047() -> None:
    app, seen = make_bot()
    with _graph(app) as graph:
        graph.customer_says("hi", from_="15550001111")
        graph.deliver()
        graph.state.clock.advance(25 * 3600)  # the customer service window closes
        seen["statuses"].clear()
        # The bot writes first, a day later: Meta accepts, then reports failure.
        answer = httpx.post(
            f"https://graph.facebook.com/v23.0/{PHONE_NUMBER_ID}/messages",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"messaging_product": "whatsapp", "to": "15550001111", "type": "text",
                  "text": {"body": "we miss you"}},
        )  # fmt: skip
        assert answer.status_code == 200
        message_id = answer.json()["messages"][0]["id"]
        graph.deliver()
        (failed,) = [s for s in seen["statuses"] if s["id"] == message_id]
        assert failed["status"] == "failed"
        assert failed["errors"][0]["code"] == 131047


def test_an_app_failing_the_handshake_gets_nothing() -> None:
    app, _ = make_bot(handshake=False)
    with pytest.raises(SubscriptionFailed, match="did not pass the verification handshake"):
        _graph(app).start()


def test_customer_says_fails_at_the_call_when_the_app_answers_401() -> None:
    app, seen = make_bot()
    graph = InProcessGraph(
        app,
        path="/webhook/",
        app_secret="not-the-apps-secret",  # the app refuses every signature
        verify_token=VERIFY_TOKEN,
        access_token=TOKEN,
        phone_number_id=PHONE_NUMBER_ID,
    )
    with graph, pytest.raises(WebhookRefused) as refused:
        graph.customer_says("hi")
    assert isinstance(refused.value, AssertionError)  # a test failure, not an error
    message = str(refused.value)
    assert "answered the customer message with 401, not 200" in message
    assert "'bad signature'" in message  # the app's body says why
    assert seen["unsigned"] >= 1  # and Meta's immediate retry


def test_customer_says_check_false_returns_the_refused_attempt() -> None:
    app, _ = make_bot()
    graph = InProcessGraph(app, path="/webhook/", app_secret="not-the-apps-secret",
                           verify_token=VERIFY_TOKEN, access_token=TOKEN)  # fmt: skip
    with graph:
        attempts = graph.customer_says("hi", check=False)
        assert attempts
        assert {a.response_status for a in attempts} == {401}
