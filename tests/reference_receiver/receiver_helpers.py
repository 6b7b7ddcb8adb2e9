"""Helpers for the reference receiver's tests: Meta-encoded payloads, signatures, apps.

Payloads are built by hand here (not with `simulator`) so that these tests
do not depend on work in progress elsewhere and the receiver's signature
check is tested against an independent encoder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from fakemeta.reference_receiver import create_app
from fakemeta.reference_receiver.accounts import add_account
from fakemeta.reference_receiver.db import migrate
from fakemeta.reference_receiver.state import receiver_state

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PROBE_TOKEN = "test-probe-token"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
WEBHOOK = "/api/integrations/webhooks/whatsapp/"
ENCRYPTION_KEY = Fernet.generate_key().decode()

POSTGRES_URL = os.environ.get(
    "FAKEMETA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("FAKEMETA_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def meta_encode(payload: Any) -> bytes:
    """The bytes Meta would send: minified, ASCII-escaped, `/` as `\\/`."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode("ascii")


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def text_message(
    body: str = "Hello, I need information",
    *,
    sender: str = "201001234567",
    message_id: str | None = None,
    timestamp: str = "1700000000",
) -> dict[str, Any]:
    return {
        "from": sender,
        "id": message_id or f"wamid.{uuid.uuid4().hex}",
        "timestamp": timestamp,
        "type": "text",
        "text": {"body": body},
    }


def message_of(
    kind: str, content: dict[str, Any], *, sender: str = "201001234567"
) -> dict[str, Any]:
    return {
        "from": sender,
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": "1700000000",
        "type": kind,
        kind: content,
    }


def envelope(
    messages: list[dict[str, Any]] | None = None,
    *,
    contacts: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
    field: str = "messages",
    name: str = "Layla",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id},
    }
    if messages is not None:
        if contacts is None:
            senders = dict.fromkeys(m["from"] for m in messages if "from" in m)
            contacts = [{"profile": {"name": name}, "wa_id": s} for s in senders]
        value["contacts"] = contacts
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": field}]}],
    }


def base_config(tmp_path: Path, **overrides: object) -> dict[str, object]:
    config: dict[str, object] = {
        "META_CLIENT_ID": "1234567890",
        "META_CLIENT_SECRET": APP_SECRET,
        "META_WEBHOOK_VERIFY_TOKEN": VERIFY_TOKEN,
        "INTEGRATION_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "API_BASE_URL": "http://localhost:8000",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'receiver.sqlite3'}",
        "RATE_LIMIT": "off",
        "RATE_LIMIT_STORAGE_URI": "memory://",
        "TRUSTED_PROXY_HOPS": "0",
        "MAX_BODY_BYTES": "",
        "FAKEMETA_PROBE_TOKEN": PROBE_TOKEN,
        "FCM_PROJECT_ID": "",
        "FCM_CREDENTIALS_FILE": "",
        "FCM_ACCESS_TOKEN": "",
    }
    config.update(overrides)
    return config


class SettleAfterDeliveries:
    """WSGI middleware for tests of what a delivery stores: after each webhook POST,
    wait until the app's drainer has applied what was acknowledged, so that the
    test reads the store the delivery left (the receiver applies deliveries
    after answering them). Tests of the inbox itself build apps without it."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._wsgi_app = app.wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        response = self._wsgi_app(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == WEBHOOK:
            drainer = receiver_state(self._app).drainer
            if drainer is not None and drainer.running:
                assert drainer.wait_idle(30), "the drainer did not apply the delivery in 30 s"
        return response


def build_app(config: dict[str, object], *, account: bool = True, settle: bool = True) -> Flask:
    """A migrated app with a connected account; with `settle`, each webhook POST
    returns once the drainer has applied it (`SettleAfterDeliveries`)."""
    migrate(str(config["DATABASE_URL"]))
    app = create_app(config)
    app.config["TESTING"] = True
    if settle:
        app.wsgi_app = SettleAfterDeliveries(app)  # type: ignore[method-assign]
    if account:
        state = receiver_state(app)
        add_account(
            state.sessions,
            state.cipher,
            company="Acme",
            phone_number_id=PHONE_NUMBER_ID,
            phone_number=DISPLAY_NUMBER,
            access_token="EAAG-secret-access-token",
        )
    return app


def probe(client: FlaskClient, what: str, **query: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/_fakemeta/probe/{what}",
        query_string=query,
        headers={"Authorization": f"Bearer {PROBE_TOKEN}"},
    )
    assert response.status_code == 200, response.data
    result: list[dict[str, Any]] = response.get_json()[what]
    return result


def service_or_skip(url: str, kind: str) -> None:
    """Skip when the service at `url` is unreachable, unless CI is set: then fail."""
    parts = urlsplit(url.replace("+psycopg", ""))
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (5432 if kind == "PostgreSQL" else 6379)
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as error:
        message = f"{kind} is not reachable at {host}:{port} ({error})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI requires it")
        pytest.skip(message)
