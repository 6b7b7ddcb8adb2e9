"""Writing deliveries into the CRM: clients, logs, outbound statuses, events.

Deduplication is the database's job. A new client is inserted in its own
short transaction and a unique-constraint violation means another request
created it first; a message log is inserted before anything else in its
transaction and a violation means the message was already stored, so the
whole transaction (client update included) is rolled back and reported as a
duplicate. This holds for concurrent redeliveries on PostgreSQL as well as
for sequential ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .models import (
    ACTION_MESSAGE_RECEIVED,
    ACTION_STATUS_UNKNOWN,
    Client,
    IntegrationAccount,
    IntegrationLog,
    OutboundMessage,
    utcnow,
)
from .notify import NewMessage
from .payload import CLIENTLESS_TYPES, InboundMessage, as_dict, as_str, sanitize

__all__ = ["AccountRef", "Store"]

# Later statuses never move back to earlier ones (Meta's order is not guaranteed).
_STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4}


@dataclass(frozen=True)
class AccountRef:
    id: int
    company_id: int
    phone_number_id: str


class Store:
    """The receiver's writes, one short transaction each."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def find_account(self, phone_number_id: str) -> AccountRef | None:
        """The connected WhatsApp account for `phone_number_id`, if any."""
        with self._sessions() as session:
            row = session.execute(
                select(IntegrationAccount.id, IntegrationAccount.company_id).where(
                    IntegrationAccount.platform == "whatsapp",
                    IntegrationAccount.status == "connected",
                    IntegrationAccount.phone_number_id == phone_number_id,
                )
            ).first()
        return None if row is None else AccountRef(row[0], row[1], phone_number_id)

    def _identity(self, message: InboundMessage) -> Any:
        if message.sender is not None:
            return Client.phone == message.sender
        return Client.user_id == message.sender_user_id

    def _client_id(self, account: AccountRef, message: InboundMessage, create: bool) -> int | None:
        query = select(Client.id).where(Client.account_id == account.id, self._identity(message))
        try:
            with self._sessions() as session, session.begin():
                found = session.execute(query).scalar()
                if found is not None or not create:
                    return found
                client = Client(
                    company_id=account.company_id,
                    account_id=account.id,
                    source="whatsapp",
                    phone=message.sender,
                    user_id=message.sender_user_id,
                    name=message.name,
                    last_message_at=message.sent_at or utcnow(),
                )
                session.add(client)
                session.flush()
                return client.id
        except IntegrityError:
            pass
        # Someone else created it between our select and insert.
        with self._sessions() as session:
            found = session.execute(query).scalar()
        if found is None:
            raise RuntimeError("client insert conflicted but no client exists")
        return found

    def record_message(self, account: AccountRef, message: InboundMessage) -> NewMessage | None:
        """Store one inbound message; None when it was already stored (a redelivery)."""
        client_id = self._client_id(account, message, create=message.type not in CLIENTLESS_TYPES)
        log = IntegrationLog(
            company_id=account.company_id,
            account_id=account.id,
            client_id=client_id,
            action=ACTION_MESSAGE_RECEIVED,
            message_id=message.message_id,
            message_type=message.type,
            sender=message.sender or message.sender_user_id,
            text=message.text,
            details={
                "from_user_id": message.sender_user_id,
                "known_type": message.known_type,
                "timestamp": message.sent_at.isoformat() if message.sent_at else None,
            },
        )
        try:
            with self._sessions() as session, session.begin():
                session.add(log)
                session.flush()
                if client_id is not None:
                    self._touch_client(session, client_id, message.name, message.sent_at)
        except IntegrityError:
            if self.message_logged(account.id, message.message_id):
                return None
            raise
        return NewMessage(
            company_id=account.company_id,
            client_id=client_id,
            log_id=log.id,
            message_id=message.message_id,
            sender=message.sender or message.sender_user_id,
            client_name=message.name,
            message_type=message.type,
            text=message.text,
        )

    @staticmethod
    def _touch_client(
        session: Session, client_id: int, name: str | None, sent_at: datetime | None
    ) -> None:
        when = sent_at or utcnow()
        values: dict[str, Any] = {
            # One statement, so concurrent messages cannot move the time backwards.
            "last_message_at": case(
                (Client.last_message_at.is_(None), when),
                (Client.last_message_at < when, when),
                else_=Client.last_message_at,
            )
        }
        if name:
            values["name"] = name
        session.execute(update(Client).where(Client.id == client_id).values(**values))

    def message_logged(self, account_id: int, message_id: str) -> bool:
        with self._sessions() as session:
            count = session.execute(
                select(func.count(IntegrationLog.id)).where(
                    IntegrationLog.account_id == account_id,
                    IntegrationLog.action == ACTION_MESSAGE_RECEIVED,
                    IntegrationLog.message_id == message_id,
                )
            ).scalar_one()
        return count > 0

    def record_statuses(self, account: AccountRef, statuses: list[Any]) -> int:
        """Move known outbound messages forward; log statuses of unknown ones. Returns updates."""
        updated = 0
        with self._sessions() as session, session.begin():
            for item in statuses:
                status = as_dict(item)
                message_id = as_str(status.get("id"))
                value = as_str(status.get("status"))
                outbound = None
                if message_id:
                    outbound = session.execute(
                        select(OutboundMessage).where(
                            OutboundMessage.account_id == account.id,
                            OutboundMessage.message_id == message_id,
                        )
                    ).scalar_one_or_none()
                if outbound is None:
                    session.add(
                        IntegrationLog(
                            company_id=account.company_id,
                            account_id=account.id,
                            action=ACTION_STATUS_UNKNOWN,
                            details=sanitize({"status": status}),
                        )
                    )
                    continue
                if value and _advances(outbound.status, value):
                    outbound.status = value[:32]
                    outbound.updated_at = utcnow()
                    if value == "failed":
                        outbound.errors = sanitize({"errors": status.get("errors")})
                    updated += 1
        return updated

    def record_event(
        self, account: AccountRef | None, action: str, details: dict[str, Any]
    ) -> None:
        """A log row for anything that is not an inbound message or a status."""
        with self._sessions() as session, session.begin():
            session.add(
                IntegrationLog(
                    company_id=account.company_id if account else None,
                    account_id=account.id if account else None,
                    action=action,
                    details=sanitize(details),
                )
            )


def _advances(current: str, new: str) -> bool:
    if new == "failed":
        return current not in {"read", "played", "failed"}
    if new not in _STATUS_RANK:
        return False
    return _STATUS_RANK[new] > _STATUS_RANK.get(current, -1)
