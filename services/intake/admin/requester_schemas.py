"""Bodies of the requester data endpoints: an erasure's request and progress, an export."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.intake.admin.mail_in import InboundMailRead
from services.intake.schemas import TicketRead
from shared.db.erasures import ErasureProgress
from shared.db.tables import NotificationRow
from shared.domain.erasure import ErasureStatus
from shared.domain.text import Email, InputModel


def _utc(value: datetime) -> datetime:
    # SQLite keeps times without their offset (they are UTC).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]


class ErasureBody(InputModel):
    email: Email = Field(description="The requester's address (case aside)")


class ErasureRead(BaseModel):
    id: str
    status: ErasureStatus
    requested_at: UtcTime
    finished_at: UtcTime | None
    tickets_found: int | None = Field(description="null until the erasure has looked them up")
    tickets_erased: int

    @classmethod
    def of(cls, progress: ErasureProgress) -> "ErasureRead":
        return cls(
            id=progress.id,
            status=progress.status,
            requested_at=progress.requested_at,
            finished_at=progress.finished_at,
            tickets_found=progress.tickets_found,
            tickets_erased=progress.tickets_erased,
        )


class FileMode(StrEnum):
    LINKS = "links"  # each file's download path in the thread, as a ticket's read has it
    INLINE = "inline"  # also every file's content, base64, under `files`


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email = Field(description="The requester's address (case aside)")
    files: FileMode = Field(FileMode.LINKS, description="links, or inline (base64) as well")


class ExportedTicket(TicketRead):
    """A ticket as its requester sees it (no internal notes), with their rating comments."""

    rating_comments: list[str]


class ExportedFile(BaseModel):
    ticket: str
    id: str
    name: str
    content_type: str
    size: int
    # Null if the blob store has no content for it.
    content_base64: str | None


class ExportedNotification(BaseModel):
    ticket: str
    kind: str
    subject: str
    body: str
    status: str
    created_at: UtcTime
    sent_at: UtcTime | None

    @classmethod
    def of(cls, row: NotificationRow) -> "ExportedNotification":
        return cls(
            ticket=row.ticket,
            kind=row.kind,
            subject=row.subject,
            body=row.body,
            status=row.status,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )


class RequesterExport(BaseModel):
    """What ticketflow holds of one requester (GDPR Art. 15), in one document."""

    email: str
    exported_at: datetime
    tickets: list[ExportedTicket]
    files: list[ExportedFile] = Field(description="with files=inline only")
    inbound_mail: list[InboundMailRead]
    notifications: list[ExportedNotification]
