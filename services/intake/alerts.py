"""What an admin must act on: tickets whose workflow stopped working, notices that could
not be delivered (after a day of retries), and webhooks disabled because their endpoint kept
failing."""

from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from services.doctor import find_problems
from services.intake.auth import AdminAgent
from services.intake.deps import SessionsDep, TemporalDep
from shared.db import webhooks
from shared.db.tables import NotificationRow, WebhookSubscriptionRow
from shared.db.threads import in_thread
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


class WebhookAlert(BaseModel):
    handle: str
    url: str
    disabled_at: datetime | None
    reason: str | None
    failed_deliveries: int
    fix_with: str


class Alerts(BaseModel):
    tickets: list[TicketAlert]
    undeliverable_notices: list[NoticeAlert]
    failing_webhooks: list[WebhookAlert]


@router.get("/alerts")
async def alerts(_: AdminAgent, sessions: SessionsDep, client: TemporalDep) -> Alerts:
    problems = await find_problems(client, sessions, limit=CHECKED_TICKETS)

    def read() -> tuple[Sequence[NotificationRow], list[tuple[WebhookSubscriptionRow, int]]]:
        with sessions() as session:
            dead = session.scalars(
                select(NotificationRow)
                .where(NotificationRow.status == DeliveryStatus.UNDELIVERABLE.value)
                .order_by(NotificationRow.id.desc())
                .limit(200)
            ).all()
            return dead, webhooks.disabled_for_failures(session)

    dead, failing = await in_thread(read)
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
        failing_webhooks=[
            WebhookAlert(
                handle=sub.handle,
                url=sub.url,
                disabled_at=_utc(sub.disabled_at),
                reason=sub.disabled_reason,
                failed_deliveries=failed,
                fix_with=f'PATCH /api/v1/admin/webhooks/{sub.handle} {{"active": true}}',
            )
            for sub, failed in failing
        ],
    )


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
