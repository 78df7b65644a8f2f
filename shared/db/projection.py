"""The ticket read model: an upsert that never goes backwards."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.tables import TicketRow
from shared.db.writes import upsert
from shared.domain.models import TicketState


def ticket_row(state: TicketState) -> dict[str, Any]:
    last = state.updated_at or state.created_at
    return {
        "number": state.number,
        "version": state.version,
        "subject": state.subject,
        "status": state.status.value,
        "priority": state.priority.value,
        "source": state.source.value,
        "requester_name": state.requester.name,
        "requester_email": state.requester.email,
        "help_topic": state.help_topic,
        "department": state.department,
        "team": state.team,
        "assignee": state.assignee,
        "sla_plan": state.sla_plan.handle,
        "first_response_due": state.first_response_due,
        "resolution_due": state.resolution_due,
        "next_due_at": state.next_due_at,
        "overdue": state.overdue,
        "escalation_level": state.escalation_level,
        "created_at": state.created_at,
        "updated_at": last,
        # The bounded state (no thread, no command ids): a closed ticket reopens from it.
        "state": state.model_dump(mode="json", exclude={"seen", "thread", "timeline"}),
    }


def upsert_ticket(session: Session, state: TicketState) -> bool:
    """Write `state` unless the stored version is the same or newer. True if written."""
    keys = ("number",)
    rows = [ticket_row(state)]
    return upsert(session, TicketRow, rows, keys, only_if_newer="version") > 0


def stored_state(session: Session, number: str) -> TicketState | None:
    row = session.scalar(select(TicketRow).where(TicketRow.number == number))
    return None if row is None else TicketState.model_validate(row.state)
