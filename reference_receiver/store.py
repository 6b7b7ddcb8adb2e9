"""Writing deliveries into the CRM: clients, logs, outbound statuses, events.

A change's messages cost a fixed number of statements, not a few
transactions each: on SQLite and PostgreSQL `record_messages` stores them
in one transaction that looks the senders' clients up in bulk, inserts the
missing ones and then the message logs with `INSERT ... ON CONFLICT DO
NOTHING ... RETURNING`, and moves the touched clients forward with one
executemany UPDATE. Deduplication stays the database's job: a row the unique
constraints refuse is simply not returned, so a message comes back as new
(and is notified) only from the transaction that logged it, also under
concurrent redeliveries. Rows are inserted in key order, so that concurrent
batches on PostgreSQL wait for each other instead of deadlocking.

Should the bulk transaction fail for anything but an unreachable database,
the change is stored again message by message (`record_message`, also the
path for other databases), so one bad item does not cost the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from . import bulk, events
from .models import (
    ACTION_MESSAGE_RECEIVED,
    Client,
    IntegrationAccount,
    IntegrationLog,
    utcnow,
)
from .notify import NewMessage
from .payload import CLIENTLESS_TYPES, InboundMessage

__all__ = ["AccountRef", "Store"]

logger = logging.getLogger(__name__)

_CLIENTS = cast(Table, Client.__table__)
_LOGS = cast(Table, IntegrationLog.__table__)

# A client's identity within its account: ("phone", digits) or ("user", business-scoped id).
_Key = tuple[str, str]


@dataclass(frozen=True)
class AccountRef:
    id: int
    company_id: int
    phone_number_id: str


def _key(phone: str | None, user_id: str | None) -> _Key:
    return ("phone", phone) if phone is not None else ("user", user_id or "")


def _key_of(message: InboundMessage) -> _Key:
    return _key(message.sender, message.sender_user_id)


def _log_values(
    account: AccountRef, message: InboundMessage, client_id: int | None, now: datetime
) -> dict[str, Any]:
    return {
        "company_id": account.company_id,
        "account_id": account.id,
        "client_id": client_id,
        "action": ACTION_MESSAGE_RECEIVED,
        "message_id": message.message_id,
        "message_type": message.type,
        "sender": message.sender or message.sender_user_id,
        "text": message.text,
        "details": {
            "from_user_id": message.sender_user_id,
            "known_type": message.known_type,
            "timestamp": message.sent_at.isoformat() if message.sent_at else None,
        },
        "created_at": now,
    }


def _new_message(
    account: AccountRef, message: InboundMessage, client_id: int | None, log_id: int
) -> NewMessage:
    return NewMessage(
        company_id=account.company_id,
        client_id=client_id,
        log_id=log_id,
        message_id=message.message_id,
        sender=message.sender or message.sender_user_id,
        client_name=message.name,
        message_type=message.type,
        text=message.text,
    )


class Store:
    """The receiver's writes: one transaction per change's messages, statuses or event."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        bind = sessions.kw.get("bind")
        self._bulk = bind is not None and bind.dialect.name in bulk.DIALECTS

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

    # -- a change's messages, in bulk ------------------------------------------

    def record_messages(
        self, account: AccountRef, messages: Sequence[InboundMessage]
    ) -> list[NewMessage]:
        """Store a change's inbound messages; returns the newly stored ones, in order.

        Redeliveries (message ids already logged, or repeated in the batch)
        are left out. Raises `OperationalError` when the database is unreachable.
        """
        if not messages:
            return []
        if self._bulk:
            try:
                return self._record_bulk(account, messages)
            except OperationalError:
                raise
            except Exception:
                logger.exception(
                    "WhatsApp batch of %d message(s) could not be stored at once; "
                    "storing them one by one",
                    len(messages),
                )
        stored = []
        for message in messages:
            try:
                event = self.record_message(account, message)
            except OperationalError:
                raise
            except Exception:
                logger.exception(
                    "WhatsApp message %s could not be stored; skipped", message.message_id
                )
                continue
            if event is not None:
                stored.append(event)
        return stored

    def _record_bulk(
        self, account: AccountRef, messages: Sequence[InboundMessage]
    ) -> list[NewMessage]:
        first: dict[str, InboundMessage] = {}
        for message in messages:
            first.setdefault(message.message_id, message)  # a repeat in the batch is a redelivery
        batch = list(first.values())
        now = utcnow()
        with self._sessions() as session, session.begin():
            clients, fresh = self._batch_clients(session, account, batch, now)
            rows = [
                _log_values(account, message, clients[index], now)
                for index, message in enumerate(batch)
                if index in clients
            ]
            rows.sort(key=lambda row: str(row["message_id"]))  # key order: batches lock alike
            inserted = bulk.insert_rows(
                session, _LOGS, rows, _LOGS.c.message_id, _LOGS.c.id, skip_conflicts=True
            )
            log_ids: dict[str, int] = {str(mid): int(log_id) for mid, log_id in inserted}
            stored = [
                (index, message)
                for index, message in enumerate(batch)
                if index in clients and message.message_id in log_ids
            ]
            self._touch_clients(session, [(clients[i], m) for i, m in stored], now, fresh)
        return [_new_message(account, m, clients[i], log_ids[m.message_id]) for i, m in stored]

    def _batch_clients(
        self, session: Session, account: AccountRef, batch: list[InboundMessage], now: datetime
    ) -> tuple[dict[int, int | None], dict[int, tuple[str | None, datetime]]]:
        """Each message's client id (None: it has none) by index; the clients created.

        Creates the missing clients and returns their initial name and time
        too. A message whose client could be neither found nor created (its
        user id belongs to a client with another number) is left out, as
        before batching.
        """
        keys = [_key_of(message) for message in batch]
        existing = self._find_clients(session, account.id, set(keys))
        # The first message that may create a client decides its initial values.
        creators: dict[_Key, int] = {}
        for index, (key, message) in enumerate(zip(keys, batch, strict=True)):
            if key not in existing and message.type not in CLIENTLESS_TYPES:
                creators.setdefault(key, index)
        created: dict[_Key, int] = {}
        fresh: dict[int, tuple[str | None, datetime]] = {}
        if creators:
            order = sorted(creators.items())  # key order: concurrent batches lock alike
            rows = [
                {
                    "company_id": account.company_id,
                    "account_id": account.id,
                    "source": "whatsapp",
                    "phone": batch[index].sender,
                    "user_id": batch[index].sender_user_id,
                    "name": batch[index].name,
                    "last_message_at": batch[index].sent_at or now,
                    "created_at": now,
                }
                for _, index in order
            ]
            inserted = bulk.insert_rows(
                session,
                _CLIENTS,
                rows,
                _CLIENTS.c.id,
                _CLIENTS.c.phone,
                _CLIENTS.c.user_id,
                skip_conflicts=True,
            )
            created = {_key(phone, user): int(client_id) for client_id, phone, user in inserted}
            fresh = {
                created[key]: (batch[index].name, batch[index].sent_at or now)
                for key, index in order
                if key in created
            }
            # Refused rows were created meanwhile by a concurrent delivery.
            raced = {key for key in creators if key not in created}
            if raced:
                existing.update(self._find_clients(session, account.id, raced))
        clients: dict[int, int | None] = {}
        for index, (key, message) in enumerate(zip(keys, batch, strict=True)):
            creates = message.type not in CLIENTLESS_TYPES
            if key in existing:
                clients[index] = existing[key]
            elif key in created:
                # A reaction that comes before its sender's first message has no client yet.
                clients[index] = created[key] if creates or creators[key] < index else None
            elif creates:
                logger.error(
                    "WhatsApp message %s: client insert conflicted but no client exists; skipped",
                    message.message_id,
                )
            else:
                clients[index] = None
        return clients, fresh

    @staticmethod
    def _find_clients(session: Session, account_id: int, keys: Iterable[_Key]) -> dict[_Key, int]:
        by_kind: dict[str, list[str]] = {"phone": [], "user": []}
        for kind, value in keys:
            by_kind[kind].append(value)
        found: dict[_Key, int] = {}
        for kind, column in (("phone", _CLIENTS.c.phone), ("user", _CLIENTS.c.user_id)):
            for condition in bulk.matching(session, column, sorted(by_kind[kind])):
                rows = session.execute(
                    select(_CLIENTS.c.id, column).where(
                        _CLIENTS.c.account_id == account_id, condition
                    )
                )
                found.update({(kind, str(value)): int(client_id) for client_id, value in rows})
        return found

    @staticmethod
    def _touch_clients(
        session: Session,
        touches: list[tuple[int | None, InboundMessage]],
        now: datetime,
        fresh: dict[int, tuple[str | None, datetime]] | None = None,
    ) -> None:
        """Move each client's name and last message time forward, one executemany UPDATE.

        `fresh` clients were inserted by this transaction with these values:
        no one else can have changed them, so they are updated only if needed.
        """
        latest: dict[int, tuple[str | None, datetime]] = {}
        for client_id, message in touches:
            if client_id is None:
                continue
            sent = message.sent_at or now
            name, when = latest.get(client_id, (None, sent))
            latest[client_id] = (message.name or name, max(when, sent))
        for client_id, (initial_name, initial_when) in (fresh or {}).items():
            if client_id in latest:
                name, when = latest[client_id]
                if name in (None, initial_name) and when <= initial_when:
                    del latest[client_id]
        if not latest:
            return
        table = _CLIENTS
        column = table.c.last_message_at
        new_time = bindparam("b_when", type_=column.type)
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                # Compared in the statement, so concurrent messages cannot move the time backwards.
                last_message_at=case(
                    (column.is_(None), new_time), (column < new_time, new_time), else_=column
                ),
                name=func.coalesce(bindparam("b_name", type_=table.c.name.type), table.c.name),
            )
        )
        session.connection().execute(
            statement,
            [
                {"b_id": client_id, "b_name": name or None, "b_when": when}
                for client_id, (name, when) in sorted(latest.items())
            ],
        )

    # -- one message, the fallback ---------------------------------------------

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
        """Store one inbound message in its own transactions; None when already stored.

        The log row is inserted first in its transaction and a unique-constraint
        violation means a redelivery: the client update is rolled back with it.
        """
        client_id = self._client_id(account, message, create=message.type not in CLIENTLESS_TYPES)
        log = IntegrationLog(**_log_values(account, message, client_id, utcnow()))
        try:
            with self._sessions() as session, session.begin():
                session.add(log)
                session.flush()
                if client_id is not None:
                    self._touch_clients(session, [(client_id, message)], utcnow())
        except IntegrityError:
            if self.message_logged(account.id, message.message_id):
                return None
            raise
        return _new_message(account, message, client_id, log.id)

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

    # -- statuses and events (reference_receiver/events.py) ----------------------

    def record_statuses(self, account: AccountRef, statuses: list[Any]) -> int:
        """Move known outbound messages forward; log statuses of unknown ones. Returns updates."""
        return events.record_statuses(self._sessions, account.company_id, account.id, statuses)

    def record_event(
        self, account: AccountRef | None, action: str, details: dict[str, Any]
    ) -> None:
        """A log row for anything that is not an inbound message or a status."""
        events.record_event(
            self._sessions,
            account.company_id if account else None,
            account.id if account else None,
            action,
            details,
        )
