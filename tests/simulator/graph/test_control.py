"""The control API over real HTTP: a whole server on loopback and a receiver."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from serve_helpers import ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN, BotReceiver, wait_for

from fakemeta.simulator.encoding import encode
from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.graph.server import FakeMeta, Running, start
from fakemeta.simulator.graph.state import DEFAULT_PHONE_NUMBER, GraphSettings, GraphState

pytestmark = pytest.mark.timeout(30)

PNID = DEFAULT_PHONE_NUMBER.phone_number_id
CUSTOMER = "966501234567"


class Fake:
    """A running server, its receiver and a client for the control API."""

    def __init__(self, running: Running, receiver: BotReceiver) -> None:
        self.running = running
        self.receiver = receiver
        self.dispatcher = running.app.dispatcher
        self.client = httpx.Client(base_url=running.url, timeout=10)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.post("/_fakemeta" + path, json=json, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get("/_fakemeta" + path, **kwargs)

    def say(self, text: str, **extra: Any) -> dict[str, Any]:
        response = self.post("/inbound", {"from": CUSTOMER, "name": "Layla", "text": text, **extra})
        assert response.status_code == 202, response.text
        data: dict[str, Any] = response.json()
        return data

    def deliveries(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/deliveries").json()["deliveries"]
        return found


@pytest.fixture
def fake() -> Iterator[Fake]:
    settings = GraphSettings(
        access_tokens=frozenset({ACCESS_TOKEN}),
        sent_after=0.0,
        delivered_after=0.05,
        read_after=0.1,
    )
    state = GraphState(settings)
    dispatcher = Dispatcher(state, app_secret=APP_SECRET, timeout=3.0)
    with BotReceiver() as receiver:
        dispatcher.subscribe(receiver.url, VERIFY_TOKEN)
        running = start(FakeMeta(state, dispatcher))
        fake = Fake(running, receiver)
        try:
            yield fake
        finally:
            fake.client.close()
            running.stop()


def test_index_lists_the_routes(fake: Fake) -> None:
    data = fake.get("/").json()
    assert "POST /_fakemeta/inbound" in data["routes"]
    assert data["graph_api"] == fake.running.url
    assert data["subscription"]["verified"] is True


def test_inbound_text_arrives_signed_with_the_exact_bytes(fake: Fake) -> None:
    sent = fake.say("مرحبا 👋 https://example.com/x")
    [message] = sent["messages"]
    assert message["from"] == CUSTOMER
    assert message["id"].startswith("wamid.")
    assert sent["kind"] == "inbound"
    posted = wait_for(lambda: fake.receiver.posts, what="the inbound webhook")[0]
    assert posted.signature_ok
    assert posted.body == encode(sent["payload"])
    assert b"\\ud83d\\udc4b" in posted.body
    assert posted.messages()[0]["id"] == message["id"]
    record = wait_for(lambda: fake.deliveries(), what="a delivery record")[0]
    assert record["state"] == "delivered"
    assert record["request"]["body"] == posted.body.decode()
    assert record["response"]["status"] == 200
    assert record["job"] == sent["job"]
    transcript = fake.get(f"/conversations/{PNID}/{CUSTOMER}").json()
    assert [m["id"] for m in transcript["messages"]] == [message["id"]]
    assert transcript["window_open"] is True
    conversations = fake.get("/conversations").json()["conversations"]
    assert conversations[0]["wa_id"] == CUSTOMER


@pytest.mark.parametrize(
    ("spec", "type_", "key", "expected"),
    [
        ({"type": "image", "caption": "look"}, "image", "caption", "look"),
        ({"type": "location", "latitude": 24.7, "longitude": 46.7, "args": {"name": "Riyadh"}},
         "location", "name", "Riyadh"),
        ({"type": "reaction", "message_id": "wamid.X", "emoji": "👍"}, "reaction", "emoji", "👍"),
        ({"type": "button_reply", "button_id": "yes", "title": "Yes", "reply_to": "wamid.B"},
         "interactive", "type", "button_reply"),
        ({"type": "interactive_list_reply", "row_id": "r1", "title": "Row",
          "reply_to": "wamid.B"}, "interactive", "type", "list_reply"),
        ({"type": "document", "filename": "a.pdf"}, "document", "filename", "a.pdf"),
    ],
)  # fmt: skip
def test_inbound_builder_specs(
    fake: Fake, spec: dict[str, Any], type_: str, key: str, expected: Any
) -> None:
    response = fake.post("/inbound", {"from": CUSTOMER, **spec})
    assert response.status_code == 202, response.text
    message = response.json()["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["type"] == type_
    assert message[type_][key] == expected
    if "reply_to" in spec:
        assert message["context"] == {"from": DEFAULT_PHONE_NUMBER.display_phone_number,
                                      "id": "wamid.B"}  # fmt: skip
    wait_for(lambda: fake.receiver.posts, what="the webhook")


def test_inbound_fixture_is_readdressed(fake: Fake) -> None:
    response = fake.post("/inbound", {"fixture": "messages/text", "from": "4915112345678"})
    assert response.status_code == 202, response.text
    value = response.json()["payload"]["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == PNID
    assert value["messages"][0]["from"] == "4915112345678"
    assert value["contacts"][0]["wa_id"] == "4915112345678"
    posted = wait_for(lambda: fake.receiver.posts, what="the webhook")[0]
    assert posted.signature_ok


def test_inbound_raw_payload_is_sent_as_is(fake: Fake) -> None:
    raw = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": []}, 7, []]}
    response = fake.post("/inbound", {"raw": raw})
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "field"
    posted = wait_for(lambda: fake.receiver.posts, what="the webhook")[0]
    assert posted.body == encode(raw)


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("POST", "/inbound", b"{not json", "not JSON"),
        ("POST", "/inbound", b"[1, 2]", "JSON object"),
        ("POST", "/inbound", b'{"from": "966501234567", "type": "hologram"}', "hologram"),
        ("POST", "/inbound", b'{"from": "+96650", "text": "hi"}', "'from'"),
        ("POST", "/inbound", b'{"text": "hi"}', "'from' is required"),
        ("POST", "/inbound", b'{"from": "966501234567", "text": "hi", "colour": 1}', "colour"),
        ("POST", "/inbound", b'{"from": "966501234567", "type": "button_reply",'
                             b' "button_id": "a", "title": "A"}', "reply_to"),
        ("POST", "/inbound", b'{"from": "966501234567", "text": "hi",'
                             b' "phone_number_id": "999"}', "999"),
        ("POST", "/inbound", b'{"fixture": "messages/nope"}', "nope"),
        ("POST", "/inbound", b'{"raw": [1]}', "raw"),
        ("POST", "/faults", b'{"drop": -1}', "drop"),
        ("POST", "/faults", b'{"delay": "soon"}', "delay"),
        ("POST", "/faults", b'{"shuffle": 2}', "shuffle"),
        ("POST", "/clock", b'{"advance": -5}', "forward"),
        ("POST", "/clock", b'{"rewind": 5}', "advance"),
        ("GET", "/events?timeout=abc", b"", "timeout"),
        ("GET", "/deliveries?after=x", b"", "after"),
        ("POST", "/subscription", b'{"verify_token": "t"}', "callback_url"),
    ],
)  # fmt: skip
def test_bad_input_is_400_with_a_json_error(
    fake: Fake, method: str, path: str, body: bytes, words: str
) -> None:
    headers = {"Content-Type": "application/json"} if body else {}
    response = fake.client.request(method, "/_fakemeta" + path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]


def test_unknown_route_and_wrong_method(fake: Fake) -> None:
    missing = fake.get("/nope")
    assert missing.status_code == 404
    assert "no control route" in missing.json()["error"]
    wrong = fake.client.put("/_fakemeta/inbound")
    assert wrong.status_code == 405
    assert "POST" in wrong.json()["error"]
    assert fake.get("/deliveries/12345").status_code == 404
    assert fake.post("/deliveries/12345/replay").status_code == 404


def test_retries_are_listed_and_the_clock_makes_the_next_one_happen(fake: Fake) -> None:
    fake.receiver.default_status = 500
    fake.say("hello")
    wait_for(lambda: len(fake.deliveries()) >= 2, what="2 tries")
    records = fake.deliveries()
    assert [r["state"] for r in records] == ["retrying", "retrying"]
    assert records[1]["next_retry_at"] - records[1]["at"] == pytest.approx(15, abs=1)
    assert records[1]["response"]["status"] == 500
    [pending] = fake.get("/deliveries").json()["pending"]
    assert pending["state"] == "retrying"
    assert pending["attempts"] == 2
    time.sleep(0.2)
    assert len(fake.receiver.posts) == 2  # nothing before the 15 s

    fake.receiver.default_status = 200
    moved = fake.post("/clock", {"advance": 16}).json()
    assert moved["offset"] == pytest.approx(16)
    wait_for(lambda: len(fake.deliveries()) == 3, what="the third try")
    third = fake.deliveries()[2]
    assert (third["attempt"], third["state"]) == (3, "delivered")
    assert fake.get("/deliveries").json()["pending"] == []


def test_faults_through_the_api(fake: Fake) -> None:
    assert fake.post("/faults", {"drop": 1, "duplicate": 1}).json()["faults"] == {
        "drop": 1, "delay": 0.0, "duplicate": 1, "reorder": 0,
    }  # fmt: skip
    fake.say("lost")
    fake.say("twice")
    wait_for(lambda: len(fake.receiver.posts) == 2, what="the duplicate")
    texts = [p.messages()[0]["text"]["body"] for p in fake.receiver.posts]
    assert texts == ["twice", "twice"]
    assert fake.deliveries()[0]["state"] == "dropped"

    fake.post("/faults", {"reorder": 2})
    fake.say("first")
    fake.say("second")
    wait_for(lambda: len(fake.receiver.posts) == 4, what="the reordered pair")
    assert [p.messages()[0]["text"]["body"] for p in fake.receiver.posts[2:]] == [
        "second", "first",
    ]  # fmt: skip

    fake.post("/faults", {"delay": 2.5})
    fake.say("late")
    time.sleep(0.3)
    assert len(fake.receiver.posts) == 4
    cleared = fake.client.delete("/_fakemeta/faults").json()["faults"]
    assert cleared["delay"] == 0.0
    fake.post("/clock", {"advance": 3})
    wait_for(lambda: len(fake.receiver.posts) == 5, what="the delayed delivery")


def test_replay(fake: Fake) -> None:
    fake.say("again")
    record = wait_for(lambda: fake.deliveries(), what="a delivery")[0]
    replayed = fake.post(f"/deliveries/{record['id']}/replay")
    assert replayed.status_code == 202
    assert replayed.json()["replay_of"] == record["id"]
    wait_for(lambda: len(fake.receiver.posts) == 2, what="the replay")
    assert fake.receiver.posts[0].body == fake.receiver.posts[1].body
    assert fake.get(f"/deliveries/{record['id'] + 1}").json()["replay_of"] == record["id"]


def test_reset_forgets_deliveries_and_conversations(fake: Fake) -> None:
    fake.say("hello")
    wait_for(lambda: fake.deliveries(), what="a delivery")
    fake.post("/faults", {"drop": 3})
    reset = fake.post("/reset")
    assert reset.json()["reset"] is True
    assert fake.deliveries() == []
    assert fake.get("/conversations").json()["conversations"] == []
    assert fake.get("/faults").json()["faults"]["drop"] == 0
    assert fake.get("/subscription").json()["verified"] is True


def test_subscription_waits_then_delivers_after_verify(fake: Fake) -> None:
    changed = fake.post(
        "/subscription", {"callback_url": fake.receiver.url, "verify_token": "other"}
    ).json()
    assert changed["verified"] is False
    assert "status 403" in changed["reason"]
    fake.say("are you there?")
    time.sleep(0.2)
    assert fake.receiver.posts == []
    [pending] = fake.get("/deliveries").json()["pending"]
    assert pending["state"] == "waiting"
    assert pending["reason"] == "waiting for a verified subscription"

    fake.receiver.verify_token = "other"
    verified = fake.post("/subscription/verify").json()
    assert verified["verified"] is True
    assert verified["reason"] == ""
    wait_for(lambda: fake.receiver.posts, what="the waiting delivery")


def test_verify_without_subscription_is_400(fake: Fake) -> None:
    assert fake.client.delete("/_fakemeta/subscription").json()["callback_url"] is None
    response = fake.post("/subscription/verify")
    assert response.status_code == 400
    assert "no subscription" in response.json()["error"]


def test_events_long_poll(fake: Fake) -> None:
    last = fake.get("/events", params={"timeout": 0}).json()["last"]
    threading.Timer(0.3, lambda: fake.say("ping")).start()
    started = time.monotonic()
    data = fake.get("/events", params={"after": last, "timeout": 10}).json()
    assert time.monotonic() - started < 5
    kinds = {e["type"] for e in data["events"]}
    assert "message" in kinds
    assert all(e["seq"] > last for e in data["events"])
    assert data["last"] >= max(e["seq"] for e in data["events"])
    wait_for(lambda: fake.deliveries(), what="the delivery")
    now = fake.get("/events", params={"timeout": 0}).json()["last"]
    quiet = fake.get("/events", params={"after": now, "timeout": 0.2}).json()
    assert quiet["events"] == []
    future = fake.get("/events", params={"after": 10**6, "timeout": 5}).json()
    assert future["events"]  # a reader from before a restart starts over


def test_an_uploaded_image_can_be_downloaded_by_the_bot_as_from_meta(fake: Fake) -> None:
    picture = bytes(range(256)) * 8
    answer = fake.post(
        "/inbound",
        {"from": CUSTOMER, "type": "image", "mime_type": "image/png", "caption": "a photo",
         "filename": "photo.png", "data": base64.b64encode(picture).decode()},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    posted = wait_for(lambda: [p for p in fake.receiver.posts if p.messages()], what="the image")
    image = posted[0].messages()[0]["image"]
    assert image["sha256"] == base64.b64encode(hashlib.sha256(picture).digest()).decode()
    assert image["mime_type"] == "image/png"
    bearer = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    info = fake.client.get(f"/v23.0/{image['id']}", headers=bearer)
    assert info.status_code == 200
    assert info.json()["mime_type"] == "image/png"
    download = httpx.get(info.json()["url"], headers=bearer, timeout=10)
    assert download.status_code == 200
    assert download.content == picture


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"type": "text", "text": "hi", "data": "AAAA"}, "'data' goes with a media message"),
        ({"type": "image", "data": "not base64!", "mime_type": "image/png"}, "not valid base64"),
        ({"type": "image", "data": "AAAA"}, "'mime_type' must be given"),
    ],
)
def test_bad_uploads_are_400_with_the_reason(fake: Fake, spec: dict[str, Any], says: str) -> None:
    answer = fake.post("/inbound", {"from": CUSTOMER, **spec})
    assert answer.status_code == 400
    assert says in answer.json()["error"]
