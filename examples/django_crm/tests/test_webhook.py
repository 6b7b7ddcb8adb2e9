"""The project's own tests, with fakemeta's fixtures: signed deliveries and their negatives.

`fakemeta_deliveries` signs with the secret and names the phone number id
that `fakemeta_target` (conftest.py) gives, and `.post()` sends to the same
in-process app.
"""

from __future__ import annotations

import pytest
from django.test import Client as DjangoClient

from crm.models import Client
from integrations.models import IntegrationAccount, IntegrationLog

WEBHOOK = "/api/integrations/webhooks/whatsapp/"


@pytest.fixture(autouse=True)
def _database(crm_account: IntegrationAccount) -> None:
    """Every test here needs the migrated database and the connected account."""


def test_handshake_echoes_the_challenge() -> None:
    response = DjangoClient().get(
        WEBHOOK,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "example-verify-token",
            "hub.challenge": "test123",
        },
    )
    assert response.status_code == 200
    assert response.content == b"test123"
    assert response["Content-Type"].startswith("text/plain")


def test_a_text_creates_the_client_and_one_log(fakemeta_deliveries) -> None:
    delivery = fakemeta_deliveries.text("مرحبا، أحتاج معلومات 👋")
    assert fakemeta_deliveries.post(delivery).status == 200
    assert fakemeta_deliveries.post(delivery).status == 200  # Meta redelivers

    customer = fakemeta_deliveries.customer
    client = Client.objects.get(phone=customer.wa_id)
    assert (client.source, client.name) == ("whatsapp", customer.name)
    log = IntegrationLog.objects.get(sender=customer.wa_id)
    assert log.action == "whatsapp_message_received"
    assert log.text == "مرحبا، أحتاج معلومات 👋"


@pytest.mark.parametrize("variant", ["unsigned", "tampered", "signed_with"])
def test_bad_signatures_are_refused_and_store_nothing(fakemeta_deliveries, variant: str) -> None:
    valid = fakemeta_deliveries.text("should never be stored")
    negative = {
        "unsigned": valid.unsigned(),
        "tampered": valid.tampered(),
        "signed_with": valid.signed_with("another-app-secret"),
    }[variant]
    assert fakemeta_deliveries.post(negative).status == 401
    assert not Client.objects.filter(phone=fakemeta_deliveries.customer.wa_id).exists()


@pytest.mark.fakemeta(app_secret="a-rotated-secret")
def test_the_marker_signs_with_another_secret(fakemeta_deliveries) -> None:
    assert fakemeta_deliveries.post(fakemeta_deliveries.text()).status == 401


def test_every_catalog_message_type_is_acknowledged(fakemeta_deliveries) -> None:
    for name in ("image", "location", "interactive_button_reply", "unsupported", "reaction"):
        assert fakemeta_deliveries.post(fakemeta_deliveries.build(name)).status == 200, name


def test_the_access_token_is_stored_encrypted(crm_account: IntegrationAccount) -> None:
    stored = IntegrationAccount.objects.get(pk=crm_account.pk)
    assert stored.metadata["access_token"] != "EAAG-example-access-token"
    assert stored.access_token == "EAAG-example-access-token"
