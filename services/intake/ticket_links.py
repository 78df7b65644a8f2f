"""`POST /api/v1/ticket-links`: a requester who lost their link gives their ticket's number
and their address; if they match, a fresh link is mailed to that address. The answer is the
same either way, so the route tells nobody which tickets or addresses exist."""

from typing import Annotated

from fastapi import APIRouter, Header, status
from pydantic import Field

from services.intake.deps import TicketsDep
from services.tickets.inputs import Email, Strict
from shared.domain.text import KEY_MAX

router = APIRouter(prefix="/api/v1/ticket-links", tags=["tickets"])

ANSWER = (
    "If that number and address belong to a ticket, a link to it is on its way to that address."
)


class LinkRequest(Strict):
    number: Annotated[str, Field(pattern=r"^[1-9][0-9]{5,15}$", examples=["100000"])]
    email: Email


class LinkRequested(Strict):
    detail: str


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def request_link(
    body: LinkRequest,
    tickets: TicketsDep,
    key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=KEY_MAX)] = None,
) -> LinkRequested:
    """Mail the ticket's requester a fresh link to its page in the portal, if `email` is
    theirs. Always 202 with the same words (503 if the desk cannot be reached). A ticket's
    requester gets at most 3 such mails an hour; the same Idempotency-Key mails once."""
    await tickets.send_link(body.number, body.email, key=key)
    return LinkRequested(detail=ANSWER)
