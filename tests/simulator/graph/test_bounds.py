"""`fakemeta serve` stays within its memory bounds, over real HTTP on loopback:
media by bytes (least recently used first), messages by count (oldest
first), the delivery log by count, and each eviction counted and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from serve_helpers import ACCESS_TOKEN, VERIFY_TOKEN, BotReceiver, serve_settings, serving, wait_for

from fakemeta.simulator import targets
from fakemeta.simulator.graph.deliveries import RESPONSE_KEPT, DeliveryRecord
from fakemeta.simulator.graph.server import Running
from fakemeta.simulator.graph.state import DEFAULT_PHONE_NUMBER
from fakemeta.simulator.graph.webhooks import Job

pytestmark = pytest.mark.timeout(60)

PNID = DEFAULT_PHONE_NUMBER.phone_number_id
BEARER = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
KB = 1024
MAX_MEDIA = 1000 * KB
MAX_MESSAGES = 20
MAX_DELIVERIES = 5
MAX_PENDING = 15


@pytest.fixture
def running() -> Iterator[Running]:
    settings = serve_settings(
        max_media_bytes=MAX_MEDIA,
        max_messages=MAX_MESSAGES,
        max_pending_webhooks=MAX_PENDING,
        sent_after=0.0,
        delivered_after=None,
        read_after=None,
    )
    with serving(settings, dispatcher={"log_limit": MAX_DELIVERIES}) as server:
        yield server


def _upload(client: httpx.Client, size: int, name: str) -> httpx.Response:
    return client.post(
        f"/v23.0/{PNID}/media",
        headers=BEARER,
        data={"messaging_product": "whatsapp", "type": "application/pdf"},
        files={"file": (name, b"%PDF" + b"x" * (size - 4), "application/pdf")},
    )


def _limits(client: httpx.Client) -> dict[str, object]:
    limits: dict[str, object] = client.get("/_fakemeta/").json()["limits"]
    return limits


def test_many_uploads_stay_within_the_media_bound(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fakemeta.serve")
    ids = []
    for n in range(10):
        response = _upload(client, 300 * KB, f"file{n}.pdf")
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
        if n == 1:  # used since: the least recently used is the other one
            assert client.get(f"/v23.0/{ids[0]}", headers=BEARER).status_code == 200
    limits = _limits(client)
    assert limits["media_bytes"] <= MAX_MEDIA  # type: ignore[operator]
    assert limits["media"] == 3
    assert limits["evicted"] == {  # type: ignore[comparison-overlap]
        "messages": 0, "media": 7, "media_bytes": 7 * 300 * KB, "webhooks": 0, "users": 0,
        "deliveries": 0, "events": 0,
    }  # fmt: skip
    assert client.get(f"/v23.0/{ids[1]}", headers=BEARER).status_code == 400  # evicted
    for kept in ids[-3:]:
        assert client.get(f"/v23.0/{kept}", headers=BEARER).json()["file_size"] == 300 * KB
    [line] = [r.getMessage() for r in caplog.records if "media store is full" in r.getMessage()]
    assert "--max-media-bytes" in line


def test_a_file_larger_than_the_whole_store_is_refused(client: httpx.Client) -> None:
    response = _upload(client, MAX_MEDIA + 1, "big.pdf")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 131053
    assert "--max-media-bytes" in error["error_data"]["details"]


def test_the_transcript_is_bounded_and_evictions_are_reported(
    client: httpx.Client, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fakemeta.serve")
    customer = "15551234567"
    for n in range(MAX_MESSAGES + 10):
        answer = client.post("/_fakemeta/inbound",
                             json={"from": customer, "type": "text", "text": f"m{n}"})  # fmt: skip
        assert answer.status_code == 202, answer.text
    transcript = client.get(f"/_fakemeta/conversations/{PNID}/{customer}").json()["messages"]
    assert [m["content"]["body"] for m in transcript] == [f"m{n}" for n in range(10, 30)]
    limits = _limits(client)
    assert limits["messages"] == MAX_MESSAGES
    assert limits["evicted"]["messages"] == 10  # type: ignore[index]
    assert any("--max-messages 20" in r.getMessage() for r in caplog.records)
    first_id = running.app.state._kept[0][1].id
    assert running.app.state.message(first_id) is not None
    # Both directions count: the bot's sends push the customer's out too.
    sent = client.post(
        f"/v23.0/{PNID}/messages",
        headers=BEARER,
        json={"messaging_product": "whatsapp", "to": customer, "type": "text",
              "text": {"body": "reply"}},
    )  # fmt: skip
    assert sent.status_code == 200, sent.text
    transcript = client.get(f"/_fakemeta/conversations/{PNID}/{customer}").json()["messages"]
    assert len(transcript) == MAX_MESSAGES
    assert transcript[-1]["direction"] == "outbound"
    assert running.app.state.message(first_id) is None


def test_the_delivery_log_is_bounded_and_reports_evictions(
    client: httpx.Client, running: Running
) -> None:
    with BotReceiver() as bot:
        bot.default_status = 200
        assert running.app.dispatcher.subscribe(bot.url, VERIFY_TOKEN).verified
        for n in range(MAX_DELIVERIES + 3):
            client.post("/_fakemeta/inbound", json={"from": "15551234567", "text": f"d{n}"})
        wait_for(lambda: len(bot.posts) >= MAX_DELIVERIES + 3, what="every delivery")
        wait_for(lambda: running.app.dispatcher.log.evicted == 3, what="3 evictions")
    deliveries = client.get("/_fakemeta/deliveries").json()["deliveries"]
    assert len(deliveries) == MAX_DELIVERIES
    assert _limits(client)["evicted"]["deliveries"] == 3  # type: ignore[index]


def test_a_receivers_long_answer_is_not_kept_whole() -> None:
    job = Job(1, "field", {"object": "x", "entry": []}, 0.0, "t")  # type: ignore[typeddict-item]
    request = targets.Request("POST", "http://127.0.0.1:9/", (), b"{}", None)
    answer = targets.Response(200, (("Content-Type", "text/plain"),), b"x" * (RESPONSE_KEPT * 10))
    record = DeliveryRecord.of_attempt(
        1, job, b"{}", "delivered", at=0.0, url="http://127.0.0.1:9/",
        exchange=targets.Exchange(request, answer, 0.01), headers=(), error=None,
        next_retry_at=None,
    )  # fmt: skip
    assert len(record.response_body) == RESPONSE_KEPT


def test_webhooks_waiting_for_an_unverified_receiver_are_bounded(
    client: httpx.Client, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    # No subscription is verified: every inbound message waits as a webhook.
    caplog.set_level(logging.WARNING, logger="fakemeta.serve")
    for n in range(MAX_PENDING + 7):
        inbound = {"from": "15551234567", "type": "text", "text": f"w{n}"}
        answer = client.post("/_fakemeta/inbound", json=inbound)
        assert answer.status_code == 202, answer.text
    limits = _limits(client)
    assert limits["pending_webhooks"] == MAX_PENDING
    assert limits["max_pending_webhooks"] == MAX_PENDING
    assert limits["evicted"]["webhooks"] == 7  # type: ignore[index]
    pending = running.app.state.webhooks.pending()
    texts = [job.payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"]
             for job in pending]  # fmt: skip
    assert sorted(texts, key=lambda t: int(t[1:])) == [f"w{n}" for n in range(7, 22)]
    assert any("--max-pending-webhooks 15" in r.getMessage() for r in caplog.records)
