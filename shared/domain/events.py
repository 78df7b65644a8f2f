"""The events integrations see: each published timeline event, with a stable id, a type from
a fixed vocabulary and a snapshot of the ticket's public fields. Pure: no I/O."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from shared.domain.enums import EventKind, Priority, Source, TicketStatus
from shared.domain.models import Actor, TicketState, TimelineEvent


class EventType(StrEnum):
    CREATED = "ticket.created"
    ASSIGNED = "ticket.assigned"
    PRIORITY_CHANGED = "ticket.priority_changed"
    TRANSFERRED = "ticket.transferred"
    RESPONDED = "ticket.responded"
    NOTED = "ticket.noted"
    REQUESTER_REPLIED = "ticket.requester_replied"
    ESCALATED = "ticket.escalated"
    SLA_WARNING = "ticket.sla_warning"
    SLA_REMINDER = "ticket.sla_reminder"
    PENDING = "ticket.pending"
    PENDING_REMINDER = "ticket.pending_reminder"
    RESOLVED = "ticket.resolved"
    CLOSED = "ticket.closed"
    AUTO_CLOSED = "ticket.auto_closed"
    REOPENED = "ticket.reopened"
    LINKED = "ticket.linked"
    UNLINKED = "ticket.unlinked"
    RATED = "ticket.rated"


# A timeline event is an integration event unless it is plumbing: a refused command changed
# nothing, and delivery outcomes belong to the notification log.
EVENT_TYPES: dict[EventKind, EventType] = {
    EventKind(member.name.lower()): member for member in EventType
}
# Seen by agents' integrations only: never in a requester-facing payload.
INTERNAL_TYPES = frozenset({EventType.NOTED})


class TicketSnapshot(BaseModel):
    """The ticket's public fields as of the event's publication."""

    number: str
    version: int
    subject: str
    status: TicketStatus
    priority: Priority
    source: Source
    help_topic: str
    department: str
    team: str | None
    assignee: str | None
    requester_name: str
    requester_email: str
    sla_plan: str
    overdue: bool
    escalation_level: int
    first_response_due: datetime | None
    resolution_due: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, state: TicketState) -> "TicketSnapshot":
        return cls(
            number=state.number,
            version=state.version,
            subject=state.subject,
            status=state.status,
            priority=state.priority,
            source=state.source,
            help_topic=state.help_topic,
            department=state.department,
            team=state.team,
            assignee=state.assignee,
            requester_name=state.requester.name,
            requester_email=state.requester.email,
            sla_plan=state.sla_plan.handle,
            overdue=state.overdue,
            escalation_level=state.escalation_level,
            first_response_due=state.first_response_due,
            resolution_due=state.resolution_due,
            created_at=state.created_at,
            updated_at=state.updated_at or state.created_at,
        )


class TicketEvent(BaseModel):
    """One event: `id` is the ticket's number and the event's sequence, unique and stable."""

    id: str
    type: EventType
    ticket: str
    seq: int
    at: datetime
    actor: Actor
    internal: bool
    data: dict[str, str]
    snapshot: TicketSnapshot


def event_id(number: str, seq: int) -> str:
    return f"{number}-{seq}"


def events_of(state: TicketState) -> list[TicketEvent]:
    """The integration events among the timeline events `state` is about to publish."""
    if not any(e.kind in EVENT_TYPES for e in state.timeline):
        return []  # a task that records no event (a refusal, a re-armed timer): no snapshot
    snapshot = TicketSnapshot.of(state)
    return [
        _event(state.number, e, EVENT_TYPES[e.kind], snapshot)
        for e in state.timeline
        if e.kind in EVENT_TYPES
    ]


def _event(
    number: str, event: TimelineEvent, kind: EventType, snapshot: TicketSnapshot
) -> TicketEvent:
    return TicketEvent(
        id=event_id(number, event.seq),
        type=kind,
        ticket=number,
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        internal=kind in INTERNAL_TYPES,
        data=event.detail,
        snapshot=snapshot,
    )
