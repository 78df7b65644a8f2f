"""Message bodies and the published thread and timeline of a ticket."""

import hashlib
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.attachments import attachments_by_message
from shared.db.tables import MessageBodyRow, ThreadRow, TimelineRow
from shared.db.writes import insert_new
from shared.domain.enums import ThreadKind
from shared.domain.models import Actor, MessageRef, ThreadEntry, TimelineEvent


def store_message(
    session: Session, ticket: str, identity: str, body: str, now: datetime
) -> MessageRef:
    """Store a body under an id derived from `identity` (a retry stores nothing new)."""
    message_id = hashlib.sha256(f"{ticket}\n{identity}".encode()).hexdigest()[:40]
    size = len(body.encode())
    row = {"id": message_id, "ticket": ticket, "body": body, "size": size, "created_at": now}
    insert_new(session, MessageBodyRow, [row])
    return MessageRef(id=message_id, size=size)


def thread_of(session: Session, ticket: str, unpublished: list[ThreadEntry]) -> list[ThreadEntry]:
    """The published thread, followed by the entries its workflow has not yet published; the
    published entries' files joined from `attachments`."""
    rows = session.scalars(
        select(ThreadRow).where(ThreadRow.ticket == ticket).order_by(ThreadRow.entry)
    ).all()
    files = attachments_by_message(session, ticket, {row.message_id for row in rows})
    published = [
        ThreadEntry(
            id=row.entry,
            kind=ThreadKind(row.kind),
            author=Actor.model_validate(row.author),
            message_id=row.message_id,
            size=row.size,
            created_at=_aware(row.created_at),
            attachments=files.get(row.message_id, []),
            unverified=row.unverified,
        )
        for row in rows
    ]
    last = published[-1].id if published else 0
    return published + [entry for entry in unpublished if entry.id > last]


def bodies(session: Session, entries: list[ThreadEntry]) -> dict[str, str]:
    ids = [entry.message_id for entry in entries]
    if not ids:
        return {}
    rows = session.execute(
        select(MessageBodyRow.id, MessageBodyRow.body).where(MessageBodyRow.id.in_(ids))
    )
    return {row.id: row.body for row in rows}


def timeline_of(session: Session, ticket: str) -> list[TimelineEvent]:
    rows = session.scalars(
        select(TimelineRow.event).where(TimelineRow.ticket == ticket).order_by(TimelineRow.seq)
    ).all()
    return [TimelineEvent.model_validate(event) for event in rows]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
