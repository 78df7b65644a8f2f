"""Small builders shared by the state machine and the SLA logic: events, thread, notices."""

from datetime import datetime

from services.workflows.v1.models import (
    Actor,
    EventContext,
    Notice,
    Recipient,
    ThreadEntry,
    TicketState,
    TimelineEvent,
)
from shared.domain.enums import EventKind, NotificationKind, RecipientRole, ThreadKind


def add_event(
    state: TicketState, kind: EventKind, actor: Actor, at: datetime, **detail: str
) -> int:
    """Append a timeline event with the ticket's dimensions as they are now; its seq."""
    seq = len(state.timeline) + 1
    context = EventContext(
        priority=state.priority,
        department=state.department,
        help_topic=state.help_topic,
        team=state.team,
        assignee=state.assignee,
    )
    state.timeline.append(
        TimelineEvent(seq=seq, kind=kind, actor=actor, at=at, detail=detail, context=context)
    )
    return seq


def add_thread(
    state: TicketState, kind: ThreadKind, author: Actor, body: str, at: datetime
) -> None:
    entry_id = len(state.thread) + 1
    state.thread.append(
        ThreadEntry(id=entry_id, kind=kind, author=author, body=body, created_at=at)
    )


def notice(
    kind: NotificationKind,
    role: RecipientRole,
    subject: str,
    body: str,
    seq: int,
    *,
    handle: str | None = None,
    exclude_agent: str | None = None,
) -> Notice:
    return Notice(
        kind=kind,
        recipient=Recipient(role=role, handle=handle),
        subject=subject,
        body=body,
        event_seq=seq,
        exclude_agent=exclude_agent,
    )


def owner_role(state: TicketState) -> RecipientRole:
    """Who answers for a ticket: its assignee, else its team's lead, else the manager."""
    if state.assignee:
        return RecipientRole.ASSIGNEE
    if state.team:
        return RecipientRole.TEAM_LEAD
    return RecipientRole.DEPARTMENT_MANAGER
