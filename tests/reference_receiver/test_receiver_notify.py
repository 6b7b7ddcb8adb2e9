"""Notifications: the outbox by default, FCM HTTP v1 over httpx (respx), never blocking the 200."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from receiver_helpers import (
    WEBHOOK,
    base_config,
    build_app,
    envelope,
    meta_encode,
    sign,
    text_message,
)
from sqlalchemy import select

from fakemeta.reference_receiver.models import Notification
from fakemeta.reference_receiver.notify import FcmNotifier, NewMessage, OutboxNotifier
from fakemeta.reference_receiver.state import receiver_state

FCM_URL = "https://fcm.googleapis.com/v1/projects/crm-test/messages:send"


def post(app: Any, payload: dict[str, Any]) -> int:
    body = meta_encode(payload)
    return int(
        app.test_client()
        .post(WEBHOOK, data=body, headers={"X-Hub-Signature-256": sign(body)})
        .status_code
    )


def test_new_message_writes_one_outbox_row(deliver, app) -> None:
    message = text_message("need a quote", sender="2031")
    deliver(envelope([message], name="Omar"))
    deliver(envelope([message], name="Omar"))  # redelivery: no second notification
    with receiver_state(app).sessions() as session:
        rows = session.execute(select(Notification)).scalars().all()
    assert len(rows) == 1
    assert rows[0].channel == "outbox"
    assert rows[0].status == "pending"
    assert rows[0].title == "New WhatsApp message from Omar"
    assert rows[0].body == "need a quote"


def test_failing_notifier_never_fails_the_200(deliver, app, client) -> None:
    class Broken:
        def notify(self, event: NewMessage) -> None:
            raise RuntimeError("push service exploded")

        def close(self) -> None:
            return None

    receiver_state(app).notifier = Broken()
    message = text_message()
    assert deliver(envelope([message])).status_code == 200
    from receiver_helpers import probe

    assert len(probe(client, "messages", id=message["id"])) == 1


def test_outbox_notifier_swallows_database_errors() -> None:
    class NoSessions:
        def __call__(self) -> Any:
            raise RuntimeError("db gone")

    OutboxNotifier(NoSessions()).notify(  # type: ignore[arg-type]
        NewMessage(1, 1, 1, "wamid.X", "1", None, "text", "hi")
    )


@respx.mock(assert_all_called=True)
def test_fcm_with_static_token_posts_http_v1_message(tmp_path: Path, respx_mock: Any) -> None:
    route = respx_mock.post(FCM_URL).mock(return_value=httpx.Response(200, json={"name": "x"}))
    app = build_app(base_config(tmp_path, FCM_PROJECT_ID="crm-test", FCM_ACCESS_TOKEN="ya29.tok"))
    notifier = receiver_state(app).notifier
    assert isinstance(notifier, FcmNotifier)
    assert post(app, envelope([text_message("مرحبا", sender="2032")], name="Sara")) == 200
    notifier.flush()
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer ya29.tok"
    sent = json.loads(request.content)["message"]
    assert sent["topic"].startswith("company-")
    assert sent["notification"] == {"title": "New WhatsApp message from Sara", "body": "مرحبا"}
    assert sent["data"]["type"] == "text"
    receiver_state(app).close()


@respx.mock(assert_all_called=True)
def test_fcm_with_service_account_uses_signed_jwt(tmp_path: Path, respx_mock: Any) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credentials = tmp_path / "service-account.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "fcm@crm-test.iam.gserviceaccount.com",
                "private_key": pem,
                "private_key_id": "k1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    token = respx_mock.post("https://oauth2.googleapis.com/token").mock(
        return_value=httpx.Response(200, json={"access_token": "ya29.jwt", "expires_in": 3599})
    )
    send = respx_mock.post(FCM_URL).mock(return_value=httpx.Response(200, json={}))
    app = build_app(
        base_config(tmp_path, FCM_PROJECT_ID="crm-test", FCM_CREDENTIALS_FILE=str(credentials))
    )
    notifier = receiver_state(app).notifier
    assert isinstance(notifier, FcmNotifier)
    assert post(app, envelope([text_message(sender="2033")])) == 200
    assert post(app, envelope([text_message(sender="2034")])) == 200
    notifier.flush()
    assert token.call_count == 1  # cached until it expires
    assert send.call_count == 2
    form = dict(x.split("=", 1) for x in token.calls.last.request.content.decode().split("&"))
    assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    header, claims, signature = form["assertion"].split(".")
    import base64

    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["iss"] == "fcm@crm-test.iam.gserviceaccount.com"
    assert decoded["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key.public_key().verify(
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        f"{header}.{claims}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert send.calls.last.request.headers["Authorization"] == "Bearer ya29.jwt"
    receiver_state(app).close()


@pytest.mark.parametrize("failure", ["500", "timeout"])
def test_failing_or_slow_fcm_never_delays_the_200(
    tmp_path: Path, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(2)
        raise httpx.ReadTimeout("slow", request=request)

    with respx.mock() as mock:
        mock.post(FCM_URL).mock(
            return_value=httpx.Response(500) if failure == "500" else None,
            side_effect=None if failure == "500" else slow,
        )
        app = build_app(base_config(tmp_path, FCM_PROJECT_ID="crm-test", FCM_ACCESS_TOKEN="t"))
        started = time.perf_counter()
        assert post(app, envelope([text_message()])) == 200
        assert time.perf_counter() - started < 1.0
        notifier = receiver_state(app).notifier
        assert isinstance(notifier, FcmNotifier)
        notifier.flush()
    assert "FCM notification" in caplog.text
    assert "Bearer t" not in caplog.text
    receiver_state(app).close()
