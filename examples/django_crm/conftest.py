"""Run fakemeta's contract suite against this Django project, in-process.

The one thing the plugin needs is the `fakemeta_target` fixture: the WSGI
app, the webhook's path, the secrets the app was configured with, the phone
number id of a connected account, and a probe that reads the store with the
ORM (DESIGN.md's probe protocol: clients by number, log entries by message
id, clients by business-scoped user id; lists of plain dicts).

Settings come from the environment, so they are set here before Django
starts: a throwaway SQLite file and test secrets.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import django
import pytest
from cryptography.fernet import Fernet
from fakemeta.contract_tests.plugin import ContractTarget

APP_SECRET = "example-app-secret"
VERIFY_TOKEN = "example-verify-token"
PHONE_NUMBER_ID = "106540352242922"
WEBHOOK_PATH = "/api/integrations/webhooks/whatsapp/"

_directory = tempfile.mkdtemp(prefix="django-crm-")
atexit.register(shutil.rmtree, _directory, ignore_errors=True)
_database = Path(_directory) / "db.sqlite3"
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "crm_project.settings",
        "DATABASE_PATH": str(_database),
        "META_CLIENT_SECRET": APP_SECRET,
        "META_WEBHOOK_VERIFY_TOKEN": VERIFY_TOKEN,
        "INTEGRATION_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
)
django.setup()

from django.core.management import call_command  # noqa: E402 - needs django.setup()
from django.core.wsgi import get_wsgi_application  # noqa: E402

from crm.models import Client, Company  # noqa: E402
from integrations.models import (  # noqa: E402
    ACTION_MESSAGE_RECEIVED,
    IntegrationAccount,
    IntegrationLog,
)


@pytest.fixture(scope="session")
def crm_account() -> IntegrationAccount:
    """A migrated database with one company and its connected WhatsApp number."""
    call_command("migrate", verbosity=0)
    company = Company.objects.create(name="Example Trading Co.")
    account = IntegrationAccount(
        company=company,
        platform="whatsapp",
        status="connected",
        metadata={"phone_number_id": PHONE_NUMBER_ID, "phone_number": "15550783881"},
    )
    account.access_token = "EAAG-example-access-token"
    account.save()
    return account


def _client_records(**where: str) -> list[dict[str, Any]]:
    return [
        {
            "phone": client.phone,
            "user_id": client.user_id,
            "name": client.name,
            "source": client.source,
            "account": client.account.phone_number_id,
        }
        for client in Client.objects.filter(**where).select_related("account").order_by("id")
    ]


def probe_clients(phone: str) -> list[dict[str, Any]]:
    return _client_records(phone=phone)


def probe_clients_by_user_id(user_id: str) -> list[dict[str, Any]]:
    """2026 business-scoped users, who may have no number (CLIENT-9, CLIENT-10)."""
    return _client_records(user_id=user_id)


def probe_messages(message_id: str) -> list[dict[str, Any]]:
    logs = IntegrationLog.objects.filter(action=ACTION_MESSAGE_RECEIVED, message_id=message_id)
    return [
        {
            "id": log.message_id,
            "from": log.sender,
            "type": log.message_type,
            "text": log.text,
            "account": log.account.phone_number_id,
        }
        for log in logs.select_related("account").order_by("id")
    ]


@pytest.fixture(scope="session")
def fakemeta_target(crm_account: IntegrationAccount) -> ContractTarget:
    return ContractTarget(
        app=get_wsgi_application(),
        path=WEBHOOK_PATH,
        probe=(probe_clients, probe_messages, probe_clients_by_user_id),
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
        phone_number_id=crm_account.phone_number_id,
    )
