"""API schemas of the notify service: what a caller reads back."""

from datetime import UTC, datetime

from pydantic import BaseModel

from shared.db.tables import NotificationRow
from shared.domain.enums import Channel, DeliveryStatus, NotificationKind


class Recipient(BaseModel):
    name: str
    email: str


class NotificationRead(BaseModel):
    idempotency_key: str
    ticket: str
    kind: NotificationKind
    recipient: Recipient
    channel: Channel
    subject: str
    body: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: NotificationRow) -> "NotificationRead":
        status = DeliveryStatus(row.status)
        return cls(
            idempotency_key=row.idempotency_key,
            ticket=row.ticket,
            kind=NotificationKind(row.kind),
            recipient=Recipient(name=row.recipient_name, email=row.recipient_email),
            channel=Channel(row.channel),
            subject=row.subject,
            body=row.body,
            status=status,
            attempts=row.attempts,
            created_at=as_utc(row.created_at),
            # While an attempt runs, sent_at holds its start (see outbox_lease.py); only a sent
            # record has a real sending time.
            sent_at=as_utc(row.sent_at) if status is DeliveryStatus.SENT and row.sent_at else None,
        )


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
