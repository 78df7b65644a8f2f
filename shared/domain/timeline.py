"""Small builders shared by the state machine and the SLA logic: events, thread, notices."""

from datetime import datetime

from shared.domain.enums import EventKind, NotificationKind, RecipientRole, ThreadKind
from shared.domain.models import (
    Actor,
    EventContext,
    MessageRef,
    Notice,
    Recipient,
    ThreadEntry,
    TicketState,
    TimelineEvent,
)


def add_event(
    state: TicketState, kind: EventKind, actor: Actor, at: datetime, **detail: str
) -> int:
    """Append a timeline event with the ticket's dimensions as they are now; its seq."""
    state.last_seq += 1
    seq = state.last_seq
    state.updated_at = at
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
    state: TicketState,
    kind: ThreadKind,
    author: Actor,
    message: MessageRef,
    at: datetime,
    *,
    unverified: bool = False,
) -> None:
    state.thread_count += 1
    state.thread_bytes += message.size
    state.attachment_bytes += sum(file.size for file in message.attachments)
    state.thread.append(
        ThreadEntry(
            id=state.thread_count,
            kind=kind,
            author=author,
            message_id=message.id,
            size=message.size,
            created_at=at,
            attachments=list(message.attachments),
            unverified=unverified,
        )
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
    message_id: str | None = None,
) -> Notice:
    return Notice(
        kind=kind,
        recipient=Recipient(role=role, handle=handle),
        subject=subject,
        body=body,
        event_seq=seq,
        exclude_agent=exclude_agent,
        message_id=message_id,
    )


def owner_role(state: TicketState) -> RecipientRole:
    """Who answers for a ticket: its assignee, else its team's lead, else the manager."""
    if state.assignee:
        return RecipientRole.ASSIGNEE
    if state.team:
        return RecipientRole.TEAM_LEAD
    return RecipientRole.DEPARTMENT_MANAGER
