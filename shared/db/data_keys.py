"""Wrapped data keys: found by id or by scope, created race-free, erased, re-wrapped."""

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared.db.tables import DataKeyRow
from shared.db.writes import insert_new


def by_id(session: Session, key_id: str) -> DataKeyRow | None:
    return session.get(DataKeyRow, key_id)


def of_scope(session: Session, scope: str) -> DataKeyRow | None:
    return session.scalars(select(DataKeyRow).where(DataKeyRow.scope == scope)).one_or_none()


def create(
    session: Session, *, key_id: str, scope: str, kek_id: str, wrapped: bytes, now: datetime
) -> DataKeyRow:
    """The scope's key: this one, unless another process created one first (then that one).
    Commit to keep it."""
    row = {
        "id": key_id,
        "scope": scope,
        "kek_id": kek_id,
        "wrapped": wrapped,
        "created_at": now,
        "erased_at": None,
    }
    insert_new(session, DataKeyRow, [row])
    found = of_scope(session, scope)
    assert found is not None, "a data key inserted or kept is there to read"
    return found


def erase(session: Session, scope: str, now: datetime) -> bool:
    """Drop the scope's wrapped key for good, leaving a tombstone; False if it had none (never
    made, or erased before). Commit to keep it."""
    erased = session.connection().execute(
        update(DataKeyRow)
        .where(DataKeyRow.scope == scope, DataKeyRow.erased_at.is_(None))
        .values(kek_id=None, wrapped=None, erased_at=now)
    )
    return bool(erased.rowcount)


def wrapped_under(session: Session, kek_ids: Collection[str], limit: int) -> list[DataKeyRow]:
    """Up to `limit` keys wrapped under any of `kek_ids`."""
    return list(
        session.scalars(
            select(DataKeyRow)
            .where(DataKeyRow.kek_id.in_(kek_ids))
            .order_by(DataKeyRow.id)
            .limit(limit)
            # Rows read before (and re-wrapped since) are read afresh, not from the session.
            .execution_options(populate_existing=True)
        )
    )


def count_by_kek(session: Session) -> dict[str, int]:
    """How many keys (not erased) each key-encryption key wraps."""
    rows = session.execute(
        select(DataKeyRow.kek_id, func.count())
        .where(DataKeyRow.kek_id.is_not(None))
        .group_by(DataKeyRow.kek_id)
    )
    return {kek_id: count for kek_id, count in rows if kek_id is not None}


def rewrap(session: Session, row: DataKeyRow, kek_id: str, wrapped: bytes) -> bool:
    """Store `row`'s key wrapped anew, unless it changed meanwhile (erased, or re-wrapped by
    another rotation). Commit to keep it."""
    changed = session.connection().execute(
        update(DataKeyRow)
        .where(DataKeyRow.id == row.id, DataKeyRow.kek_id == row.kek_id)
        .values(kek_id=kek_id, wrapped=wrapped)
    )
    return bool(changed.rowcount)
