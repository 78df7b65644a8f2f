"""Batched inserts and upserts whose SQL is compiled once per table and dialect.

A multi-row `VALUES` built for each batch is compiled anew every time; one statement run
with a list of parameter sets is compiled once and kept in SQLAlchemy's statement cache.
That was most of the publish step's time on SQLite.
"""

from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import Insert, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.db.tables import Base

Row = dict[str, Any]


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _insert(table: Table, dialect: str) -> Any:
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


@cache
def _insert_new(table: Table, dialect: str, extra: tuple[tuple[str, Any], ...]) -> Insert:
    stmt = _insert(table, dialect)
    if extra:
        stmt = stmt.values(dict(extra))
    result: Insert = stmt.on_conflict_do_nothing()
    return result


def insert_new(session: Session, model: type[Base], rows: Sequence[Row], **extra: Any) -> None:
    """Insert `rows`, leaving any whose key is there already; `extra` holds SQL expressions
    every row takes (a transaction id, say)."""
    if rows:
        stmt = _insert_new(_table(model), dialect_of(session), tuple(sorted(extra.items())))
        session.connection().execute(stmt, list(rows))


@cache
def _upsert(
    table: Table, dialect: str, keys: tuple[str, ...], columns: tuple[str, ...], newer: str | None
) -> Insert:
    stmt = _insert(table, dialect)
    where = None if newer is None else table.c[newer] < stmt.excluded[newer]
    result: Insert = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: stmt.excluded[name] for name in columns if name not in keys},
        where=where,
    )
    return result


def upsert(
    session: Session,
    model: type[Base],
    rows: Sequence[Row],
    keys: tuple[str, ...],
    *,
    only_if_newer: str | None = None,
) -> int:
    """Insert or update `rows` by `keys` (updating only where the stored `only_if_newer`
    column is smaller, if given); the number of rows written."""
    if not rows:
        return 0
    stmt = _upsert(_table(model), dialect_of(session), keys, tuple(rows[0]), only_if_newer)
    if len(rows) == 1:
        return int(session.connection().execute(stmt, rows[0]).rowcount)
    session.connection().execute(stmt, list(rows))
    return len(rows)
