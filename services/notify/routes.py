"""HTTP routes of the notify service: thin, they parse and call service.py."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.notify import service
from services.notify.auth import UNAUTHORIZED_RESPONSE, ServiceToken
from services.notify.deps import SessionDep
from services.notify.schemas import NotificationRead
from shared.domain.enums import NotificationKind

router = APIRouter(
    prefix="/api/v1/notifications",
    tags=["notifications"],
    dependencies=[ServiceToken],
    responses=UNAUTHORIZED_RESPONSE,
)


@router.get("")
def list_notifications(
    session: SessionDep,
    # A ticket's number, or "-" for mail about no ticket (an admin notice, an invite).
    ticket: Annotated[str, Query(pattern=r"^([0-9]{1,16}|-)$")],
    kind: NotificationKind | None = None,
) -> list[NotificationRead]:
    rows = service.list_notifications(session, ticket=ticket, kind=kind)
    return [NotificationRead.from_row(row) for row in rows]
