"""Writing deliveries into the CRM: clients, logs, outbound statuses, events.

Every method writes in the session and transaction it is given: the
drainer's (`drainer.py`), which applies a pass of inbox rows and deletes
them in one transaction, so a delivery is applied exactly once.

Messages cost a fixed number of statements, not a few each: on SQLite and
PostgreSQL `record_messages` stores a batch (one change, or the changes of
many deliveries to one account, in order) in one savepoint that looks the
senders' clients up in bulk (by number and by business-scoped user id; the
rules are in `identity.py`), inserts the missing ones and then the message
logs with `INSERT ... ON CONFLICT DO NOTHING ... RETURNING`, and moves the
touched clients forward with one executemany UPDATE. Deduplication stays the
database's job: a row the unique constraints refuse is simply not returned,
so a message comes back as new (and is notified) only from the transaction
that logged it, also under concurrent drainers. Rows are inserted in key
order, so that concurrent batches on PostgreSQL wait for each other instead
of deadlocking.

Should the bulk savepoint fail for anything but an unreachable database (a
deadlock between concurrent merges included), it is rolled back and the
batch stored again message by message, each in a savepoint of its own
(`record_message`, also the path for other databases), so one bad item does
not cost the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from . import bulk, events
from .identity import ClientPlan, IdentityConflict
from .models import (
    ACTION_MESSAGE_RECEIVED,
    Client,
    IntegrationAccount,
    IntegrationLog,
    utcnow,
)
from .notify import NewMessage
from .payload import CLIENTLESS_TYPES, InboundMessage

__all__ = ["AccountRef", "Store", "rolled_back"]

logger = logging.getLogger(__name__)

_CLIENTS = cast(Table, Client.__table__)
_LOGS = cast(Table, IntegrationLog.__table__)
# Attempts at one message's clients when concurrent deliveries keep changing them.
_ATTEMPTS = 3


@dataclass(frozen=True)
class AccountRef:
    id: int
    company_id: int
    phone_number_id: str


def rolled_back(error: OperationalError) -> bool:
    """A deadlock or serialization failure (SQLSTATE class 40): worth another try, unlike
    an unreachable database. Concurrent deliveries that merge or re-key the same
    clients can meet in an order no sorting rules out."""
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return isinstance(code, str) and code.startswith("40")


def _log_values(
    account: AccountRef, message: InboundMessage, client_id: int | None, now: datetime
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "from_user_id": message.sender_user_id,
        "known_type": message.known_type,
        "timestamp": message.sent_at.isoformat() if message.sent_at else None,
    }
    if message.timestamp_raw is not None:
        details["timestamp_raw"] = message.timestamp_raw  # unreadable: kept as sent
    return {
        "company_id": account.company_id,
        "account_id": account.id,
        "client_id": client_id,
        "action": ACTION_MESSAGE_RECEIVED,
        "message_id": message.message_id,
        "message_type": message.type,
        "sender": message.sender or message.sender_user_id,
        "text": message.text,
        "details": details,
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
    """The receiver's writes, in the caller's session: messages, statuses, events."""

    def __init__(self, bind: Engine) -> None:
        self._bulk = bind.dialect.name in bulk.DIALECTS

    @staticmethod
    def find_account(session: Session, phone_number_id: str) -> AccountRef | None:
        """The connected WhatsApp account for `phone_number_id`, if any."""
        row = session.execute(
            select(IntegrationAccount.id, IntegrationAccount.company_id).where(
                IntegrationAccount.platform == "whatsapp",
                IntegrationAccount.status == "connected",
                IntegrationAccount.phone_number_id == phone_number_id,
            )
        ).first()
        return None if row is None else AccountRef(row[0], row[1], phone_number_id)

    # -- a batch of messages, in bulk ------------------------------------------

    def record_messages(
        self, session: Session, account: AccountRef, messages: Sequence[InboundMessage]
    ) -> list[NewMessage]:
        """Store inbound messages to `account`, in order; returns the newly stored ones.

        Redeliveries (message ids already logged, or repeated in the batch)
        are left out. Raises `OperationalError` when the database is
        unreachable, or keeps rolling a message back (a deadlock).
        """
        if not messages:
            return []
        if self._bulk:
            try:
                with session.begin_nested():
                    return self._record_bulk(session, account, messages)
            except OperationalError as error:
                if not rolled_back(error):
                    raise
                logger.info(
                    "WhatsApp batch of %d message(s) was rolled back by the database (%s); "
                    "storing them one by one",
                    len(messages),
                    type(getattr(error, "orig", error)).__name__,
                )
            except IdentityConflict as conflict:
                logger.info(
                    "WhatsApp batch of %d message(s) met a concurrent delivery (%s); "
                    "storing them one by one",
                    len(messages),
                    conflict,
                )
            except Exception:
                logger.exception(
                    "WhatsApp batch of %d message(s) could not be stored at once; "
                    "storing them one by one",
                    len(messages),
                )
        stored = []
        for message in messages:
            event = self._record_one(session, account, message)
            if event is not None:
                stored.append(event)
        if any(m.changes_identity or (m.sender and m.sender_user_id) for m in messages):
            # A later message may have merged a client.
            stored = self._current_clients(session, stored)
        return stored

    def _record_one(
        self, session: Session, account: AccountRef, message: InboundMessage
    ) -> NewMessage | None:
        """`record_message` in a savepoint, so that a message that fails leaves nothing
        behind; again after a deadlock with a concurrent drainer (a rolled-back
        statement, not an outage: that still raises, and the pass is retried)."""
        for attempt in range(_ATTEMPTS):
            try:
                with session.begin_nested():
                    return self.record_message(session, account, message)
            except OperationalError as error:
                if attempt + 1 < _ATTEMPTS and rolled_back(error):
                    continue
                raise
            except Exception:
                logger.exception(
                    "WhatsApp message %s could not be stored; skipped", message.message_id
                )
                return None
        return None

    @staticmethod
    def _current_clients(session: Session, events: list[NewMessage]) -> list[NewMessage]:
        """`events` with the client each one's log points at now (a merge moves logs)."""
        log_ids = [event.log_id for event in events]
        now = {
            log_id: client_id
            for condition in bulk.matching(session, _LOGS.c.id, log_ids)
            for log_id, client_id in session.execute(
                select(_LOGS.c.id, _LOGS.c.client_id).where(condition)
            )
        }
        return [
            replace(event, client_id=now.get(event.log_id, event.client_id)) for event in events
        ]

    def _record_bulk(
        self, session: Session, account: AccountRef, messages: Sequence[InboundMessage]
    ) -> list[NewMessage]:
        first: dict[str, InboundMessage] = {}
        for message in messages:
            first.setdefault(message.message_id, message)  # a repeat in the batch is a redelivery
        now = utcnow()
        # A redelivery creates and changes no client: after a number change,
        # an old message from the old number must not bring its client back.
        logged = self._logged(session, account.id, list(first))
        batch = [message for mid, message in first.items() if mid not in logged]
        if not batch:
            return []
        clients, fresh = self._batch_clients(session, account, batch, now)
        rows = [
            _log_values(account, message, clients[index], now)
            for index, message in enumerate(batch)
        ]
        rows.sort(key=lambda row: str(row["message_id"]))  # key order: batches lock alike
        inserted = bulk.insert_rows(
            session, _LOGS, rows, _LOGS.c.message_id, _LOGS.c.id, skip_conflicts=True
        )
        log_ids: dict[str, int] = {str(mid): int(log_id) for mid, log_id in inserted}
        stored = [
            (index, message) for index, message in enumerate(batch) if message.message_id in log_ids
        ]
        self._touch_clients(session, [(clients[i], m) for i, m in stored], now, fresh)
        return [_new_message(account, m, clients[i], log_ids[m.message_id]) for i, m in stored]

    def _batch_clients(
        self, session: Session, account: AccountRef, batch: list[InboundMessage], now: datetime
    ) -> tuple[dict[int, int | None], dict[int, tuple[str | None, datetime]]]:
        """Each message's client id (None: it has none) by index; the clients created.

        The rules of `identity.py`, message after message in batch order, so
        that a batch ends as the same messages stored one by one would; the
        created clients come back with their initial name and time.
        """
        plan = ClientPlan.load(session, account.id, batch)
        refs: list[int | None] = []
        for message in batch:
            refs.append(plan.assign(message, create=message.type not in CLIENTLESS_TYPES))
            if message.changes_identity:
                plan.change_identity(message)
        fresh = plan.apply(session, account.company_id, now, skip_conflicts=True)
        clients = {
            index: None if ref is None else plan.client_id(ref) for index, ref in enumerate(refs)
        }
        return clients, fresh

    @staticmethod
    def _logged(session: Session, account_id: int, message_ids: list[str]) -> set[str]:
        """Which of `message_ids` the account has logged already."""
        found: set[str] = set()
        for condition in bulk.matching(session, _LOGS.c.message_id, sorted(message_ids)):
            found.update(
                session.execute(
                    select(_LOGS.c.message_id).where(
                        _LOGS.c.account_id == account_id,
                        _LOGS.c.action == ACTION_MESSAGE_RECEIVED,
                        condition,
                    )
                ).scalars()
            )
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

    def _planned(
        self,
        session: Session,
        account: AccountRef,
        message: InboundMessage,
        step: Callable[[ClientPlan], int | None],
    ) -> int | None:
        """`step` on a plan of `message`'s clients, written in a savepoint of its own.

        A unique constraint that refuses the outcome means a concurrent
        drainer changed these clients first: look again, a few times.
        """
        for attempt in range(_ATTEMPTS):
            try:
                with session.begin_nested():
                    plan = ClientPlan.load(session, account.id, [message])
                    ref = step(plan)
                    plan.apply(session, account.company_id, utcnow(), skip_conflicts=False)
                    return None if ref is None else plan.client_id(ref)
            except (IntegrityError, OperationalError) as error:
                if attempt == _ATTEMPTS - 1 or not (
                    isinstance(error, IntegrityError) or rolled_back(error)
                ):
                    raise
        return None

    def _client_id(
        self, session: Session, account: AccountRef, message: InboundMessage, create: bool
    ) -> int | None:
        return self._planned(
            session, account, message, lambda plan: plan.assign(message, create=create)
        )

    def _change_identity(
        self, session: Session, account: AccountRef, message: InboundMessage
    ) -> None:
        def change(plan: ClientPlan) -> None:
            plan.change_identity(message)

        try:
            self._planned(session, account, message, change)
        except OperationalError:
            raise
        except Exception:
            # The message is logged (CLIENT-6) and a redelivery would be skipped as one.
            logger.exception(
                "WhatsApp system message %s: the identity change could not be stored",
                message.message_id,
            )

    def record_message(
        self, session: Session, account: AccountRef, message: InboundMessage
    ) -> NewMessage | None:
        """Store one inbound message; None when already stored.

        The log row is inserted in a savepoint and a unique-constraint
        violation means a redelivery. An identity change (CLIENT-10) is applied
        only by the delivery that logged it.
        """
        if self.message_logged(session, account.id, message.message_id):
            return None  # a redelivery creates and changes no client (see _record_bulk)
        client_id = self._client_id(
            session, account, message, create=message.type not in CLIENTLESS_TYPES
        )
        log = IntegrationLog(**_log_values(account, message, client_id, utcnow()))
        try:
            with session.begin_nested():
                session.add(log)
                session.flush()
                if client_id is not None:
                    self._touch_clients(session, [(client_id, message)], utcnow())
        except IntegrityError:
            if self.message_logged(session, account.id, message.message_id):
                return None
            raise
        if message.changes_identity:
            # May merge this client: see record_messages.
            self._change_identity(session, account, message)
        return _new_message(account, message, client_id, log.id)

    @staticmethod
    def message_logged(session: Session, account_id: int, message_id: str) -> bool:
        count = session.execute(
            select(func.count(IntegrationLog.id)).where(
                IntegrationLog.account_id == account_id,
                IntegrationLog.action == ACTION_MESSAGE_RECEIVED,
                IntegrationLog.message_id == message_id,
            )
        ).scalar_one()
        return count > 0

    # -- statuses and events (fakemeta/reference_receiver/events.py) ----------------------

    @staticmethod
    def record_statuses(session: Session, account: AccountRef, statuses: list[Any]) -> int:
        """Move known outbound messages forward; log statuses of unknown ones. Returns updates."""
        return events.record_statuses(session, account.company_id, account.id, statuses)

    @staticmethod
    def record_event(
        session: Session, account: AccountRef | None, action: str, details: dict[str, Any]
    ) -> None:
        """A log row for anything that is not an inbound message or a status."""
        events.record_event(
            session,
            account.company_id if account else None,
            account.id if account else None,
            action,
            details,
        )
