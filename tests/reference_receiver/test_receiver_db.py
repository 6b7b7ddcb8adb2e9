"""Schema by migrations; SQLite tuned for several writers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from reference_receiver.db import create_db_engine, migrate


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
