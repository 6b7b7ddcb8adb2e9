"""Many rows in one statement: bulk INSERT (optionally ON CONFLICT DO NOTHING) and IN lists.

The store and the outbox notifier write a whole batch at once through here.
On PostgreSQL the rows travel as one array per column and the server
`unnest`s them, so a 1000-row insert is one statement with a parameter per
column: psycopg takes longer to parse a multi-row VALUES list of 10,000
parameters than the server takes to insert its rows. IN lists become
`= ANY(array)` for the same reason. SQLite gets SQLAlchemy's multi-row VALUES
(insertmanyvalues) and IN lists in chunks below its parameter limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

__all__ = ["DIALECTS", "dialect_of", "insert_rows", "matching"]

# Dialects with INSERT ... ON CONFLICT DO NOTHING ... RETURNING.
DIALECTS = frozenset({"sqlite", "postgresql"})
# Values per IN list on SQLite: far below its parameter limit.
_IN_CHUNK = 500


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *returning: ColumnElement[Any],
    skip_conflicts: bool = False,
) -> Sequence[Sequence[Any]]:
    """Insert `rows` (same keys, column names) into `table`; the `returning` columns of each.

    With `skip_conflicts`, a row that a unique constraint refuses is left out
    silently and returns nothing: `INSERT ... ON CONFLICT DO NOTHING`.
    Rows are inserted in the order given. SQLite or PostgreSQL only.
    """
    if not rows:
        return []
    dialect = dialect_of(session)
    if dialect == "postgresql":
        names = list(rows[0])
        arrays = [
            bindparam(
                f"rows_{name}",
                [row[name] for row in rows],
                type_=postgresql.ARRAY(table.c[name].type),
            )
            for name in names
        ]
        source = func.unnest(*arrays).table_valued(*names).render_derived()
        pg_statement = postgresql.insert(table).from_select(
            names, select(*(source.c[name] for name in names))
        )
        if skip_conflicts:
            pg_statement = pg_statement.on_conflict_do_nothing()
        if returning:
            return session.execute(pg_statement.returning(*returning)).all()
        session.execute(pg_statement)
        return []
    if dialect != "sqlite":
        raise ValueError(f"bulk inserts need SQLite or PostgreSQL, not {dialect}")
    statement = sqlite.insert(table)
    if skip_conflicts:
        statement = statement.on_conflict_do_nothing()
    if returning:
        return session.execute(statement.returning(*returning), list(rows)).all()
    session.execute(statement, list(rows))
    return []


def matching(
    session: Session, column: ColumnElement[Any], values: Sequence[Any]
) -> Iterator[ColumnElement[bool]]:
    """Conditions `column IN values`, one per statement to run (several on SQLite)."""
    if not values:
        return
    if dialect_of(session) == "postgresql":
        yield column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
        return
    for start in range(0, len(values), _IN_CHUNK):
        yield column.in_(values[start : start + _IN_CHUNK])
