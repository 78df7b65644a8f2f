"""API schemas of the notify service: what a caller sends and what it reads back."""

from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.db.tables import Notification
from shared.enums import Channel, DeliveryStatus, NotificationKind

# A deliberately simple address check: one @, no whitespace, a dot in the domain.
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
# Header values must not carry line breaks, or a caller could inject mail headers.
HeaderText = Annotated[str, StringConstraints(pattern=r"^[^\r\n]*$")]


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[HeaderText, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(max_length=320, pattern=EMAIL_PATTERN)]

    @field_validator("email")
    @classmethod
    def _parses_as_address(cls, value: str) -> str:
        # The pattern admits a few forms (e.g. "a..b@x.io") that the email package rejects.
        try:
            Address(addr_spec=value)
        except (HeaderParseError, ValueError, IndexError) as err:
            raise ValueError("not a valid email address") from err
        return value


class NotificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Printable ASCII without spaces: it travels in a mail header and in log lines.
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[!-~]+$")]
    ticket: Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[!-~]+$")]
    kind: NotificationKind
    recipient: Recipient
    subject: Annotated[HeaderText, Field(min_length=1, max_length=300)]
    body: str
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
