"""One client per user: business-scoped user ids (CLIENT-9) and identity changes (CLIENT-10).

Built with fakemeta's own builders, so the shapes are Meta's; sent with
`fakemeta_deliveries` to the in-process app. The database lives for the whole
session, so every test uses identifiers of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from fakemeta.simulator import envelopes, messages
from fakemeta.simulator.envelopes import Customer

from conftest import probe_clients, probe_clients_by_user_id, probe_messages
from crm.models import Client
from integrations.models import IntegrationAccount


@pytest.fixture(autouse=True)
def _database(crm_account: IntegrationAccount) -> None:
    """Every test here needs the migrated database and the connected account."""


def user_id() -> str:
    return f"US.{uuid.uuid4().int % 10**19}"


def send(deliveries: Any, message: dict[str, Any], sender: Customer | None) -> None:
    payload = envelopes.message_payload(deliveries.account, message, sender)
    assert deliveries.post(deliveries.of(payload)).status == 200


def identities(*clients: Client) -> list[tuple[str | None, str | None]]:
    return [(c.phone, c.user_id) for c in clients]


def test_a_phoneless_user_gets_one_client(fakemeta_deliveries) -> None:
    hidden = Customer(None, "Nour", user_id=user_id(), username="nour")
    first = messages.text(hidden, "first")
    send(fakemeta_deliveries, first, hidden)
    send(fakemeta_deliveries, messages.text(hidden, "second"), hidden)
    [record] = probe_clients_by_user_id(hidden.user_id or "")
    assert (record["phone"], record["name"]) == (None, "Nour")
    assert probe_messages(first["id"])[0]["from"] == hidden.user_id


def number_only(deliveries: Any, name: str = "Nour") -> Customer:
    """A client first known by number alone, as every client was before 2026."""
    return replace(deliveries.new_customer(name), user_id=None)


def test_b_number_then_both_then_user_id_only(fakemeta_deliveries) -> None:
    old = number_only(fakemeta_deliveries, "Layla")
    both = Customer(old.wa_id, "Layla", user_id=user_id())
    hidden = Customer(None, "Layla", user_id=both.user_id)
    for sender in (old, both, hidden):
        send(fakemeta_deliveries, messages.text(sender, "hi"), sender)
    clients = Client.objects.filter(phone=old.wa_id) | Client.objects.filter(user_id=both.user_id)
    assert identities(*clients) == [(old.wa_id, both.user_id)]


def test_c_user_id_then_both(fakemeta_deliveries) -> None:
    number = fakemeta_deliveries.new_customer().wa_id
    hidden = Customer(None, "Sara", user_id=user_id())
    both = Customer(number, "Sara", user_id=hidden.user_id)
    for sender in (hidden, both):
        send(fakemeta_deliveries, messages.text(sender, "hi"), sender)
    assert probe_clients(number or "") == probe_clients_by_user_id(hidden.user_id or "")
    assert len(probe_clients(number or "")) == 1


def test_user_changed_number_moves_the_client(fakemeta_deliveries) -> None:
    customer = fakemeta_deliveries.new_customer("Mona")
    new_number = fakemeta_deliveries.new_customer().wa_id or ""
    send(fakemeta_deliveries, messages.text(customer, "hi"), customer)
    change = messages.system_user_changed_number(customer, new_number)
    send(fakemeta_deliveries, change, None)
    send(fakemeta_deliveries, change, None)  # redelivered
    assert probe_clients(customer.wa_id or "") == []
    assert [c["name"] for c in probe_clients(new_number)] == ["Mona"]
    assert len(probe_messages(change["id"])) == 1
    if customer.user_id is not None:  # 2026: the new number came with a new user id
        new_user_id = change["system"]["user_id"]
        assert probe_clients_by_user_id(new_user_id) == probe_clients(new_number)
        assert probe_clients_by_user_id(customer.user_id) == []


def test_user_changed_number_without_a_client_creates_nothing(fakemeta_deliveries) -> None:
    customer = fakemeta_deliveries.new_customer()
    new_number = fakemeta_deliveries.new_customer().wa_id or ""
    change = messages.system_user_changed_number(customer, new_number)
    send(fakemeta_deliveries, change, None)
    assert probe_clients(new_number) == []
    assert len(probe_messages(change["id"])) == 1


def test_user_changed_user_id_updates_the_client(fakemeta_deliveries) -> None:
    hidden = Customer(None, "Hana", user_id=user_id())
    new_id = user_id()
    send(fakemeta_deliveries, messages.text(hidden, "hi"), hidden)
    send(fakemeta_deliveries, messages.system_user_changed_user_id(hidden, new_id), None)
    assert probe_clients_by_user_id(hidden.user_id or "") == []
    assert [c["name"] for c in probe_clients_by_user_id(new_id)] == ["Hana"]


def test_two_halves_of_one_user_are_merged(fakemeta_deliveries) -> None:
    """A number-only and a phone-less client, then a message naming both: one client."""
    old = number_only(fakemeta_deliveries, "Ali")
    hidden = Customer(None, "Ali", user_id=user_id())
    both = Customer(old.wa_id, "Ali", user_id=hidden.user_id)
    for sender in (old, hidden, both):
        send(fakemeta_deliveries, messages.text(sender, "hi"), sender)
    assert identities(*Client.objects.filter(user_id=hidden.user_id)) == [
        (old.wa_id, hidden.user_id)
    ]
    assert Client.objects.filter(phone=old.wa_id).count() == 1
