"""What notify's API reads: the outbox's notifications of a ticket."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.tables import Notification
from shared.domain.enums import NotificationKind


def list_notifications(
    session: Session, *, ticket: str, kind: NotificationKind | None = None
) -> list[Notification]:
    query = select(Notification).where(Notification.ticket == ticket)
    if kind is not None:
        query = query.where(Notification.kind == kind.value)
    return list(session.scalars(query.order_by(Notification.created_at, Notification.id)))
