"""The inbound mail log for admins: what mail-in received and what became of each message."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, field_validator

from services.intake.admin.schemas import ItemList
from services.intake.auth import get_admin
from services.intake.deps import SessionDep
from shared.db import mail_in
from shared.db.tables import InboundMailRow
from shared.domain.mail.decision import Outcome

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(get_admin)])


class AttachmentRead(BaseModel):
    """An attachment as recorded: its content is not stored (yet)."""

    filename: str
    content_type: str
    size: int


class InboundMailRead(BaseModel):
    id: int
    message_id: str | None
    mail_from: str
    rcpt_to: list[str]
    subject: str
    outcome: Outcome
    detail: str | None
    ticket: str | None
    attachments: list[AttachmentRead]
    size: int
    received_at: datetime
    finished_at: datetime | None

    @field_validator("received_at", "finished_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite keeps times without their offset (they are UTC).
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @classmethod
    def of(cls, row: InboundMailRow) -> "InboundMailRead":
        return cls(
            id=row.id,
            message_id=row.message_id,
            mail_from=row.mail_from,
            rcpt_to=[address for address in row.rcpt_to.split(", ") if address],
            subject=row.subject,
            outcome=Outcome(row.outcome),
            detail=row.detail,
            ticket=row.ticket,
            attachments=[AttachmentRead.model_validate(a) for a in row.attachments or []],
            size=row.size,
            received_at=row.received_at,
            finished_at=row.finished_at,
        )


@router.get("/mail-in")
def list_inbound_mail(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    outcome: Outcome | None = None,
) -> ItemList[InboundMailRead]:
    """The most recent inbound messages first: sender, recipients, subject, outcome, ticket."""
    rows = mail_in.recent(session, limit=limit, outcome=outcome)
    return ItemList(items=[InboundMailRead.of(row) for row in rows])
