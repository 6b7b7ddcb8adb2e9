"""The whole server on loopback: the subscriptions edge, the bot's round trip
through the Graph API, the console routes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import (
    ACCESS_TOKEN,
    APP_SECRET,
    VERIFY_TOKEN,
    BotReceiver,
    client_of,
    serve_settings,
    serving,
    wait_for,
)

from fakemeta.simulator.graph.server import Running
from fakemeta.simulator.graph.state import DEFAULT_PHONE_NUMBER
from fakemeta.simulator.graph.subscriptions import DEFAULT_APP_ID

pytestmark = pytest.mark.timeout(30)

PNID = DEFAULT_PHONE_NUMBER.phone_number_id
CUSTOMER = "966501234567"
SUBSCRIPTIONS = f"/v23.0/{DEFAULT_APP_ID}/subscriptions"
APP_TOKEN = f"{DEFAULT_APP_ID}|{APP_SECRET}"


@pytest.fixture
def receiver() -> Iterator[BotReceiver]:
    with BotReceiver() as bot:
        yield bot


def _serving(**app: Any) -> AbstractContextManager[Running]:
    settings = serve_settings(sent_after=0.0, delivered_after=0.05, read_after=0.1)
    return serving(settings, dispatcher={"timeout": 3.0}, **app)


@pytest.fixture
def running() -> Iterator[Running]:
    with _serving() as server:
        yield server


def _subscribe(client: httpx.Client, url: str, token: str = VERIFY_TOKEN, **kw: Any) -> Any:
    form = {"object": "whatsapp_business_account", "callback_url": url,
            "verify_token": token, "fields": "messages", "access_token": APP_TOKEN}  # fmt: skip
    return client.post(SUBSCRIPTIONS, data=form, **kw)


def test_subscribing_performs_the_handshake(
    client: httpx.Client, running: Running, receiver: BotReceiver
) -> None:
    response = _subscribe(client, receiver.url)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    [handshake] = receiver.handshakes
    assert handshake["hub.verify_token"] == VERIFY_TOKEN
    assert running.app.dispatcher.subscription.verified
    listing = client.get(SUBSCRIPTIONS, headers={"Authorization": f"Bearer {APP_TOKEN}"}).json()
    assert listing == {
        "data": [
            {
                "object": "whatsapp_business_account",
                "callback_url": receiver.url,
                "active": True,
                "fields": [{"name": "messages", "version": "v23.0"}],
            }
        ]
    }


def test_subscribing_with_json_and_the_bot_token(
    client: httpx.Client, receiver: BotReceiver
) -> None:
    response = client.post(
        SUBSCRIPTIONS,
        json={"object": "whatsapp_business_account", "callback_url": receiver.url,
              "verify_token": VERIFY_TOKEN, "fields": ["messages", "message_status"]},
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
    )  # fmt: skip
    assert response.json() == {"success": True}


def test_a_failed_handshake_is_metas_2200_error_and_nothing_is_delivered(
    client: httpx.Client, running: Running, receiver: BotReceiver
) -> None:
    response = _subscribe(client, receiver.url, token="not-the-token")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 2200
    assert "status 403" in error["message"]
    assert error["type"] == "OAuthException"
    assert error["fbtrace_id"]
    client.post("/_fakemeta/inbound", json={"from": CUSTOMER, "text": "hi"})
    pending = client.get("/_fakemeta/deliveries").json()["pending"]
    assert [p["state"] for p in pending] == ["waiting"]
    assert receiver.posts == []
    status = client.get("/_fakemeta/subscription").json()
    assert status["verified"] is False
    assert "not verified" not in status["reason"]
    assert "403" in status["reason"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"access_token": None}, 400, 104),
        ({"access_token": "wrong"}, 401, 190),
        ({"callback_url": None}, 400, 100),
        ({"object": "page"}, 400, 100),
        ({"callback_url": "not a url"}, 400, 100),
    ],
)
def test_subscription_errors(
    client: httpx.Client, receiver: BotReceiver, change: dict[str, Any], status: int, code: int
) -> None:
    form = {"object": "whatsapp_business_account", "callback_url": receiver.url,
            "verify_token": VERIFY_TOKEN, "access_token": APP_TOKEN, **change}  # fmt: skip
    response = client.post(SUBSCRIPTIONS, data={k: v for k, v in form.items() if v is not None})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_wrong_app_id_is_refused(client: httpx.Client, receiver: BotReceiver) -> None:
    response = client.post(
        "/v23.0/42/subscriptions",
        data={"object": "whatsapp_business_account", "callback_url": receiver.url,
              "verify_token": VERIFY_TOKEN, "access_token": APP_TOKEN},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100


def test_the_bots_reply_produces_status_webhooks(
    client: httpx.Client, running: Running, receiver: BotReceiver
) -> None:
    assert _subscribe(client, receiver.url).json() == {"success": True}
    sent = client.post("/_fakemeta/inbound", json={"from": CUSTOMER, "name": "Layla", "text": "hi"})
    inbound_id = sent.json()["messages"][0]["id"]
    wait_for(lambda: receiver.posts, what="the customer's message")
    assert receiver.posts[0].messages()[0]["id"] == inbound_id

    reply = client.post(
        f"/v23.0/{PNID}/messages",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
        json={"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text",
              "text": {"body": "Hello Layla"}, "context": {"message_id": inbound_id}},
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    message_id = reply.json()["messages"][0]["id"]

    def statuses() -> list[str]:
        return [s["status"] for p in receiver.posts for s in p.statuses() if s["id"] == message_id]

    wait_for(lambda: statuses() == ["sent", "delivered", "read"], what="sent, delivered, read")
    assert all(p.signature_ok for p in receiver.posts)

    def notified() -> list[str]:
        found = running.app.state.message(message_id)
        return [] if found is None else list(found["notified"])

    wait_for(lambda: len(notified()) == 3, what="the statuses marked")
    assert notified() == ["sent", "delivered", "read"]
    transcript = client.get(f"/_fakemeta/conversations/{PNID}/{CUSTOMER}").json()["messages"]
    assert [(m["direction"], m["id"]) for m in transcript] == [
        ("inbound", inbound_id), ("outbound", message_id),
    ]  # fmt: skip
    events = client.get("/_fakemeta/events", params={"timeout": 0}).json()["events"]
    outgoing = [e for e in events if e["type"] == "message" and e["data"]["direction"] == "out"]
    assert outgoing[0]["data"]["id"] == message_id


def test_graph_errors_pass_through(client: httpx.Client) -> None:
    response = client.post(f"/v23.0/{PNID}/messages", json={"to": CUSTOMER})
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


def test_console_routes(client: httpx.Client) -> None:
    root = client.get("/")
    assert root.status_code == 302
    assert root.headers["Location"] == "/_fakemeta/console"
    page = client.get("/_fakemeta/console")
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert client.get("/_fakemeta/console/%2e%2e/%2e%2e/server.py").status_code == 404


def test_favicon_is_a_plain_404_not_a_graph_error(client: httpx.Client) -> None:
    answer = client.get("/favicon.ico")
    assert answer.status_code == 404
    assert answer.content == b""


def test_a_placeholder_page_without_the_console(tmp_path: Path) -> None:
    with _serving(console_dir=tmp_path) as server:
        page = httpx.get(server.url + "/_fakemeta/console", timeout=10)
    assert page.status_code == 200
    assert "POST /_fakemeta/inbound" in page.text
    assert server.url in page.text


def test_console_files_are_served_from_the_console_dir(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<title>console</title>", encoding="utf-8")
    (tmp_path / "app.js").write_text("console.log(1)", encoding="utf-8")
    with _serving(console_dir=tmp_path) as server, client_of(server) as c:
        assert c.get("/_fakemeta/console").text == "<title>console</title>"
        script = c.get("/_fakemeta/console/app.js")
        assert script.text == "console.log(1)"
        assert "javascript" in script.headers["Content-Type"]


def test_mark_as_read_is_an_event_for_the_console(client: httpx.Client) -> None:
    pnid = DEFAULT_PHONE_NUMBER.phone_number_id
    answer = client.post(
        f"/v23.0/{pnid}/messages",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
        json={"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.XYZ"},
    )
    assert answer.json() == {"success": True}
    events = client.get("/_fakemeta/events", params={"timeout": 0}).json()["events"]
    reads = [e["data"] for e in events if e["type"] == "status"]
    assert reads == [{"id": "wamid.XYZ", "status": "read", "phone_number_id": pnid}]
