"""Engines, sessions and migrations for the receiver's store.

SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` transactions, so that
several gunicorn workers and threads queue for the write lock instead of
failing with "database is locked". On PostgreSQL the unique constraints in
`models.py` do the deduplication; psycopg is told to send lists as binary
arrays, because the bulk statements (`bulk.py`) pass a batch as one array
per column and the text format quotes every element with a regular
expression, which cost more than the server's work on the rows. Pooled
connections are not pinged before use (a round trip per acknowledgement);
the inbox write tries again on a fresh connection, and a drainer pass is
rolled back and run again, when the server has closed one.

Nothing waits for the database without end (`DATABASE_TIMEOUT`): connecting,
waiting for a pooled connection and (PostgreSQL) every statement give up
after it, so a hung or locked database costs a delivery a 503 with
`Retry-After`, not a thread held for as long as the hang lasts. SQLite's
busy timeout stays at 30 s: a drainer pass holds its one write lock for tens
of milliseconds, and a delivery should rather wait out a long pass than be
refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from .config import DEFAULT_DATABASE_TIMEOUT, ConfigError, database_url

__all__ = ["create_db_engine", "custom_plans", "make_session_factory", "migrate"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def create_db_engine(url: str, *, timeout: float = DEFAULT_DATABASE_TIMEOUT) -> Engine:
    """An engine for `url` (normalized by `config.database_url`), tuned for concurrent
    writers on SQLite; nothing waits longer than `timeout` seconds on PostgreSQL.

    Raises `ConfigError` (one line) for a database the receiver does not support
    or whose driver is not installed.
    """
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() != "sqlite":
        # No ping before every checkout: that is a round trip per acknowledgement.
        # A connection the server dropped fails once, SQLAlchemy then discards the
        # pool's connections, and the inbox write is tried again (`inbox.py`).
        try:
            engine = create_engine(
                parsed,
                pool_size=10,
                max_overflow=20,
                pool_recycle=3600,
                pool_timeout=timeout,
                connect_args=_postgres_timeouts(parsed, timeout),
            )
        except (ImportError, NoSuchModuleError) as error:
            raise ConfigError(
                f"DATABASE_URL cannot be used ({error}): pip install 'fakemeta[production]'"
            ) from None
        if parsed.get_driver_name() == "psycopg":
            event.listen(engine, "connect", _binary_lists)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: two deferred transactions that both
        # read then write would deadlock and one would fail at once.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_timeouts(url: URL, timeout: float) -> dict[str, Any]:
    """libpq's connect timeout, and a statement timeout added to the URL's own
    `options` (a `search_path` there must survive)."""
    seconds = max(1, round(timeout))
    options = url.query.get("options", "")
    own = options if isinstance(options, str) else " ".join(options)
    return {
        "connect_timeout": seconds,
        "options": f"{own} -c statement_timeout={seconds * 1000}".strip(),
    }


def _binary_lists(dbapi_connection: Any, _record: Any) -> None:
    from psycopg.types.array import ListBinaryDumper

    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def custom_plans(session: Session) -> None:
    """For the rest of `session`'s transaction on PostgreSQL, plan every statement for
    its parameters, never with a prepared statement's generic plan: only a plan
    that sees the array can hash `= ANY(array)`, and a generic one compares every
    row with every element (a batch of 1000 against a log of 100,000 took
    seconds whenever the table's statistics were behind its size)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Bring the schema at `url_or_engine` up to `revision` with Alembic."""
    from alembic import command
    from alembic.config import Config

    engine = create_db_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # An index on a large table may take longer than a request may.
                connection.execute(text("SET LOCAL statement_timeout = 0"))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
