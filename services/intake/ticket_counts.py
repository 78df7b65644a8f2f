"""How many tickets each of several filters finds: the console's view counts in one call."""

from fastapi import APIRouter

from services.intake.auth import CurrentAgent
from services.intake.deps import SessionDep
from services.intake.ticket_list import CountRequest, TicketCounts, count_tickets

router = APIRouter(prefix="/api/v1/ticket-counts", tags=["tickets"])


@router.post("")
def count_matching_tickets(
    session: SessionDep, _: CurrentAgent, body: CountRequest
) -> TicketCounts:
    """How many tickets each named filter finds (as the ticket list takes them; paging and
    sort are ignored), in one query. Changes nothing."""
    return TicketCounts(counts=count_tickets(session=session, filters=body.filters))
