"""What notify's API reads: the outbox's notifications of a ticket."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.tables import NotificationRow
from shared.domain.enums import NotificationKind


def list_notifications(
    session: Session, *, ticket: str, kind: NotificationKind | None = None
) -> list[NotificationRow]:
    query = select(NotificationRow).where(NotificationRow.ticket == ticket)
    if kind is not None:
        query = query.where(NotificationRow.kind == kind.value)
    return list(session.scalars(query.order_by(NotificationRow.created_at, NotificationRow.id)))
