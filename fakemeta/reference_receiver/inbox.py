"""The inbox: verified deliveries, stored as received before the 200, until applied.

The webhook's one durable write is `Inbox.add()`: the raw body and its
verified digest in one short transaction (`INSERT ... ON CONFLICT DO
NOTHING` on the digest, so an identical redelivery that arrives while the
first still waits adds nothing). Everything else a delivery causes happens
later, in the drainer (`drainer.py`), which `claim()`s a pass of rows in id
order, applies them and `remove()`s them in the same transaction.

Claims are safe across processes: on PostgreSQL the rows are locked with
`FOR UPDATE SKIP LOCKED`, so concurrent drainers take disjoint rows and a
row's lock lasts until the transaction that applies and deletes it ends; on
SQLite every write transaction holds the database's one write lock from its
`BEGIN IMMEDIATE` (`db.py`), so drainers take turns and the next one finds
the rows already deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from . import bulk
from .models import InboxDelivery, utcnow

__all__ = ["MAX_ATTEMPTS", "Inbox", "InboxCounts", "InboxUnavailable", "Waiting"]

#: Passes a delivery may fail (a bug, not an outage) before it is left for a person.
MAX_ATTEMPTS = 5
_TABLE = cast(Table, InboxDelivery.__table__)
# Dialects whose SELECT ... FOR UPDATE SKIP LOCKED lets drainers claim side by side.
_SKIP_LOCKED = frozenset({"postgresql"})


@dataclass(frozen=True)
class Waiting:
    """A claimed delivery: its inbox row id and the body exactly as it was signed."""

    id: int
    body: bytes


@dataclass(frozen=True)
class InboxCounts:
    waiting: int  # still to be applied (failed passes included, until MAX_ATTEMPTS)
    failed: int  # given up on after MAX_ATTEMPTS: see `last_error`


class InboxUnavailable(Exception):
    """The inbox could not store a delivery.

    Cause: the database is down, unreachable, locked or hung for longer than
    `DATABASE_TIMEOUT` (SQLite: its busy timeout), or out of space. The webhook
    answers 503 with `Retry-After`, so Meta delivers again later. Fix: bring the
    database back; nothing else.
    """


# The acknowledgement's one statement, by placeholder style. Written out, not
# built by SQLAlchemy, because it is the only work before the 200 and runs on
# the driver's own connection (see `Inbox.add`).
_INTAKE_COLUMNS = ("digest", "body", "size", "received_at", "attempts")
_INTAKE_SQL = (
    "INSERT INTO webhook_inbox (digest, body, size, received_at, attempts) "
    "VALUES ({0}, {0}, {0}, {0}, {0}) ON CONFLICT (digest) DO NOTHING"
)
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


class Inbox:
    """Intake and claims of the `webhook_inbox` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        self._skip_locked = dialect.name in _SKIP_LOCKED
        placeholder = _PLACEHOLDERS.get(dialect.paramstyle)
        # The driver's connection, not SQLAlchemy's, for SQLite and PostgreSQL: a
        # third of the acknowledgement's time went to SQLAlchemy's statement
        # machinery for this one INSERT. On PostgreSQL it runs in autocommit mode,
        # a transaction of its own without the BEGIN and COMMIT round trips (the
        # server still commits before it answers); on SQLite too, as a single
        # statement that takes the write lock itself (the busy timeout applies).
        self._raw_sql = (
            _INTAKE_SQL.format(placeholder)
            if dialect.name in {"sqlite", "postgresql"} and placeholder
            else None
        )
        self._autocommit = dialect.name == "postgresql"
        # How SQLAlchemy would store each value (SQLite keeps datetimes as text).
        self._processors = [
            _TABLE.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in _INTAKE_COLUMNS
        ]
        self._dbapi_error: type[Exception] = getattr(dialect.loaded_dbapi, "Error", Exception)

    def add(self, body: bytes, digest: bytes) -> bool:
        """Store one verified delivery durably; False when an identical one is still waiting.

        Raises `InboxUnavailable` when the database cannot take it (the webhook
        answers 503 then, and Meta delivers again).
        """
        values = (digest, body, len(body), utcnow(), 0)
        if self._raw_sql is None:
            return self._add_with_sqlalchemy(dict(zip(_INTAKE_COLUMNS, values, strict=True)))
        params = tuple(
            value if process is None else process(value)
            for value, process in zip(values, self._processors, strict=True)
        )
        for attempt in (1, 2):
            try:
                connection = self._engine.raw_connection()
            except (DBAPIError, PoolTimeout, self._dbapi_error) as error:
                # Cannot connect at all, or every pooled connection stayed busy
                # for DATABASE_TIMEOUT (each waiting on a hung database).
                raise InboxUnavailable(f"{type(error).__name__}: {error}") from error
            try:
                return self._write(connection.driver_connection, params)
            except self._dbapi_error as error:
                dead = self._engine.dialect.is_disconnect(
                    error,  # type: ignore[arg-type]
                    connection.dbapi_connection,
                    None,
                )
                if dead:
                    connection.invalidate(error)
                    if attempt == 1:  # a connection the server closed (a restart): a new one
                        continue
                raise InboxUnavailable(f"{type(error).__name__}: {error}") from error
            finally:
                connection.close()
        raise AssertionError("unreachable")

    def _write(self, driver: Any, params: tuple[Any, ...]) -> bool:
        if self._autocommit:
            driver.autocommit = True
        try:
            cursor = driver.cursor()
            try:
                cursor.execute(self._raw_sql, params)
                return bool(cursor.rowcount)
            finally:
                cursor.close()
        finally:
            if self._autocommit:
                driver.autocommit = False  # the pool hands it to sessions next

    def _add_with_sqlalchemy(self, values: dict[str, Any]) -> bool:
        """Other databases: a plain INSERT, a duplicate refused by the unique constraint."""
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(_TABLE), values)
        except IntegrityError:
            return False
        except (DBAPIError, PoolTimeout) as error:
            raise InboxUnavailable(str(getattr(error, "orig", error))) from error
        return True

    def claim(self, session: Session, *, rows: int, budget: int) -> list[Waiting]:
        """The next deliveries in id order, at most `rows` and about `budget` bytes of
        bodies (always one at least), locked for this transaction."""
        now = utcnow()
        heads = select(_TABLE.c.id, _TABLE.c.size).where(
            _TABLE.c.attempts < MAX_ATTEMPTS,
            or_(_TABLE.c.retry_at.is_(None), _TABLE.c.retry_at <= now),
        )
        heads = heads.order_by(_TABLE.c.id).limit(max(1, rows))
        if self._skip_locked:
            heads = heads.with_for_update(skip_locked=True)
        chosen: list[int] = []
        total = 0
        for row_id, size in session.execute(heads):
            if chosen and total + size > budget:
                break  # the rest stay locked until this transaction ends, then go to the next
            chosen.append(int(row_id))
            total += int(size)
        if not chosen:
            return []
        bodies: dict[int, bytes] = {}
        for condition in bulk.matching(session, _TABLE.c.id, chosen):
            bodies.update(
                (int(row_id), bytes(body))
                for row_id, body in session.execute(
                    select(_TABLE.c.id, _TABLE.c.body).where(condition)
                )
            )
        return [Waiting(row_id, bodies[row_id]) for row_id in chosen if row_id in bodies]

    @staticmethod
    def remove(session: Session, ids: Sequence[int]) -> None:
        """Delete applied deliveries, in the transaction that applied them."""
        for condition in bulk.matching(session, _TABLE.c.id, list(ids)):
            session.execute(delete(_TABLE).where(condition))

    def failed(self, row_id: int, error: str) -> int:
        """Count a failed pass over one delivery and put it off; returns its attempts.

        Retried after 1, 2, 4, ... seconds; at `MAX_ATTEMPTS` it is left in
        the inbox (with `last_error`) and never claimed again.
        """
        with self._engine.begin() as connection:
            attempts = connection.execute(
                select(_TABLE.c.attempts).where(_TABLE.c.id == row_id)
            ).scalar()
            if attempts is None:
                return 0
            attempts = int(attempts) + 1
            connection.execute(
                update(_TABLE)
                .where(_TABLE.c.id == row_id)
                .values(
                    attempts=attempts,
                    retry_at=utcnow() + timedelta(seconds=2 ** (attempts - 1)),
                    last_error=error[:2000],
                )
            )
        return attempts

    def counts(self) -> InboxCounts:
        with self._engine.connect() as connection:
            waiting = connection.execute(
                select(func.count()).select_from(_TABLE).where(_TABLE.c.attempts < MAX_ATTEMPTS)
            ).scalar_one()
            failed = connection.execute(
                select(func.count()).select_from(_TABLE).where(_TABLE.c.attempts >= MAX_ATTEMPTS)
            ).scalar_one()
        return InboxCounts(int(waiting), int(failed))

    def retry_failed(self) -> int:
        """Give every delivery that was given up on another `MAX_ATTEMPTS` passes."""
        with self._engine.begin() as connection:
            result = connection.execute(
                update(_TABLE)
                .where(_TABLE.c.attempts >= MAX_ATTEMPTS)
                .values(attempts=0, retry_at=None)
            )
        return int(result.rowcount)
