"""The probe API of DESIGN.md: only with FAKEMETA_PROBE_TOKEN, only with that bearer token."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from receiver_helpers import (
    PHONE_NUMBER_ID,
    PROBE_TOKEN,
    base_config,
    build_app,
    envelope,
    probe,
    text_message,
)

from fakemeta.reference_receiver.probe import stored_message_counts
from fakemeta.reference_receiver.state import receiver_state


def test_probe_is_absent_without_a_probe_token(tmp_path: Path) -> None:
    app = build_app(base_config(tmp_path, FAKEMETA_PROBE_TOKEN=""))
    client = app.test_client()
    response = client.get("/_fakemeta/probe/clients?phone=1", headers={"Authorization": "Bearer "})
    assert response.status_code == 404
    receiver_state(app).close()


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong",
        f"bearer {PROBE_TOKEN}",
        PROBE_TOKEN,
        f"Bearer {PROBE_TOKEN}x",
        f"Basic {PROBE_TOKEN}",
    ],
)
def test_probe_needs_the_exact_bearer_token(client: FlaskClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for path in ("/_fakemeta/probe/clients?phone=1", "/_fakemeta/probe/messages?id=x"):
        assert client.get(path, headers=headers).status_code == 401


def test_probe_answers_the_documented_shapes(deliver, client: FlaskClient) -> None:
    message = {
        "from": "2019",
        "id": "wamid.P",
        "timestamp": "1700000000",
        "type": "image",
        "image": {"caption": "a/b", "id": "1", "mime_type": "image/jpeg"},
    }
    deliver(envelope([message], name=None))  # type: ignore[arg-type]
    auth = {"Authorization": f"Bearer {PROBE_TOKEN}"}
    clients = client.get("/_fakemeta/probe/clients", query_string={"phone": "2019"}, headers=auth)
    assert clients.status_code == 200
    assert clients.mimetype == "application/json"
    assert clients.get_json() == {
        "clients": [
            {
                "phone": "2019",
                "user_id": None,
                "name": None,
                "source": "whatsapp",
                "account": PHONE_NUMBER_ID,
            }
        ]
    }
    messages = client.get("/_fakemeta/probe/messages", query_string={"id": "wamid.P"}, headers=auth)
    assert messages.get_json() == {
        "messages": [
            {
                "id": "wamid.P",
                "from": "2019",
                "type": "image",
                "text": "a/b",
                "account": PHONE_NUMBER_ID,
            }
        ]
    }
    empty = client.get("/_fakemeta/probe/messages", query_string={"id": "nope"}, headers=auth)
    assert empty.get_json() == {"messages": []}


def test_probe_finds_clients_by_user_id(deliver, client: FlaskClient) -> None:
    """2026 business-scoped users: `clients?user_id=`, with the user_id in every record."""
    message = {
        "from_user_id": "US.1349120865530274191",
        "id": "wamid.U",
        "timestamp": "1700000000",
        "text": {"body": "hi"},
        "type": "text",
    }
    contacts = [
        {"profile": {"name": "Nour", "username": "nour"}, "user_id": "US.1349120865530274191"}
    ]
    deliver(envelope([message], contacts=contacts))
    auth = {"Authorization": f"Bearer {PROBE_TOKEN}"}
    found = client.get(
        "/_fakemeta/probe/clients",
        query_string={"user_id": "US.1349120865530274191"},
        headers=auth,
    )
    assert found.status_code == 200
    assert found.get_json() == {
        "clients": [
            {
                "phone": None,
                "user_id": "US.1349120865530274191",
                "name": "Nour",
                "source": "whatsapp",
                "account": PHONE_NUMBER_ID,
            }
        ]
    }
    other = client.get("/_fakemeta/probe/clients?user_id=US.other", headers=auth)
    assert other.get_json() == {"clients": []}


@pytest.mark.parametrize(
    "query", ["", "?name=x", "?phone=1&user_id=US.1", "?phone=1&phone=2&user_id=US.1"]
)
def test_probe_clients_needs_exactly_one_of_phone_and_user_id(
    client: FlaskClient, query: str
) -> None:
    auth = {"Authorization": f"Bearer {PROBE_TOKEN}"}
    response = client.get(f"/_fakemeta/probe/clients{query}", headers=auth)
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True).count("\n") == 1
    assert "phone" in response.get_data(as_text=True)


def test_probe_is_not_rate_limited(tmp_path: Path) -> None:
    app = build_app(base_config(tmp_path, RATE_LIMIT="2/60"))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {PROBE_TOKEN}"}
    codes = {
        client.get("/_fakemeta/probe/clients?phone=1", headers=auth).status_code for _ in range(5)
    }
    assert codes == {200}
    receiver_state(app).close()


def test_stored_message_counts_agree_with_the_probe_api(
    deliver, client: FlaskClient, app: Flask
) -> None:
    first, second = text_message(message_id="wamid.C1"), text_message(message_id="wamid.C2")
    deliver(envelope([first, second]))  # type: ignore[arg-type]
    deliver(envelope([first]))  # type: ignore[arg-type]  # a redelivery: stored once
    ids = ["wamid.C1", "wamid.C2", "wamid.never"]
    counts = stored_message_counts(app, ids)
    assert counts == {"wamid.C1": 1, "wamid.C2": 1}
    for message_id in ids:
        assert counts.get(message_id, 0) == len(probe(client, "messages", id=message_id))
