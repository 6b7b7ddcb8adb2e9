"""Schema by migrations; SQLite tuned for several writers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from fakemeta.reference_receiver.db import create_db_engine, migrate


def test_migrate_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    migrate(url)
    migrate(url)
    engine = create_db_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {
        "company",
        "integration_account",
        "client",
        "integration_log",
        "notification",
        "outbound_message",
        "alembic_version",
    } <= tables
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


@pytest.mark.postgres
def test_migrate_on_postgres(postgres_url: str) -> None:
    migrate(postgres_url)
    engine = create_db_engine(postgres_url)
    uniques = {u["name"] for u in inspect(engine).get_unique_constraints("integration_log")}
    assert "uq_log_account_action_msg" in uniques
    engine.dispose()


@pytest.mark.postgres
def test_a_hung_database_is_a_503_with_retry_after_not_a_wait(
    tmp_path: Path, postgres_url: str
) -> None:
    """The inbox table is locked by another connection, so the acknowledgement's INSERT
    cannot finish: after DATABASE_TIMEOUT the delivery is answered 503 with
    Retry-After (Meta delivers again), and once the lock is gone it is taken."""
    import time

    from receiver_helpers import (
        WEBHOOK,
        base_config,
        build_app,
        envelope,
        meta_encode,
        sign,
        text_message,
    )

    from fakemeta.reference_receiver.state import receiver_state

    app = build_app(
        base_config(tmp_path, DATABASE_URL=postgres_url, DATABASE_TIMEOUT="1"), settle=False
    )
    body = meta_encode(envelope([text_message()]))
    locker = create_db_engine(postgres_url)
    try:
        with locker.connect() as connection:
            connection.execute(text("LOCK TABLE webhook_inbox IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            response = app.test_client().post(
                WEBHOOK, data=body, headers={"X-Hub-Signature-256": sign(body)}
            )
            waited = time.monotonic() - started
            connection.rollback()
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert waited < 5, waited
        again = app.test_client().post(
            WEBHOOK, data=body, headers={"X-Hub-Signature-256": sign(body)}
        )
        assert again.status_code == 200
    finally:
        receiver_state(app).close()
        locker.dispose()


@pytest.mark.postgres
def test_postgres_connections_carry_the_timeouts(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url, timeout=7)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "7s"
            # The URL's own options (the fixture's search_path) are kept.
            assert "fakemeta_test_" in str(connection.execute(text("SHOW search_path")).scalar())
        assert engine.pool.timeout() == 7  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_a_url_that_is_not_supported_is_one_line(tmp_path: Path) -> None:
    from fakemeta.reference_receiver.config import ConfigError

    with pytest.raises(ConfigError, match="not supported"):
        create_db_engine("mysql://user@localhost/crm")
