"""Storing deliveries: CLIENT-1..8, statuses, events, batches, and concurrent idempotency."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from receiver_helpers import (
    PHONE_NUMBER_ID,
    WEBHOOK,
    base_config,
    build_app,
    envelope,
    message_of,
    meta_encode,
    probe,
    sign,
    text_message,
)
from sqlalchemy import func, select
from werkzeug.serving import make_server

from fakemeta.reference_receiver.models import (
    ACTION_EVENT,
    ACTION_MESSAGE_RECEIVED,
    ACTION_STATUS_UNKNOWN,
    Client,
    IntegrationAccount,
    IntegrationLog,
    Notification,
    OutboundMessage,
)
from fakemeta.reference_receiver.state import receiver_state


def count(app: Flask, model: Any, *where: Any) -> int:
    with receiver_state(app).sessions() as session:
        return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar())


def test_client_1_new_sender_creates_one_client(deliver, client: FlaskClient) -> None:
    """CLIENT-1: source whatsapp, the sender's number, the profile name, the owning account."""
    message = text_message(sender="201001112222")
    assert deliver(envelope([message], name="Layla Hassan")).status_code == 200
    assert probe(client, "clients", phone="201001112222") == [
        {
            "phone": "201001112222",
            "user_id": None,
            "name": "Layla Hassan",
            "source": "whatsapp",
            "account": PHONE_NUMBER_ID,
        }
    ]
    logs = probe(client, "messages", id=message["id"])
    assert logs == [
        {
            "id": message["id"],
            "from": "201001112222",
            "type": "text",
            "text": "Hello, I need information",
            "account": PHONE_NUMBER_ID,
        }
    ]


def test_client_2_further_messages_create_no_second_client(deliver, client, app) -> None:
    """CLIENT-2: one client per sender; name and last message time are updated."""
    deliver(envelope([text_message(sender="201003", timestamp="1700000000")], name="Old"))
    deliver(envelope([text_message(sender="201003", timestamp="1700000500")], name="New Name"))
    deliver(envelope([text_message(sender="201003", timestamp="1600000000")], name="New Name"))
    clients = probe(client, "clients", phone="201003")
    assert len(clients) == 1
    assert clients[0]["name"] == "New Name"
    with receiver_state(app).sessions() as session:
        row = session.execute(select(Client).where(Client.phone == "201003")).scalar_one()
    # An out-of-order older message does not move the time backwards.
    assert row.last_message_at is not None
    assert row.last_message_at.replace(tzinfo=UTC).timestamp() == 1700000500


def test_client_3_redelivery_is_200_and_logged_once(deliver, client, app) -> None:
    """CLIENT-3: the same message id twice -> 200 both times, one log, one notification."""
    payload = envelope([text_message(message_id="wamid.REDELIVERED")])
    assert deliver(payload).status_code == 200
    assert deliver(payload).status_code == 200
    assert deliver(payload).status_code == 200
    assert len(probe(client, "messages", id="wamid.REDELIVERED")) == 1
    assert count(app, Notification) == 1


def test_client_4_unknown_phone_number_id_creates_nothing(
    deliver, client, app, caplog: pytest.LogCaptureFixture
) -> None:
    """CLIENT-4: 200, a warning, and nothing stored anywhere."""
    message = text_message(sender="201004")
    response = deliver(envelope([message], phone_number_id="999999999"))
    assert response.status_code == 200
    assert "unknown phone_number_id" in caplog.text
    assert probe(client, "clients", phone="201004") == []
    assert probe(client, "messages", id=message["id"]) == []
    assert count(app, IntegrationLog) == 0
    assert count(app, Client) == 0


def test_client_4_disconnected_account_is_treated_as_unknown(tmp_path: Path) -> None:
    """CLIENT-4: an account that is not `connected` receives nothing."""
    app = build_app(base_config(tmp_path), account=False)
    state = receiver_state(app)
    from fakemeta.reference_receiver.accounts import add_account

    add_account(
        state.sessions,
        state.cipher,
        company="Acme",
        phone_number_id=PHONE_NUMBER_ID,
        phone_number="1555",
        access_token="t",
        status="disconnected",
    )
    body = meta_encode(envelope([text_message()]))
    response = app.test_client().post(
        WEBHOOK, data=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    assert response.status_code == 200
    assert count(app, Client) == 0
    state.close()


def test_client_5_batch_is_processed_whole(deliver, client) -> None:
    """CLIENT-5: several entries, changes and messages from several senders."""
    first = envelope([text_message(sender="301"), text_message(sender="302")])
    second = envelope([text_message(sender="303")])
    third = envelope([text_message(sender="304"), text_message(sender="301")])
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": first["entry"][0]["changes"] + second["entry"][0]["changes"]},
            {"id": "2", "changes": third["entry"][0]["changes"]},
        ],
    }
    assert deliver(payload).status_code == 200
    for change in payload["entry"][0]["changes"] + payload["entry"][1]["changes"]:
        for message in change["value"]["messages"]:
            assert len(probe(client, "messages", id=message["id"])) == 1
    for phone in ("301", "302", "303", "304"):
        assert len(probe(client, "clients", phone=phone)) == 1


MESSAGE_TYPES: list[tuple[str, dict[str, Any], str | None]] = [
    ("text", {"body": "hi"}, "hi"),
    ("image", {"caption": "a cat", "mime_type": "image/jpeg", "sha256": "x", "id": "1"}, "a cat"),
    ("video", {"caption": "clip", "mime_type": "video/mp4", "id": "2"}, "clip"),
    ("document", {"caption": "invoice", "filename": "a.pdf", "id": "3"}, "invoice"),
    ("audio", {"mime_type": "audio/ogg; codecs=opus", "id": "4", "voice": True}, None),
    ("sticker", {"mime_type": "image/webp", "id": "5", "animated": True}, None),
    ("location", {"latitude": 30.0, "longitude": 31.2, "name": "Cairo"}, None),
    ("contacts", [{"name": {"formatted_name": "A"}, "phones": [{"phone": "+1"}]}], None),  # type: ignore[list-item]
    ("interactive", {"type": "button_reply", "button_reply": {"id": "b", "title": "Yes"}}, "Yes"),
    ("interactive", {"type": "list_reply", "list_reply": {"id": "l", "title": "Row 1"}}, "Row 1"),
    (
        "interactive",
        {"type": "nfm_reply", "nfm_reply": {"response_json": "{}", "body": "Sent"}},
        "Sent",
    ),
    ("button", {"payload": "p", "text": "Stop promotions"}, "Stop promotions"),
    ("order", {"catalog_id": "1", "product_items": [], "text": "note"}, None),
    ("request_welcome", {}, None),
    ("unsupported", {"type": "poll"}, None),
    ("unknown", {}, None),
    ("brand_new_type_2031", {"whatever": 1}, None),
]


@pytest.mark.parametrize(("kind", "content", "text"), MESSAGE_TYPES)
def test_client_6_every_message_type_is_acknowledged_and_logged(
    deliver, client, kind: str, content: dict[str, Any], text: str | None
) -> None:
    """CLIENT-6: every inbound type, including unknown and unsupported, is logged."""
    message = message_of(kind, content)
    assert deliver(envelope([message])).status_code == 200
    logs = probe(client, "messages", id=message["id"])
    assert len(logs) == 1
    assert logs[0]["type"] == kind
    assert logs[0]["text"] == text


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("reaction", {"message_id": "wamid.X", "emoji": "👍"}),
        ("reaction", {"message_id": "wamid.X"}),  # removal: no emoji key
        ("system", {"body": "changed number", "type": "user_changed_number"}),
    ],
)
def test_client_6_reactions_and_system_messages_are_logged_without_client(
    deliver, client, kind: str, content: dict[str, Any]
) -> None:
    """CLIENT-6/7: logged, but they do not create a client (system messages have no contacts)."""
    message = message_of(kind, content, sender="209")
    assert deliver(envelope([message], contacts=[])).status_code == 200
    assert len(probe(client, "messages", id=message["id"])) == 1
    assert probe(client, "clients", phone="209") == []


def test_client_7_statuses_create_no_client_and_update_outbound(deliver, client, app) -> None:
    """CLIENT-7: statuses are acknowledged, create no client, move outbound status forward."""
    state = receiver_state(app)
    with state.sessions() as session, session.begin():
        account_id = session.execute(select(IntegrationAccount.id)).scalar_one()
        session.add(OutboundMessage(account_id=account_id, message_id="wamid.OUT", recipient="1"))

    def status(value: str, mid: str = "wamid.OUT") -> dict[str, Any]:
        return {"id": mid, "status": value, "timestamp": "1700000001", "recipient_id": "20155"}

    for value in ("read", "delivered", "sent"):  # out of order: read must stick
        assert deliver(envelope(statuses=[status(value)])).status_code == 200
    assert deliver(envelope(statuses=[status("delivered", "wamid.UNKNOWN")])).status_code == 200
    with state.sessions() as session:
        out = session.execute(select(OutboundMessage)).scalar_one()
    assert out.status == "read"
    assert count(app, IntegrationLog, IntegrationLog.action == ACTION_STATUS_UNKNOWN) == 1
    assert count(app, Client) == 0
    assert probe(client, "clients", phone="20155") == []


def test_client_7_errors_and_other_fields_create_no_client(deliver, app) -> None:
    """CLIENT-7: value.errors and other fields are logged as events, never as clients."""
    errors = envelope()
    errors["entry"][0]["changes"][0]["value"]["errors"] = [
        {"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}
    ]
    account_update = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "time": 1700000000,
                "changes": [
                    {
                        "value": {"phone_number": "15550783881", "event": "VERIFIED_ACCOUNT"},
                        "field": "account_update",
                    }
                ],
            }
        ],
    }
    template = envelope(field="message_template_status_update")
    assert deliver(errors).status_code == 200
    assert deliver(account_update).status_code == 200
    assert deliver(template).status_code == 200
    assert count(app, Client) == 0
    assert count(app, IntegrationLog, IntegrationLog.action == ACTION_EVENT) == 2
    assert count(app, IntegrationLog, IntegrationLog.action == "whatsapp_webhook_error") == 1
    assert count(app, IntegrationLog, IntegrationLog.action == ACTION_MESSAGE_RECEIVED) == 0


@pytest.mark.parametrize(
    "text",
    ["مرحبا بك في متجرنا", "👩🏽‍💻🇪🇬", "a\u0301\u0302 zalgo", "\u200fRTL\u200e mark", "tab\tnl\n"],
)
def test_client_8_text_and_names_are_stored_intact(deliver, client, text: str) -> None:
    """CLIENT-8: Arabic, emoji, combining marks, RTL marks survive in text and profile name."""
    message = text_message(text, sender="2018")
    assert deliver(envelope([message], name=text)).status_code == 200
    assert probe(client, "messages", id=message["id"])[0]["text"] == text
    assert probe(client, "clients", phone="2018")[0]["name"] == text


def test_business_scoped_user_without_from_is_stored_by_user_id(deliver, app) -> None:
    """2026 business-scoped users: no `from`, a `from_user_id`; one client keyed by user id."""
    message = {
        "from_user_id": "EG.123abc",
        "id": "wamid.BSUID",
        "timestamp": "1700000000",
        "type": "text",
        "text": {"body": "hidden number"},
    }
    contacts = [{"profile": {"name": "Nour"}, "user_id": "EG.123abc"}]
    again = dict(message, id="wamid.BSUID2")
    assert deliver(envelope([message], contacts=contacts)).status_code == 200
    assert deliver(envelope([again], contacts=contacts)).status_code == 200
    with receiver_state(app).sessions() as session:
        rows = session.execute(select(Client)).scalars().all()
    assert [(c.phone, c.user_id, c.name) for c in rows] == [(None, "EG.123abc", "Nour")]
    assert count(app, IntegrationLog, IntegrationLog.message_id == "wamid.BSUID") == 1


@contextmanager
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{WEBHOOK}"
    finally:
        server.shutdown()
        server.server_close()


def fifty_concurrent_deliveries(app: Flask) -> None:
    sender = f"20{uuid.uuid4().int % 10**10:010d}"
    message = text_message("same message", sender=sender, message_id=f"wamid.{uuid.uuid4().hex}")
    body = meta_encode(envelope([message]))
    headers = {"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"}
    barrier = threading.Barrier(50)
    statuses: list[int] = []
    with served(app) as url:

        def post() -> None:
            with httpx.Client(timeout=30) as http:
                barrier.wait()
                statuses.append(http.post(url, content=body, headers=headers).status_code)

        threads = [threading.Thread(target=post) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 50
    assert count(app, IntegrationLog, IntegrationLog.message_id == message["id"]) == 1
    assert count(app, Client, Client.phone == sender) == 1


def test_fifty_concurrent_duplicates_give_one_log_and_one_client_on_sqlite(app: Flask) -> None:
    """CLIENT-3 under concurrency (SQLite): 50 simultaneous redeliveries -> one log, one client."""
    fifty_concurrent_deliveries(app)


@pytest.mark.postgres
def test_fifty_concurrent_duplicates_give_one_log_and_one_client_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    """CLIENT-3 under concurrency (PostgreSQL): the unique constraints keep it to one of each."""
    app = build_app(base_config(tmp_path, DATABASE_URL=postgres_url))
    try:
        fifty_concurrent_deliveries(app)
        fifty_concurrent_deliveries(app)
    finally:
        receiver_state(app).close()


@pytest.mark.postgres
def test_postgres_stores_messages_like_sqlite(tmp_path: Path, postgres_url: str) -> None:
    """CLIENT-1/6/8 on PostgreSQL, including text that needs cleaning (NUL)."""
    app = build_app(base_config(tmp_path, DATABASE_URL=postgres_url))
    try:
        web = app.test_client()
        messages = [
            text_message("مرحبا 😀", sender="2051"),
            text_message("nul\u0000", sender="2052"),
            message_of("weird_type", {"x": 1}, sender="2053"),
        ]
        body = meta_encode(envelope(messages))
        response = web.post(WEBHOOK, data=body, headers={"X-Hub-Signature-256": sign(body)})
        assert response.status_code == 200
        assert probe(web, "messages", id=messages[0]["id"])[0]["text"] == "مرحبا 😀"
        assert probe(web, "messages", id=messages[1]["id"])[0]["text"] == "nul\ufffd"
        assert probe(web, "messages", id=messages[2]["id"])[0]["type"] == "weird_type"
        assert len(probe(web, "clients", phone="2051")) == 1
    finally:
        receiver_state(app).close()


# -- batches: one transaction per change, same rules as one message at a time ------


def post_signed(app: Flask, payload: dict[str, Any] | bytes) -> int:
    body = payload if isinstance(payload, bytes) else meta_encode(payload)
    response = app.test_client().post(
        WEBHOOK, data=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    return response.status_code


def thousand_senders_twice(app: Flask) -> None:
    messages = [text_message(f"hello {i}", sender=f"2012{i:07d}") for i in range(1000)]
    payload = envelope(messages)
    assert post_signed(app, payload) == 200
    assert post_signed(app, payload) == 200  # Meta's redelivery of the whole batch
    assert count(app, Client) == 1000
    assert count(app, IntegrationLog, IntegrationLog.action == ACTION_MESSAGE_RECEIVED) == 1000
    assert count(app, Notification) == 1000
    with receiver_state(app).sessions() as session:
        linked = session.execute(
            select(func.count())
            .select_from(IntegrationLog)
            .join(Client, IntegrationLog.client_id == Client.id)
            .where(IntegrationLog.sender == Client.phone)
        ).scalar_one()
    assert linked == 1000


def test_batch_of_1000_senders_and_its_redelivery_store_1000_of_each(app: Flask) -> None:
    """CLIENT-1/3/5: 1000 messages from 1000 senders, delivered twice -> 1000 clients and logs."""
    thousand_senders_twice(app)


@pytest.mark.postgres
def test_batch_of_1000_senders_and_its_redelivery_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    """The same on PostgreSQL (ON CONFLICT DO NOTHING ... RETURNING)."""
    app = build_app(base_config(tmp_path, DATABASE_URL=postgres_url))
    try:
        thousand_senders_twice(app)
    finally:
        receiver_state(app).close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on SQLite, then on PostgreSQL (whose bulk statements differ)."""
    overrides = {}
    if request.param == "postgresql":
        overrides["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = build_app(base_config(tmp_path, **overrides))
    yield app
    receiver_state(app).close()


def test_batch_applies_the_client_rules_of_single_messages(any_app: Flask) -> None:
    """CLIENT-2/6/7 within one change: latest time wins, repeats and reactions add no client."""
    app = any_app
    post_signed(app, envelope([text_message(sender="2061", timestamp="1700000000")], name="Old"))
    reaction = message_of("reaction", {"message_id": "wamid.X", "emoji": "👍"}, sender="2062")
    repeated = text_message(sender="2063", timestamp="1700000100")
    batch = [
        text_message(sender="2061", timestamp="1700000900"),
        text_message(sender="2061", timestamp="1600000000"),  # older, arrives later
        reaction,  # before its sender's first message: no client for the reaction itself
        text_message(sender="2062", timestamp="1700000200"),
        message_of("reaction", {"message_id": "wamid.Y"}, sender="2064"),  # never a client
        repeated,
        repeated,  # the same id twice in one batch is a redelivery
        text_message(sender="2065", timestamp="1700000100"),  # a new client, then a later one
        text_message(sender="2065", timestamp="1700000300"),
    ]
    assert post_signed(app, envelope(batch, name="New")) == 200
    with receiver_state(app).sessions() as session:
        clients = {c.phone: c for c in session.execute(select(Client)).scalars()}
        reaction_log = session.execute(
            select(IntegrationLog).where(IntegrationLog.message_id == reaction["id"])
        ).scalar_one()
    assert sorted(clients) == ["2061", "2062", "2063", "2065"]
    assert clients["2061"].name == "New"
    for phone, expected in (("2061", 1700000900), ("2062", 1700000200), ("2065", 1700000300)):
        last = clients[phone].last_message_at
        assert last is not None
        assert last.replace(tzinfo=UTC).timestamp() == expected
    assert reaction_log.client_id is None
    assert count(app, IntegrationLog, IntegrationLog.message_id == repeated["id"]) == 1
    assert count(app, IntegrationLog, IntegrationLog.action == ACTION_MESSAGE_RECEIVED) == 9
    assert count(app, Notification) == 9


def test_one_item_that_cannot_be_stored_costs_nothing_else(
    deliver, app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """ROBUST-2: an unusable item and one the store refuses are skipped; the rest is stored."""
    from fakemeta.reference_receiver import store

    good = [text_message(sender=f"207{i}") for i in range(3)]
    refused = text_message(sender="2079")
    original = store._log_values

    def refusing(account: Any, message: Any, client_id: Any, now: Any) -> dict[str, Any]:
        if message.message_id == refused["id"]:
            raise ValueError("cannot store this one")
        return original(account, message, client_id, now)

    monkeypatch.setattr(store, "_log_values", refusing)
    batch = [good[0], {"type": "text", "text": {"body": "no id, no sender"}}, refused, *good[1:]]
    assert deliver(envelope(batch)).status_code == 200
    assert "one by one" in caplog.text
    assert count(app, IntegrationLog, IntegrationLog.action == ACTION_MESSAGE_RECEIVED) == 3
    assert count(app, IntegrationLog, IntegrationLog.message_id == refused["id"]) == 0
    assert count(app, Notification) == 3


def test_many_statuses_in_one_delivery(any_app: Flask) -> None:
    """CLIENT-7 in bulk: each known message ends at its furthest status; unknown ones are logged."""
    app = any_app
    state = receiver_state(app)
    with state.sessions() as session, session.begin():
        account_id = session.execute(select(IntegrationAccount.id)).scalar_one()
        for i in range(50):
            session.add(OutboundMessage(account_id=account_id, message_id=f"wamid.O{i}"))
    statuses = [
        {"id": f"wamid.O{i}", "status": value, "timestamp": "1700000001", "recipient_id": "1"}
        for value in ("sent", "read", "delivered")
        for i in range(50)
    ]
    statuses += [{"id": f"wamid.GONE{i}", "status": "sent"} for i in range(5)]
    assert post_signed(app, envelope(statuses=statuses)) == 200
    with state.sessions() as session:
        values = set(session.execute(select(OutboundMessage.status)).scalars())
    assert values == {"read"}
    assert count(app, IntegrationLog, IntegrationLog.action == ACTION_STATUS_UNKNOWN) == 5
    assert count(app, Client) == 0


def concurrent_overlapping_batches(app: Flask) -> None:
    tag = uuid.uuid4().hex[:6]
    messages = [
        text_message(f"m{i}", sender=f"208{i:04d}", message_id=f"wamid.{tag}.{i}")
        for i in range(200)
    ]
    shuffler = random.Random(7)
    bodies = []
    for _ in range(8):  # the same 200 messages, in another order and grouping each time
        order = shuffler.sample(messages, len(messages))
        bodies.append(meta_encode(envelope(order[:120])))
        bodies.append(meta_encode(envelope(order[120:])))
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []
    with served(app) as url:

        def post(body: bytes) -> None:
            with httpx.Client(timeout=60) as http:
                barrier.wait()
                headers = {"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"}
                statuses.append(http.post(url, content=body, headers=headers).status_code)

        threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * len(bodies)
    assert count(app, Client, Client.phone.like("208%")) == 200
    assert count(app, IntegrationLog, IntegrationLog.message_id.like(f"wamid.{tag}.%")) == 200
    assert count(app, Notification) == 200


def test_concurrent_overlapping_batches_store_each_message_once_on_sqlite(app: Flask) -> None:
    """CLIENT-3: 16 concurrent batches sharing 200 messages -> 200 clients, logs, notifications."""
    concurrent_overlapping_batches(app)


@pytest.mark.postgres
def test_concurrent_overlapping_batches_store_each_message_once_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    """The same on PostgreSQL: no deadlock (rows go in key order), no duplicate."""
    app = build_app(base_config(tmp_path, DATABASE_URL=postgres_url))
    try:
        concurrent_overlapping_batches(app)
    finally:
        receiver_state(app).close()


def test_a_timestamp_past_year_9999_is_stored_with_its_raw_value(any_app: Flask) -> None:
    """The message was acknowledged and dropped (`datetime` stops at 9999): now it is
    stored, without a time, and the log keeps what Meta sent."""
    app = any_app
    far = text_message("from the far future", sender="2091", timestamp="999999999999")
    normal = text_message("now", sender="2092")
    assert post_signed(app, envelope([far, normal])) == 200
    with receiver_state(app).sessions() as session:
        log = session.execute(
            select(IntegrationLog).where(IntegrationLog.message_id == far["id"])
        ).scalar_one()
        client = session.execute(select(Client).where(Client.phone == "2091")).scalar_one()
    assert log.text == "from the far future"
    assert log.details["timestamp"] is None
    assert log.details["timestamp_raw"] == "999999999999"
    assert client.last_message_at is not None  # the time it was received instead
    assert count(app, IntegrationLog, IntegrationLog.message_id == normal["id"]) == 1
    assert count(app, Notification) == 2


@pytest.mark.parametrize("number", [b"Infinity", b"-Infinity", b"NaN", b"1e400", b"-1e400"])
def test_a_non_finite_number_in_a_status_costs_no_status(any_app: Flask, number: bytes) -> None:
    """`Infinity` or `1e400` anywhere in one status dropped every status of the change
    (a JSON column cannot hold it); now the number is kept as text and all are applied."""
    app = any_app
    state = receiver_state(app)
    with state.sessions() as session, session.begin():
        account_id = session.execute(select(IntegrationAccount.id)).scalar_one()
        session.add(OutboundMessage(account_id=account_id, message_id="wamid.INF1"))
        session.add(OutboundMessage(account_id=account_id, message_id="wamid.INF2"))
    statuses = [
        {"id": "wamid.INF1", "status": "delivered", "timestamp": "1700000001", "recipient_id": "1"},
        {
            "id": "wamid.INF2",
            "status": "failed",
            "errors": [{"code": 131026, "weight": 987654321987}],
        },
        {"id": "wamid.UNKNOWN", "status": "sent", "pricing": {"rate": 987654321987}},
    ]
    body = meta_encode(envelope(statuses=statuses)).replace(b"987654321987", number)
    assert post_signed(app, body) == 200
    with state.sessions() as session:
        outbound = dict(
            session.execute(select(OutboundMessage.message_id, OutboundMessage.status)).all()
        )
        errors = session.execute(
            select(OutboundMessage.errors).where(OutboundMessage.message_id == "wamid.INF2")
        ).scalar_one()
        unknown = session.execute(
            select(IntegrationLog.details).where(IntegrationLog.action == ACTION_STATUS_UNKNOWN)
        ).scalar_one()
    assert outbound == {"wamid.INF1": "delivered", "wamid.INF2": "failed"}
    kept = {b"1e400": "Infinity", b"-1e400": "-Infinity"}.get(number, number.decode())
    assert errors["errors"][0]["weight"] == kept
    assert unknown["status"]["pricing"]["rate"] == kept


def test_a_nul_in_phone_number_id_is_logged_and_skipped(
    any_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL refuses NUL in text: the whole delivery failed its passes and was left
    in the inbox. Now that change is skipped like an unknown number; the rest is stored."""
    from fakemeta.reference_receiver.models import InboxDelivery

    app = any_app
    bad = envelope([text_message(sender="2093")], phone_number_id="1065\x00")
    bad_status = envelope(statuses=[{"id": "wamid.\x00", "status": "sent"}])
    good_message = text_message(sender="2094")
    bad["entry"][0]["changes"].append(envelope([good_message])["entry"][0]["changes"][0])
    bad["entry"][0]["changes"].append(bad_status["entry"][0]["changes"][0])
    caplog.set_level("WARNING", logger="fakemeta.reference_receiver")
    assert post_signed(app, bad) == 200
    assert count(app, IntegrationLog, IntegrationLog.message_id == good_message["id"]) == 1
    assert count(app, Client, Client.phone == "2093") == 0
    assert count(app, IntegrationLog, IntegrationLog.action == ACTION_STATUS_UNKNOWN) == 1
    assert count(app, InboxDelivery) == 0  # applied, not left failing
    assert "unknown phone_number_id" in caplog.text


def test_an_integer_too_long_for_python_costs_no_message(any_app: Flask) -> None:
    """Python refuses to read an integer of more than 4,300 digits: such a number
    anywhere in a delivery had it acknowledged, then dropped by the drainer."""
    app = any_app
    message = text_message("a long number rides along", sender="2093")
    message["context"] = {"forwarded": True, "frequently_forwarded": 123456789}
    body = meta_encode(envelope([message])).replace(b"123456789", b"9" * 5000)
    assert post_signed(app, body) == 200
    assert count(app, IntegrationLog, IntegrationLog.message_id == message["id"]) == 1
