"""Erasure requests: opened by the intake (the address the erasure works on, which its workflow
never carries), then filled in and closed by the erasure workflow's activities."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db.tables import ErasureRow, TicketRow
from shared.domain.erasure import ERASED, ErasureStatus


@dataclass(frozen=True)
class ErasureProgress:
    id: str
    status: ErasureStatus
    requested_at: datetime
    finished_at: datetime | None
    # None until the workflow has looked the tickets up.
    tickets_found: int | None
    tickets_erased: int


def open_request(session: Session, *, ref: str, email: str, now: datetime) -> tuple[str, bool]:
    """The id of the person's erasure under way, or of a new one (True). Two requests at once
    for one person: the second's flush fails on `uq_erasures_pending` (retry it)."""
    running = session.scalar(select(ErasureRow.id).where(ErasureRow.pending == ref))
    if running is not None:
        return running, False
    row = ErasureRow(
        id=uuid.uuid4().hex,
        requester_ref=ref,
        email=email,
        pending=ref,
        status=ErasureStatus.RUNNING.value,
        tickets=None,
        requested_at=now,
    )
    session.add(row)
    session.flush()
    return row.id, True


def address_of(session: Session, erasure_id: str) -> str | None:
    """The address a running erasure works on; None once it is done (or no such erasure)."""
    return session.scalar(select(ErasureRow.email).where(ErasureRow.id == erasure_id))


def note_tickets(session: Session, erasure_id: str, numbers: list[str]) -> list[str]:
    """Add `numbers` to the erasure's tickets: all of them, as a retry may find more."""
    row = session.get(ErasureRow, erasure_id)
    if row is None:
        return []
    tickets = sorted({*(row.tickets or []), *numbers})
    row.tickets = tickets
    return tickets


def finish(session: Session, erasure_id: str, now: datetime) -> None:
    """Done: the address is forgotten, and a new request for the person starts anew."""
    row = session.get(ErasureRow, erasure_id)
    if row is None or row.status == ErasureStatus.DONE.value:
        return
    row.email = None
    row.pending = None
    row.status = ErasureStatus.DONE.value
    row.finished_at = now
    if row.tickets is None:
        row.tickets = []


def progress(session: Session, erasure_id: str) -> ErasureProgress | None:
    row = session.get(ErasureRow, erasure_id)
    if row is None:
        return None
    erased = 0
    if row.tickets:
        erased = (
            session.scalar(
                select(func.count())
                .select_from(TicketRow)
                .where(TicketRow.number.in_(row.tickets), TicketRow.requester_email == ERASED)
            )
            or 0
        )
    return ErasureProgress(
        id=row.id,
        status=ErasureStatus(row.status),
        requested_at=row.requested_at,
        finished_at=row.finished_at,
        tickets_found=None if row.tickets is None else len(row.tickets),
        tickets_erased=erased,
    )
