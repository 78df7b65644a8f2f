"""API schemas of the notify service: what a caller sends and what it reads back."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from shared.db.tables import Notification
from shared.domain import text
from shared.domain.enums import Channel, DeliveryStatus, NotificationKind

# The same rules as intake's (shared.domain.text): whatever intake accepts, notify can deliver.
# Names and subjects are single lines, so they cannot inject a mail header.


class Recipient(text.InputModel):
    name: text.Name
    email: text.Email


class NotificationCreate(text.InputModel):
    # Printable ASCII of at most KEY_MAX characters: it travels in a mail header and in log
    # lines. Callers build keys with shared.domain.text.bounded_key, which always fits.
    idempotency_key: text.IdempotencyKey
    ticket: Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[!-~]+$")]
    kind: NotificationKind
    recipient: Recipient
    # MAIL_SUBJECT_MAX = intake's SUBJECT_MAX plus room for the notice's prefix.
    subject: text.MailSubject
    body: text.MailBody
    channel: Channel


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
    def from_row(cls, row: Notification) -> "NotificationRead":
        status = DeliveryStatus(row.status)
        return cls(
            idempotency_key=row.idempotency_key,
            ticket=row.ticket,
            kind=NotificationKind(row.kind),
            recipient=Recipient.model_construct(name=row.recipient_name, email=row.recipient_email),
            channel=Channel(row.channel),
            subject=row.subject,
            body=row.body,
            status=status,
            attempts=row.attempts,
            created_at=as_utc(row.created_at),
            # While an attempt runs, sent_at holds its start (see store.py); only a sent
            # record has a real sending time.
            sent_at=as_utc(row.sent_at) if status is DeliveryStatus.SENT and row.sent_at else None,
        )


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
