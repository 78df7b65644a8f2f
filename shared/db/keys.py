"""Creation keys and ticket numbers: a retried create finds its ticket, numbers never run out.

A number is 99,999 plus the id the database gives the key's row: six digits for the first
900,000 tickets, then seven, and so on; one insert, never a search for a free number.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.db.tables import TicketKeyRow, TicketRow

NUMBER_OFFSET = 99_999


@dataclass(frozen=True)
class KeyClaim:
    number: str
    new: bool  # False: the key made this ticket before


def number_of(key_id: int) -> str:
    return str(NUMBER_OFFSET + key_id)


def claim_key(session: Session, key_hash: str, fingerprint: str, now: datetime) -> KeyClaim | None:
    """The ticket number of `key_hash`, recorded now if new; None if the key was used before
    for a different request (another fingerprint)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(TicketKeyRow)
        .values(key_hash=key_hash, fingerprint=fingerprint, created_at=now)
        .on_conflict_do_nothing(index_elements=[TicketKeyRow.key_hash])
        .returning(TicketKeyRow.id)
    )
    inserted = session.scalar(statement)
    if inserted is not None:
        return KeyClaim(number_of(inserted), new=True)
    row = session.scalars(select(TicketKeyRow).where(TicketKeyRow.key_hash == key_hash)).one()
    if row.fingerprint != fingerprint:
        return None
    return KeyClaim(number_of(row.id), new=False)


def number_of_key(session: Session, key_hash: str) -> str | None:
    """The ticket number `key_hash` made, if any (without claiming it)."""
    key_id = session.scalar(select(TicketKeyRow.id).where(TicketKeyRow.key_hash == key_hash))
    return None if key_id is None else number_of(key_id)


def issued(session: Session, number: str) -> bool:
    """Whether `number` was given to a ticket (its workflow may not have started yet)."""
    key_id = int(number) - NUMBER_OFFSET
    # Beyond the id column's range (32 bits in PostgreSQL) no key can be.
    if 0 < key_id < 2**31 and session.get(TicketKeyRow, key_id) is not None:
        return True
    # Tickets from before the creation keys have numbers of their own.
    return session.get(TicketRow, number) is not None
