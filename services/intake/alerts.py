"""What an admin must act on: tickets whose workflow stopped working, and notices that could
not be delivered (after a day of retries)."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from services.doctor import find_problems
from services.intake.auth import AdminAgent
from services.intake.deps import SessionsDep, TemporalDep
from shared.db.tables import Notification
from shared.domain.enums import DeliveryStatus

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

# Open tickets whose workflows are checked per request (`ticketflow doctor` checks them all).
CHECKED_TICKETS = 500


class TicketAlert(BaseModel):
    ticket: str
    problem: str
    recover_with: str


class NoticeAlert(BaseModel):
    ticket: str
    kind: str
    recipient: str
    attempts: int
    last_error: str | None
    created_at: datetime


class Alerts(BaseModel):
    tickets: list[TicketAlert]
    undeliverable_notices: list[NoticeAlert]


@router.get("/alerts")
async def alerts(_: AdminAgent, sessions: SessionsDep, client: TemporalDep) -> Alerts:
    problems = await find_problems(client, sessions, limit=CHECKED_TICKETS)
    with sessions() as session:
        dead = session.scalars(
            select(Notification)
            .where(Notification.status == DeliveryStatus.UNDELIVERABLE.value)
            .order_by(Notification.id.desc())
            .limit(200)
        ).all()
    return Alerts(
        tickets=[
            TicketAlert(ticket=p.number, problem=p.what, recover_with="ticketflow doctor --recover")
            for p in problems
        ],
        undeliverable_notices=[
            NoticeAlert(
                ticket=n.ticket,
                kind=n.kind,
                recipient=n.recipient_email,
                attempts=n.attempts,
                last_error=n.last_error,
                created_at=n.created_at,
            )
            for n in dead
        ],
    )
