"""HTTP routes of the notify service: thin, they parse and call service.py."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.notify import service
from services.notify.auth import UNAUTHORIZED_RESPONSE, ServiceToken
from services.notify.deps import MailerDep, SessionDep, SessionsDep
from services.notify.schemas import NotificationCreate, NotificationRead
from shared.domain.enums import NotificationKind

router = APIRouter(
    prefix="/api/v1/notifications",
    tags=["notifications"],
    dependencies=[ServiceToken],
    responses=UNAUTHORIZED_RESPONSE,
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Already delivered under this key; nothing sent again"},
        400: {"description": "The body is not UTF-8 text"},
        409: {"description": "Another request is delivering under this key right now"},
        413: {"description": "The body is larger than MAX_BODY_BYTES"},
        503: {"description": "Delivery or database failed; retry later"},
    },
)
def create_notification(
    data: NotificationCreate, response: Response, sessions: SessionsDep, mailer: MailerDep
) -> NotificationRead:
    # A plain def: delivery blocks on SMTP, so FastAPI runs it in its thread pool.
    submitted = service.submit(sessions=sessions, mailer=mailer, data=data)
    if not submitted.created:
        response.status_code = status.HTTP_200_OK
    return NotificationRead.from_row(submitted.notification)


@router.get("")
def list_notifications(
    session: SessionDep,
    ticket: Annotated[str, Query(min_length=1, max_length=16)],
    kind: NotificationKind | None = None,
) -> list[NotificationRead]:
    rows = service.list_notifications(session, ticket=ticket, kind=kind)
    return [NotificationRead.from_row(row) for row in rows]
