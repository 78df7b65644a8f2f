"""What the database holds of a requester, found by their address (case aside): the look-ups
of an export (GDPR Art. 15) and of an erasure (Art. 17)."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db.tables import InboundMailRow, MessageBodyRow, NotificationRow, TicketRow, TimelineRow
from shared.domain.enums import EventKind
from shared.domain.erasure import normalized


def ticket_numbers(session: Session, email: str) -> list[str]:
    """The tickets this address requested, oldest first."""
    return list(
        session.scalars(
            select(TicketRow.number)
            .where(func.lower(TicketRow.requester_email) == normalized(email))
            .order_by(TicketRow.created_at, TicketRow.number)
        )
    )


def mail_from(session: Session, email: str) -> list[InboundMailRow]:
    """The inbound log's messages from this address, oldest first."""
    return list(
        session.scalars(
            select(InboundMailRow)
            .where(func.lower(InboundMailRow.mail_from) == normalized(email))
            .order_by(InboundMailRow.id)
        )
    )


def notifications_to(session: Session, email: str) -> list[NotificationRow]:
    """The notifications sent (or queued) to this address, oldest first."""
    return list(
        session.scalars(
            select(NotificationRow)
            .where(func.lower(NotificationRow.recipient_email) == normalized(email))
            .order_by(NotificationRow.id)
        )
    )


def rating_comments(session: Session, number: str) -> list[str]:
    """The requester's comments on their ratings of ticket `number`, oldest first."""
    events = session.scalars(
        select(TimelineRow.event)
        .where(TimelineRow.ticket == number, TimelineRow.kind == EventKind.RATED.value)
        .order_by(TimelineRow.seq)
    ).all()
    ids = [event["detail"]["message"] for event in events if "message" in event.get("detail", {})]
    if not ids:
        return []
    rows = session.execute(
        select(MessageBodyRow.id, MessageBodyRow.body).where(MessageBodyRow.id.in_(ids))
    )
    bodies = {row.id: row.body for row in rows}
    return [bodies[i] for i in ids if i in bodies]
