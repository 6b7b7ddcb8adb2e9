"""Fixtures for the reference receiver's tests: apps on temporary SQLite, signed deliveries."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from receiver_helpers import (
    APP_SECRET,
    POSTGRES_URL,
    REDIS_URL,
    WEBHOOK,
    base_config,
    build_app,
    meta_encode,
    service_or_skip,
    sign,
)
from werkzeug.test import TestResponse

from fakemeta.reference_receiver.state import receiver_state


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The receiver reads os.environ and ./.env; neither may leak into a test.
    for name in list(os.environ):
        if name.startswith(("META_", "FCM_", "RATE_LIMIT", "FAKEMETA_PROBE")) or name in {
            "INTEGRATION_ENCRYPTION_KEY",
            "DATABASE_URL",
            "DATABASE_TIMEOUT",
            "TRUSTED_PROXY_HOPS",
            "MAX_BODY_BYTES",
            "API_BASE_URL",
            "INBOX_DRAIN",
        }:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def config(tmp_path: Path) -> dict[str, object]:
    return base_config(tmp_path)


@pytest.fixture
def app(config: dict[str, object]) -> Iterator[Flask]:
    app = build_app(config)
    yield app
    receiver_state(app).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


Deliver = Callable[..., TestResponse]


@pytest.fixture
def deliver(client: FlaskClient) -> Deliver:
    """POST a payload (dict, encoded the Meta way) or raw bytes, signed unless told otherwise."""

    def _deliver(
        payload: Any,
        *,
        signature: str | None = "auto",
        secret: str = APP_SECRET,
        ip: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        body = payload if isinstance(payload, bytes) else meta_encode(payload)
        sent = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature == "auto":
            sent["X-Hub-Signature-256"] = sign(body, secret)
        elif signature is not None:
            sent["X-Hub-Signature-256"] = signature
        sent.update(headers or {})
        return client.post(WEBHOOK, data=body, headers=sent, environ_base={"REMOTE_ADDR": ip})

    return _deliver


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    service_or_skip(POSTGRES_URL, "PostgreSQL")
    from sqlalchemy import create_engine, text

    schema = f"fakemeta_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    service_or_skip(REDIS_URL, "Redis")
    return REDIS_URL
