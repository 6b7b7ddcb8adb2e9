"""Telling the company about a new inbound message: an outbox table or FCM.

The drainer (`drainer.py`) hands over a pass's new messages at once. A
notifier with `stage(session, events)` writes in the drainer's transaction,
so the outbox notifier's `Notification` rows (the company's apps poll them)
are committed with the logs they announce, in one bulk insert, or not at
all. Others are called after the commit (`notify_all`) and never raise: the
FCM notifier posts to Firebase Cloud Messaging HTTP v1 from a small thread
pool, so a slow or failing Firebase cannot hold up the inbox; it sends to
the topic `company-<id>`. Nothing here runs before the webhook's 200.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, cast

import httpx
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import bulk
from .config import Settings
from .models import IntegrationLog, Notification, utcnow

__all__ = [
    "FCM_SCOPE",
    "FcmNotifier",
    "NewMessage",
    "Notifier",
    "OutboxNotifier",
    "build_notifier",
    "notify_all",
]

logger = logging.getLogger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Writes of one notification, against merges of its client by concurrent deliveries.
_ATTEMPTS = 3


@dataclass(frozen=True)
class NewMessage:
    """A newly stored inbound message (never sent for a redelivery)."""

    company_id: int
    client_id: int | None
    log_id: int
    message_id: str
    sender: str | None
    client_name: str | None
    message_type: str
    text: str | None

    @property
    def title(self) -> str:
        return f"New WhatsApp message from {self.client_name or self.sender or 'a client'}"

    @property
    def body(self) -> str:
        return (self.text or f"[{self.message_type}]")[:200]


class Notifier(Protocol):
    """Tells about one new message; may also offer `notify_many(events)` (see
    `notify_all`) and `stage(session, events)` (in the drainer's transaction)."""

    def notify(self, event: NewMessage) -> None: ...

    def close(self) -> None: ...


def notify_all(notifier: Notifier, events: Sequence[NewMessage]) -> None:
    """Hand `events` to `notifier`, at once when it has `notify_many`; never raises."""
    many = getattr(notifier, "notify_many", None)
    if callable(many):
        try:
            many(events)
            return
        except Exception:
            logger.exception("notifier failed for %d message(s); notifying one by one", len(events))
    for event in events:
        try:
            notifier.notify(event)
        except Exception:
            logger.exception("notifier failed for message %s", event.message_id)


class OutboxNotifier:
    """Writes one pending `Notification` row per new message."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def notify(self, event: NewMessage) -> None:
        for attempt in range(_ATTEMPTS):
            try:
                self._write([event])
                return
            except IntegrityError:
                # A concurrent delivery merged the message's client into another
                # between our read of the log row and the insert: read it again.
                if attempt + 1 < _ATTEMPTS:
                    continue
                logger.exception(
                    "could not write the notification for message %s", event.message_id
                )
            except Exception:
                logger.exception(
                    "could not write the notification for message %s", event.message_id
                )
                return

    def stage(self, session: Session, events: Sequence[NewMessage]) -> None:
        """Insert the rows in the caller's transaction, where the events' clients are
        final (their logs were written in it), so they are not read again."""
        if events:
            self._insert(session, events, {}, utcnow())

    def notify_many(self, events: Sequence[NewMessage]) -> None:
        """One transaction and one bulk insert for all of `events`; one by one if that fails."""
        if not events:
            return
        try:
            self._write(events)
        except Exception:
            logger.exception("could not write %d notifications at once", len(events))
            for event in events:
                self.notify(event)

    def _write(self, events: Sequence[NewMessage]) -> None:
        """Insert the rows, each with its message's client as the log row has it now:
        a concurrent delivery may have merged the client the event was stored with
        into another (fakemeta/reference_receiver/identity.py) and deleted it."""
        now = utcnow()
        with self._sessions() as session, session.begin():
            log_ids = [event.log_id for event in events]
            current = dict(
                session.execute(
                    select(IntegrationLog.id, IntegrationLog.client_id).where(
                        IntegrationLog.id.in_(log_ids)
                    )
                ).all()
            )
            self._insert(session, events, current, now)

    @staticmethod
    def _insert(
        session: Session,
        events: Sequence[NewMessage],
        current: dict[int, int | None],
        now: datetime,
    ) -> None:
        rows = [
            {
                "company_id": event.company_id,
                "client_id": current.get(event.log_id, event.client_id),
                "log_id": event.log_id,
                "channel": "outbox",
                "title": event.title[:256],
                "body": event.body,
                "status": "pending",
                "created_at": now,
            }
            for event in events
        ]
        if bulk.dialect_of(session) in bulk.DIALECTS:
            bulk.insert_rows(session, cast(Table, Notification.__table__), rows)
        else:
            session.execute(insert(Notification), rows)

    def close(self) -> None:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def service_account_assertion(info: dict[str, Any], now: float) -> str:
    """A signed RS256 JWT for Google's OAuth token endpoint (service-account flow)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    header = {"alg": "RS256", "typ": "JWT"}
    if info.get("private_key_id"):
        header["kid"] = str(info["private_key_id"])
    claims = {
        "iss": info["client_email"],
        "scope": FCM_SCOPE,
        "aud": info.get("token_uri", "https://oauth2.googleapis.com/token"),
        "iat": int(now),
        "exp": int(now) + 3600,
    }
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the service account key is not an RSA key")
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


class FcmNotifier:
    """Firebase Cloud Messaging HTTP v1, with a static token or a service account."""

    def __init__(
        self,
        *,
        project_id: str,
        endpoint: str = "https://fcm.googleapis.com",
        access_token: str = "",
        credentials_file: str = "",
        timeout: float = 5.0,
        workers: int = 2,
    ) -> None:
        self._project_id = project_id
        self._endpoint = endpoint.rstrip("/")
        self._static_token = access_token
        self._info: dict[str, Any] | None = (
            json.loads(Path(credentials_file).read_text("utf-8")) if credentials_file else None
        )
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=timeout)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fcm")
        self.pending: list[Future[None]] = []

    def __repr__(self) -> str:
        return f"FcmNotifier(project_id={self._project_id!r})"

    def _access_token(self) -> str:
        if self._static_token:
            return self._static_token
        assert self._info is not None
        with self._lock:
            now = time.time()
            if self._token is not None and self._token[1] > now + 60:
                return self._token[0]
            token_uri = self._info.get("token_uri", "https://oauth2.googleapis.com/token")
            response = self._client.post(
                token_uri,
                data={
                    "grant_type": _JWT_BEARER,
                    "assertion": service_account_assertion(self._info, now),
                },
            )
            response.raise_for_status()
            payload = response.json()
            self._token = (payload["access_token"], now + float(payload.get("expires_in", 3600)))
            return self._token[0]

    def send(self, event: NewMessage) -> None:
        """Post one FCM message now (raises on failure); `notify` runs this in the pool."""
        message = {
            "message": {
                "topic": f"company-{event.company_id}",
                "notification": {"title": event.title, "body": event.body},
                "data": {
                    "message_id": event.message_id,
                    "client_id": str(event.client_id or ""),
                    "type": event.message_type,
                },
            }
        }
        url = f"{self._endpoint}/v1/projects/{self._project_id}/messages:send"
        response = self._client.post(
            url, json=message, headers={"Authorization": f"Bearer {self._access_token()}"}
        )
        response.raise_for_status()

    def _send_logged(self, event: NewMessage) -> None:
        try:
            self.send(event)
        except Exception as error:
            logger.warning("FCM notification for %s failed: %s", event.message_id, error)

    def notify(self, event: NewMessage) -> None:
        self.notify_many([event])

    def notify_many(self, events: Sequence[NewMessage]) -> None:
        """Queue one FCM request per event; returns at once."""
        pending = [f for f in self.pending if not f.done()]
        for event in events:
            try:
                pending.append(self._pool.submit(self._send_logged, event))
            except RuntimeError:  # pool shut down
                break
        self.pending = pending

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for queued notifications (tests, shutdown)."""
        for future in list(self.pending):
            future.result(timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def build_notifier(settings: Settings, sessions: sessionmaker[Session]) -> Notifier:
    if settings.fcm_enabled:
        return FcmNotifier(
            project_id=settings.fcm_project_id,
            endpoint=settings.fcm_endpoint,
            access_token=settings.fcm_access_token,
            credentials_file=settings.fcm_credentials_file,
        )
    return OutboxNotifier(sessions)
