"""One client per user: business-scoped user ids (CLIENT-9) and identity changes (CLIENT-10).

Every scenario runs on SQLite and PostgreSQL, each through the bulk path (a
change's messages in one transaction) and the one-by-one fallback.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from receiver_helpers import (
    PHONE_NUMBER_ID,
    WEBHOOK,
    base_config,
    build_app,
    meta_encode,
    probe,
    sign,
)
from sqlalchemy import func, select
from werkzeug.serving import make_server

from fakemeta.reference_receiver.models import (
    ACTION_MESSAGE_RECEIVED,
    Client,
    IntegrationLog,
    Notification,
)
from fakemeta.reference_receiver.state import receiver_state

Row = tuple[str | None, str | None, str | None]


@pytest.fixture(
    params=[
        "sqlite-bulk",
        "sqlite-one-by-one",
        pytest.param("postgresql-bulk", marks=pytest.mark.postgres),
        pytest.param("postgresql-one-by-one", marks=pytest.mark.postgres),
    ]
)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    database, path = request.param.split("-", 1)
    overrides = {}
    if database == "postgresql":
        overrides["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = build_app(base_config(tmp_path, **overrides))
    if path == "one-by-one":
        receiver_state(app).store._bulk = False  # what other databases and failed batches get
    yield app
    receiver_state(app).close()


def message(
    *,
    phone: str | None = None,
    user_id: str | None = None,
    body: str = "hello",
    timestamp: str = "1700000000",
) -> dict[str, Any]:
    """A text message in Meta's key order: `from`, `from_user_id`, id, timestamp, text, type."""
    item: dict[str, Any] = {}
    if phone is not None:
        item["from"] = phone
    if user_id is not None:
        item["from_user_id"] = user_id
    item.update(
        id=f"wamid.{uuid.uuid4().hex}", timestamp=timestamp, text={"body": body}, type="text"
    )
    return item


def number_changed(
    old: str, new: str, *, user_id: str | None = None, new_user_id: str | None = None
) -> dict[str, Any]:
    """Meta's 2026 shape: a user with a business-scoped id gets a new one with
    the new number (`system.user_id`, `previous_user_id`)."""
    item: dict[str, Any] = {"from": old}
    if user_id is not None:
        item["from_user_id"] = user_id
    system: dict[str, Any] = {"body": f"User A changed from {old} to {new}", "wa_id": new}
    if user_id is not None:
        system["user_id"] = new_user_id or f"{user_id}.new"
        system["previous_user_id"] = user_id
    system["type"] = "user_changed_number"
    item.update(
        id=f"wamid.{uuid.uuid4().hex}", timestamp="1700000500", type="system", system=system
    )
    return item


def number_changed_2025(old: str, new: str, *, user_id: str | None = None) -> dict[str, Any]:
    """A number change without the new user id, as a receiver may still meet one."""
    item = number_changed(old, new, user_id=user_id)
    item["system"] = {k: v for k, v in item["system"].items() if "user_id" not in k}
    return item


def user_id_changed(
    old: str | None, new: str, *, phone: str | None = None, parent: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if phone is not None:
        item["from"] = phone
    if old is not None:
        item["from_user_id"] = old
    system: dict[str, Any] = {"body": f"User A changed from {old} to {new}", "user_id": new}
    if parent is not None:
        system["parent_user_id"] = parent
    if old is not None:
        system["previous_user_id"] = old
    system["type"] = "user_changed_user_id"
    item.update(
        id=f"wamid.{uuid.uuid4().hex}", timestamp="1700000500", type="system", system=system
    )
    return item


def contact_for(item: dict[str, Any], name: str) -> dict[str, Any]:
    contact: dict[str, Any] = {"profile": {"name": name, "username": name.lower()}}
    if "from" in item:
        contact["wa_id"] = item["from"]
    if "from_user_id" in item:
        contact["user_id"] = item["from_user_id"]
    return contact


def post(app: Flask, items: list[dict[str, Any]], name: str = "Nour") -> None:
    """One change with `items`; contacts for the messages, none for system messages (as Meta)."""
    contacts = [contact_for(i, name) for i in items if i["type"] != "system"]
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
    }
    if contacts:
        value["contacts"] = contacts
    value["messages"] = items
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }
    body = meta_encode(envelope)
    response = app.test_client().post(
        WEBHOOK, data=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    assert response.status_code == 200, response.data


def clients(app: Flask) -> list[Row]:
    with receiver_state(app).sessions() as session:
        rows = session.execute(
            select(Client.phone, Client.user_id, Client.name).order_by(Client.id)
        ).all()
    return [(phone, user_id, name) for phone, user_id, name in rows]


def logs(app: Flask) -> dict[str, tuple[str | None, int | None]]:
    """Message id -> (logged `from`, client id) of every received message."""
    with receiver_state(app).sessions() as session:
        rows = session.execute(
            select(IntegrationLog.message_id, IntegrationLog.sender, IntegrationLog.client_id)
            .where(IntegrationLog.action == ACTION_MESSAGE_RECEIVED)
        ).all()  # fmt: skip
    return {str(mid): (sender, client_id) for mid, sender, client_id in rows}


def count(app: Flask, model: Any) -> int:
    with receiver_state(app).sessions() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def client_ids(app: Flask) -> set[int | None]:
    return {client_id for _, client_id in logs(app).values()}


# -- CLIENT-9: business-scoped users ----------------------------------------------------


def test_a_phoneless_user_gets_one_client_keyed_by_user_id(app: Flask) -> None:
    """(a) Several phone-less messages, one by one and in one batch: one client."""
    first = message(user_id="US.1349120865530274191", body="first")
    post(app, [first])
    post(app, [message(user_id="US.1349120865530274191")])
    post(app, [message(user_id="US.1349120865530274191") for _ in range(3)])
    assert clients(app) == [(None, "US.1349120865530274191", "Nour")]
    web = app.test_client()
    assert probe(web, "clients", user_id="US.1349120865530274191") == [
        {
            "phone": None,
            "user_id": "US.1349120865530274191",
            "name": "Nour",
            "source": "whatsapp",
            "account": PHONE_NUMBER_ID,
        }
    ]
    assert probe(web, "messages", id=first["id"]) == [
        {
            "id": first["id"],
            "from": "US.1349120865530274191",
            "type": "text",
            "text": "first",
            "account": PHONE_NUMBER_ID,
        }
    ]
    assert count(app, IntegrationLog) == 5
    assert len(client_ids(app)) == 1


def test_a_phoneless_batch_and_its_redelivery(app: Flask) -> None:
    """(a) in one batch with several users, delivered twice: one client and one log each."""
    batch = [message(user_id=f"US.{i % 3}") for i in range(9)]
    post(app, batch)
    post(app, batch)
    assert sorted(clients(app)) == [(None, f"US.{i}", "Nour") for i in range(3)]
    assert count(app, IntegrationLog) == 9
    assert count(app, Notification) == 9


def test_b_phone_first_then_both_then_user_id_only(app: Flask) -> None:
    """(b) A pre-2026 client gains the user id, and a phone-less message finds it."""
    post(app, [message(phone="201001234567")], name="Layla")
    post(app, [message(phone="201001234567", user_id="US.77")], name="Layla")
    last = message(user_id="US.77", body="no number now")
    post(app, [last], name="Layla")
    assert clients(app) == [("201001234567", "US.77", "Layla")]
    web = app.test_client()
    by_phone = probe(web, "clients", phone="201001234567")
    assert by_phone == probe(web, "clients", user_id="US.77")
    assert by_phone[0]["user_id"] == "US.77"
    assert probe(web, "messages", id=last["id"])[0]["from"] == "US.77"
    assert len(client_ids(app)) == 1


def test_c_user_id_first_then_both(app: Flask) -> None:
    """(c) A phone-less client is found by user id and gains the number: no second client."""
    post(app, [message(user_id="US.88")])
    post(app, [message(phone="201009999999", user_id="US.88")])
    post(app, [message(phone="201009999999")])  # and the number alone finds it too
    assert clients(app) == [("201009999999", "US.88", "Nour")]
    assert len(client_ids(app)) == 1


@pytest.mark.parametrize("scenario", ["b", "c"])
def test_b_and_c_within_one_batch(app: Flask, scenario: str) -> None:
    """The same sequences inside one delivery give the same single client."""
    if scenario == "b":
        items = [message(phone="2011"), message(phone="2011", user_id="US.1"),
                 message(user_id="US.1")]  # fmt: skip
    else:
        items = [message(user_id="US.1"), message(phone="2011", user_id="US.1"),
                 message(phone="2011")]  # fmt: skip
    post(app, items)
    post(app, items)  # redelivered whole
    assert clients(app) == [("2011", "US.1", "Nour")]
    assert count(app, IntegrationLog) == 3
    assert len(client_ids(app)) == 1


def test_two_halves_of_one_user_are_merged(app: Flask) -> None:
    """A phone-only and a phone-less client, then a message with both: one client remains."""
    post(app, [message(phone="2012", timestamp="1700000100")], name="Old name")
    post(app, [message(user_id="US.2", timestamp="1700000200")], name="Old name")
    assert len(clients(app)) == 2
    post(app, [message(phone="2012", user_id="US.2", timestamp="1700000300")], name="New")
    assert clients(app) == [("2012", "US.2", "New")]
    assert len(client_ids(app)) == 1  # the phone-less client's log moved with it
    with receiver_state(app).sessions() as session:
        notified = set(session.execute(select(Notification.client_id)).scalars())
    assert notified == client_ids(app)


def test_clients_of_two_users_are_not_merged(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """Number of one client, user id of another: nothing merged, the user id's client is used."""
    post(app, [message(phone="2013", user_id="US.3")])
    post(app, [message(phone="2014", user_id="US.4")])
    odd = message(phone="2013", user_id="US.4")
    post(app, [odd])
    assert clients(app) == [("2013", "US.3", "Nour"), ("2014", "US.4", "Nour")]
    assert logs(app)[odd["id"]][1] == app_client_id(app, user_id="US.4")
    assert "nothing merged" in caplog.text


def app_client_id(app: Flask, **where: str) -> int:
    with receiver_state(app).sessions() as session:
        return int(session.execute(select(Client.id).filter_by(**where)).scalar_one())


# -- CLIENT-10: identity changes --------------------------------------------------------


def test_user_changed_number_moves_the_client(app: Flask) -> None:
    post(app, [message(phone="201000000001")], name="Layla")
    client_id = app_client_id(app, phone="201000000001")
    change = number_changed("201000000001", "201000000002")
    post(app, [change])
    post(app, [change])  # redelivered: logged once, nothing else happens
    post(app, [message(phone="201000000002")], name="Layla")
    web = app.test_client()
    assert probe(web, "clients", phone="201000000001") == []
    assert [c["name"] for c in probe(web, "clients", phone="201000000002")] == ["Layla"]
    assert clients(app) == [("201000000002", None, "Layla")]
    assert app_client_id(app, phone="201000000002") == client_id
    system_logs = probe(web, "messages", id=change["id"])
    assert [(m["type"], m["from"]) for m in system_logs] == [("system", "201000000001")]
    assert client_ids(app) == {client_id}


def test_a_2026_number_change_moves_the_client_to_the_new_user_id_too(app: Flask) -> None:
    """From 2026 a new number comes with a new business-scoped id (`system.user_id`)."""
    post(app, [message(phone="201000000011", user_id="EG.11")], name="Hana")
    client_id = app_client_id(app, phone="201000000011")
    change = number_changed("201000000011", "201000000012", user_id="EG.11", new_user_id="EG.12")
    post(app, [change])
    post(app, [message(phone="201000000012", user_id="EG.12")], name="Hana")
    assert clients(app) == [("201000000012", "EG.12", "Hana")]
    assert app_client_id(app, phone="201000000012") == client_id
    assert probe(app.test_client(), "clients", user_id="EG.11") == []


def test_user_changed_number_without_a_client_creates_nothing(app: Flask) -> None:
    change = number_changed("201000000003", "201000000004")
    post(app, [change])
    assert clients(app) == []
    assert len(probe(app.test_client(), "messages", id=change["id"])) == 1


def test_a_redelivered_old_message_does_not_bring_the_old_number_back(app: Flask) -> None:
    old = message(phone="2015")
    post(app, [old])
    post(app, [number_changed("2015", "2016")])
    post(app, [old])  # Meta redelivers the message sent from the old number
    assert clients(app) == [("2016", None, "Nour")]


def test_number_change_onto_a_client_of_the_same_user_merges(app: Flask) -> None:
    """The new number wrote first (Meta keeps no order): the two clients become one."""
    post(app, [message(phone="2017", user_id="US.17", timestamp="1700000100")], name="Mona")
    post(app, [message(phone="2018", user_id="US.18", timestamp="1700000200")], name="Mona")
    post(app, [number_changed("2017", "2018", user_id="US.17", new_user_id="US.18")])
    assert clients(app) == [("2018", "US.18", "Mona")]
    assert len(client_ids(app) - {None}) == 1


def test_a_2025_number_change_onto_a_client_of_the_same_user_merges(app: Flask) -> None:
    """Before business-scoped ids: the new number's client has no user id, so it merges."""
    post(app, [message(phone="2117", user_id="US.117", timestamp="1700000100")], name="Mona")
    post(app, [message(phone="2118", timestamp="1700000200")], name="Mona")
    post(app, [number_changed_2025("2117", "2118", user_id="US.117")])
    assert clients(app) == [("2118", "US.117", "Mona")]
    assert len(client_ids(app) - {None}) == 1


def test_number_change_onto_another_users_client_changes_nothing(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """The new number's client has another user id (a recycled number): left as it is."""
    post(app, [message(phone="2019", user_id="US.19")])
    post(app, [message(phone="2020", user_id="US.20")])
    post(app, [number_changed("2019", "2020", user_id="US.19", new_user_id="US.21")])
    assert clients(app) == [("2019", "US.19", "Nour"), ("2020", "US.20", "Nour")]
    assert "belongs to another user" in caplog.text
    caplog.clear()
    post(app, [number_changed_2025("2019", "2020", user_id="US.19")])
    assert clients(app) == [("2019", "US.19", "Nour"), ("2020", "US.20", "Nour")]
    assert "belongs to another user" in caplog.text


def test_user_changed_user_id_updates_the_client(app: Flask) -> None:
    post(app, [message(user_id="US.OLD")], name="Sara")
    client_id = app_client_id(app, user_id="US.OLD")
    change = user_id_changed("US.OLD", "US.NEW", parent="US.PARENT")
    post(app, [change])
    post(app, [change])
    post(app, [message(user_id="US.NEW")], name="Sara")
    web = app.test_client()
    assert probe(web, "clients", user_id="US.OLD") == []
    assert [c["name"] for c in probe(web, "clients", user_id="US.NEW")] == ["Sara"]
    assert clients(app) == [(None, "US.NEW", "Sara")]
    assert client_ids(app) == {client_id}
    assert len(probe(web, "messages", id=change["id"])) == 1


def test_user_changed_user_id_finds_the_client_by_number(app: Flask) -> None:
    """`from` names a client that never had the old user id: it gets the new one."""
    post(app, [message(phone="2021")])
    post(app, [user_id_changed(None, "US.21", phone="2021")])
    assert clients(app) == [("2021", "US.21", "Nour")]
    post(app, [user_id_changed("US.21", "US.22", phone="2021")])
    assert clients(app) == [("2021", "US.22", "Nour")]


def test_user_id_change_onto_a_phoneless_client_merges(app: Flask) -> None:
    """A message with the new user id came first: user ids are never reused, so merge."""
    post(app, [message(phone="2023", user_id="US.23", timestamp="1700000100")])
    post(app, [message(user_id="US.24", timestamp="1700000200")])
    post(app, [user_id_changed("US.23", "US.24", phone="2023")])
    assert clients(app) == [("2023", "US.24", "Nour")]
    assert len(client_ids(app)) == 1


def test_user_id_change_without_a_client_creates_nothing(app: Flask) -> None:
    post(app, [user_id_changed("US.25", "US.26")])
    assert clients(app) == []
    assert count(app, IntegrationLog) == 1


def test_a_batch_mixing_messages_and_identity_changes(app: Flask) -> None:
    """In one delivery, in order: each message meets the identities of its moment."""
    post(app, [message(phone="2030")], name="Hana")  # an existing client
    batch = [
        message(phone="2030", body="before"),
        number_changed("2030", "2031"),
        message(phone="2031", body="after"),
        message(user_id="US.31", body="phone-less"),  # not yet known as this user
        message(phone="2031", user_id="US.31"),  # ... now it is: one client
        user_id_changed("US.31", "US.32", phone="2031"),
        message(user_id="US.32"),
        message(phone="2040"),  # someone else, created on the way
        number_changed("2040", "2041"),
    ]
    post(app, batch, name="Hana")
    post(app, batch, name="Hana")  # Meta's redelivery changes nothing
    assert sorted(clients(app)) == [("2031", "US.32", "Hana"), ("2041", None, "Hana")]
    assert count(app, IntegrationLog) == 10
    assert count(app, Notification) == 10
    assert len(client_ids(app)) == 2


def test_shapes_agree_with_the_simulators_builders(app: Flask) -> None:
    """The hand-built system messages above have the simulator's shape (and so Meta's)."""
    from fakemeta.simulator import messages as builders
    from fakemeta.simulator.envelopes import Customer

    customer = Customer("201000000050", "Ali", user_id="US.50")
    built = builders.system_user_changed_number(
        customer, "201000000051", new_user_id="US.52", id="wamid.S1"
    )
    mine = number_changed("201000000050", "201000000051", user_id="US.50", new_user_id="US.52")
    assert list(built) == list(mine)
    assert list(built["system"]) == list(mine["system"])
    built_id = builders.system_user_changed_user_id(
        customer, "US.51", parent_user_id="US.P", id="wamid.S2"
    )
    mine_id = user_id_changed("US.50", "US.51", phone="201000000050", parent="US.P")
    assert list(built_id) == list(mine_id)
    assert list(built_id["system"]) == list(mine_id["system"])
    post(app, [message(phone="201000000050", user_id="US.50")])
    post(app, [dict(built)])
    assert clients(app) == [("201000000051", "US.52", "Nour")]
    renumbered = Customer("201000000051", "Ali", user_id="US.52")
    post(app, [builders.system_user_changed_user_id(renumbered, "US.51", id="wamid.S3")])
    assert clients(app) == [("201000000051", "US.51", "Nour")]


# -- under concurrency --------------------------------------------------------------------


def concurrent_halves(app: Flask, users: int = 30) -> None:
    """Clients known by number; then, at once, messages with both ids and phone-less ones."""
    tag = uuid.uuid4().hex[:8]
    phones = [f"209{i:06d}" for i in range(users)]
    user_ids = [f"US.{tag}.{i}" for i in range(users)]
    post(app, [message(phone=phone) for phone in phones])
    both = [message(phone=p, user_id=u) for p, u in zip(phones, user_ids, strict=True)]
    bare = [message(user_id=u) for u in user_ids]
    shuffler = random.Random(11)
    bodies = []
    for _ in range(4):
        for items in (both, bare, both[: users // 2] + bare[users // 2 :]):
            order = shuffler.sample(items, len(items))
            contacts = [contact_for(i, "Nour") for i in order]
            value = {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "1555", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": contacts,
                "messages": order,
            }
            envelope = {
                "object": "whatsapp_business_account",
                "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
            }
            bodies.append(meta_encode(envelope))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []
    url = f"http://127.0.0.1:{server.server_port}{WEBHOOK}"

    def send(body: bytes) -> None:
        headers = {"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"}
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            statuses.append(http.post(url, content=body, headers=headers).status_code)

    try:
        threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
        for each in threads:
            each.start()
        for each in threads:
            each.join()
    finally:
        server.shutdown()
        server.server_close()
    assert statuses == [200] * len(bodies)
    assert sorted(clients(app)) == sorted(
        (p, u, "Nour") for p, u in zip(phones, user_ids, strict=True)
    )
    assert count(app, IntegrationLog) == 3 * users
    assert len(client_ids(app)) == users


def test_concurrent_deliveries_keep_one_client_per_user(app: Flask) -> None:
    """(b) and (c) raced by 12 simultaneous deliveries: one client per user, each message once."""
    concurrent_halves(app)


def test_concurrent_merges_lose_no_notification(app: Flask) -> None:
    # The outbox row takes its client from the log row at insert time, and
    # reads it again if a concurrent merge deleted that client meanwhile.
    concurrent_halves(app)
    assert count(app, Notification) == count(app, IntegrationLog)
