"""Closing a ticket: shared by the close command and the auto-close timer."""

from datetime import datetime

from shared.domain import notices as wording
from shared.domain import sla_clocks
from shared.domain.enums import EventKind, NotificationKind, RecipientRole, TicketStatus
from shared.domain.models import Actor, Notice, TicketState
from shared.domain.timeline import add_event, notice


def close_as(state: TicketState, actor: Actor, now: datetime, kind: EventKind) -> list[Notice]:
    """Close the ticket (by an agent, or by the auto-close timer)."""
    state.status = TicketStatus.CLOSED
    state.closed_at = now
    state.auto_close_at = None
    state.remind_at = None
    sla_clocks.stop_all(state, now, satisfied=False)
    sla_clocks.refresh(state)
    seq = add_event(state, kind, actor, now)
    return [
        notice(
            NotificationKind.CLOSED,
            RecipientRole.REQUESTER,
            *wording.closed(state),
            seq,
        )
    ]
