"""Report facts, recorded as the ticket's workflow persists it: clock runs and events."""

from typing import Any

from sqlalchemy.orm import Session

from shared.db.tables import SlaClockFactRow, TicketEventFactRow
from shared.db.writes import insert_new, upsert
from shared.domain.enums import ActorKind, EventKind
from shared.domain.models import TicketState

# Timeline events that reports count; notification outcomes, rejections and links to other
# systems' records are not facts.
REPORTED_EVENTS = frozenset(EventKind) - {
    EventKind.NOTIFICATION_SENT,
    EventKind.NOTIFICATION_FAILED,
    EventKind.REJECTED,
    EventKind.LINKED,
    EventKind.UNLINKED,
    EventKind.LINK_SENT,
}


def record_facts(session: Session, state: TicketState, *, clocks: bool = True) -> None:
    """The state's clock runs (unless `clocks` is False: as the last publish wrote them) and
    its unpublished events."""
    if clocks:
        _record_clocks(session, state)
    _record_events(session, state)


def _record_clocks(session: Session, state: TicketState) -> None:
    rows = [
        {
            "ticket": state.number,
            "clock": run.clock.value,
            "cycle": run.cycle,
            "started_at": run.started_at,
            "target_seconds": int(run.target.total_seconds()),
            "due_at": run.due_at,
            "stopped_at": run.stopped_at,
            "outcome": run.outcome.value,
            "breached": run.breached_at is not None,
            "breached_at": run.breached_at,
            "business_seconds": _seconds(run.business_elapsed),
            "wall_seconds": _seconds(run.wall_elapsed),
            "priority": state.priority.value,
            "team": state.team,
            "assignee": state.assignee,
            "department": state.department,
            "help_topic": state.help_topic,
        }
        for run in state.clocks
    ]
    upsert(session, SlaClockFactRow, rows, ("ticket", "clock", "cycle"))


def _record_events(session: Session, state: TicketState) -> None:
    """The events the state has not yet published (its timeline holds no other); one that is
    there already (a retried write) is left as it is."""
    rows = [
        {
            "ticket": state.number,
            "seq": event.seq,
            "kind": event.kind.value,
            "at": event.at,
            "actor": event.actor.handle if event.actor.kind is ActorKind.AGENT else None,
            "assignee": event.context.assignee if event.context else state.assignee,
            "team": event.context.team if event.context else state.team,
            "department": event.context.department if event.context else state.department,
            "help_topic": event.context.help_topic if event.context else state.help_topic,
            "priority": (event.context.priority if event.context else state.priority).value,
            "rating": event.detail.get("rating"),
            "comment": event.detail.get("message") if event.kind is EventKind.RATED else None,
        }
        for event in state.timeline
        if event.kind in REPORTED_EVENTS
    ]
    insert_new(session, TicketEventFactRow, rows)


def _seconds(value: Any) -> int | None:
    return None if value is None else int(value.total_seconds())
