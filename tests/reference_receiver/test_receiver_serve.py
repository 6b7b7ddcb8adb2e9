"""`serve.start_background`: a real threaded server on loopback for `fakemeta check`."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from pathlib import Path

import httpx
import pytest

from fakemeta.reference_receiver.serve import start_background


def body_and_signature(secret: str, phone_number_id: str, message_id: str) -> tuple[bytes, str]:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "1",
                                "phone_number_id": phone_number_id,
                            },
                            "contacts": [{"profile": {"name": "Zed"}, "wa_id": "2061"}],
                            "messages": [
                                {
                                    "from": "2061",
                                    "id": message_id,
                                    "timestamp": "1700000000",
                                    "type": "text",
                                    "text": {"body": "hi/there"},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    body = json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()
    return body, "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_start_background_serves_handshake_deliveries_and_probe() -> None:
    with start_background({"phone_number_id": "777", "verify_token": "vt"}) as running:
        assert running.url.startswith("http://127.0.0.1:")
        assert running.url.endswith("/api/integrations/webhooks/whatsapp/")
        assert running.probe_url.endswith("/_fakemeta/probe")
        assert running.app_secret
        assert running.probe_token
        ok = httpx.get(
            running.url,
            params={"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "42"},
        )
        assert (ok.status_code, ok.text) == (200, "42")
        body, signature = body_and_signature(running.app_secret, "777", "wamid.BG")
        posted = httpx.post(running.url, content=body, headers={"X-Hub-Signature-256": signature})
        assert posted.status_code == 200
        auth = {"Authorization": f"Bearer {running.probe_token}"}
        found = httpx.get(f"{running.probe_url}/messages", params={"id": "wamid.BG"}, headers=auth)
        assert found.json()["messages"][0]["text"] == "hi/there"
        assert found.json()["messages"][0]["account"] == "777"
        directory = Path(running.database_url.removeprefix("sqlite:///")).parent
        assert directory.exists()
    assert not directory.exists()


def test_start_background_limits_per_source_address_in_127_8() -> None:
    with start_background({"rate_limit": "3/60"}) as running:

        def codes(source: str, n: int) -> list[int]:
            transport = httpx.HTTPTransport(local_address=source)
            with httpx.Client(transport=transport) as http:
                return [http.get(running.url).status_code for _ in range(n)]

        assert codes("127.0.0.21", 4) == [403, 403, 403, 429]
        assert codes("127.0.0.22", 1) == [403]


def test_start_background_handles_concurrent_requests() -> None:
    with start_background({"rate_limit": "off"}) as running:
        results: list[int] = []

        def deliver(i: int) -> None:
            body, signature = body_and_signature(
                running.app_secret, running.phone_number_id, f"wamid.C{i}"
            )
            response = httpx.post(
                running.url, content=body, headers={"X-Hub-Signature-256": signature}
            )
            results.append(response.status_code)

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200] * 20


def test_access_log_never_shows_the_verify_token(caplog: pytest.LogCaptureFixture) -> None:
    """Secrets are never logged: the handshake's token is redacted from werkzeug's access log."""
    with (
        caplog.at_level(logging.INFO, logger="werkzeug"),
        start_background({"verify_token": "very-secret-vt", "quiet": False}) as running,
    ):
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": "very-secret-vt",
            "hub.challenge": "5",
        }
        assert httpx.get(running.url, params=params).text == "5"
    assert "hub.verify_token=***" in caplog.text
    assert "very-secret-vt" not in caplog.text
