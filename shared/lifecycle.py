"""The ticket state machine: which command is legal in which state, and what it changes.

Pure: no I/O, no clock (callers pass `now`), no Temporal. The workflow applies commands with
`apply`; the workflow's update validator and the HTTP API ask `check` before anything is written.
"""

from dataclasses import dataclass
from datetime import datetime

from shared.enums import (
    Action,
    ActorKind,
    EventKind,
    NotificationKind,
    RecipientRole,
    SlaClock,
    ThreadKind,
    TicketStatus,
)
from shared.models import (
    Actor,
    Notice,
    Recipient,
    ThreadEntry,
    TicketCommand,
    TicketInput,
    TicketState,
    TimelineEvent,
)
from shared.sla import first_response_target, resolution_target

OPEN, RESOLVED, CLOSED = TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.CLOSED

# The whole transition table: the statuses from which each action is legal.
ALLOWED_FROM: dict[Action, frozenset[TicketStatus]] = {
    Action.ASSIGN: frozenset({OPEN}),
    Action.CHANGE_PRIORITY: frozenset({OPEN}),
    Action.TRANSFER: frozenset({OPEN}),
    Action.RESPOND: frozenset({OPEN}),
    Action.NOTE: frozenset({OPEN, RESOLVED}),
    Action.REQUESTER_REPLY: frozenset({OPEN, RESOLVED}),
    Action.RESOLVE: frozenset({OPEN}),
    Action.CLOSE: frozenset({OPEN, RESOLVED}),
    Action.REOPEN: frozenset({RESOLVED, CLOSED}),
}

REQUESTER_ACTIONS = frozenset({Action.REQUESTER_REPLY})
MESSAGE_ACTIONS = frozenset({Action.RESPOND, Action.NOTE, Action.REQUESTER_REPLY})


class IllegalTransition(Exception):
    """A command that the ticket's current state does not allow; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check(state: TicketState, cmd: TicketCommand) -> None:
    """Raise `IllegalTransition` unless `cmd` is legal for `state`. Changes nothing."""
    check_status(state.status, cmd.action, cmd.actor.kind)
    _check_arguments(state, cmd)


def check_status(status: TicketStatus, action: Action, actor: ActorKind) -> None:
    """The part of `check` that needs only the status: usable before the state is loaded."""
    if action in REQUESTER_ACTIONS and actor is not ActorKind.REQUESTER:
        raise IllegalTransition(f"only the requester may {action.value.replace('_', ' ')}")
    if action not in REQUESTER_ACTIONS and actor is ActorKind.REQUESTER:
        raise IllegalTransition(f"a requester may not {action.value.replace('_', ' ')}")
    if status not in ALLOWED_FROM[action]:
        raise IllegalTransition(f"cannot {action.value.replace('_', ' ')} a {status.value} ticket")


def _check_arguments(state: TicketState, cmd: TicketCommand) -> None:
    match cmd.action:
        case Action.ASSIGN:
            if cmd.agent is None and cmd.team is None:
                raise IllegalTransition("assign needs an agent or a team")
            if (cmd.agent or state.assignee) == state.assignee and (
                cmd.team or state.team
            ) == state.team:
                raise IllegalTransition("ticket is already assigned that way")
        case Action.CHANGE_PRIORITY:
            if cmd.priority is None:
                raise IllegalTransition("change priority needs a priority")
            if cmd.priority == state.priority:
                raise IllegalTransition(f"priority is already {state.priority.value}")
        case Action.TRANSFER:
            if not cmd.department:
                raise IllegalTransition("transfer needs a department")
            if cmd.department == state.department:
                raise IllegalTransition(f"ticket is already in {state.department}")
        case _ if cmd.action in MESSAGE_ACTIONS:
            if not (cmd.message or "").strip():
                raise IllegalTransition("a message cannot be empty")
        case _:
            pass


def open_ticket(data: TicketInput, now: datetime) -> tuple[TicketState, list[Notice]]:
    """The state of a new ticket, with the notices its creation sends."""
    requester = Actor(kind=ActorKind.REQUESTER, name=data.requester.name)
    state = TicketState(
        number=data.number,
        subject=data.subject,
        requester=data.requester,
        help_topic=data.help_topic,
        department=data.department,
        team=data.team,
        assignee=data.assignee,
        priority=data.priority,
        source=data.source,
        sla_plan=data.sla_plan,
        created_at=now,
        resolution_clock_start=now,
        idempotency_key=data.idempotency_key,
    )
    _rearm_sla(state, now)
    _add_thread(state, ThreadKind.MESSAGE, requester, data.message, now)
    seq = _event(state, EventKind.CREATED, requester, now, source=data.source.value)
    notices = [
        _notice(
            NotificationKind.TICKET_RECEIVED,
            RecipientRole.REQUESTER,
            f"[#{state.number}] We received your request: {state.subject}",
            f"Your ticket {state.number} is open. We will reply as soon as we can.",
            seq,
        )
    ]
    if data.assignee or data.team:
        seq = _event(
            state,
            EventKind.ASSIGNED,
            Actor.system(),
            now,
            agent=data.assignee or "",
            team=data.team or "",
        )
        notices.extend(_assignment_notices(state, seq, None))
    state.version = 1
    return state, notices


def apply(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    """Check `cmd`, change `state` in place, and return the notices to send."""
    check(state, cmd)
    notices = _HANDLERS[cmd.action](state, cmd, now)
    state.seen_commands.append(cmd.command_id)
    state.version += 1
    return notices


def reject(state: TicketState, cmd: TicketCommand, reason: str, now: datetime) -> None:
    """Record an illegal command (from a signal, which has no caller to answer) on the timeline."""
    _event(state, EventKind.REJECTED, cmd.actor, now, action=cmd.action.value, reason=reason)
    state.seen_commands.append(cmd.command_id)
    state.version += 1


def _assign(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    state.assignee = cmd.agent or state.assignee
    state.team = cmd.team or state.team
    seq = _event(
        state, EventKind.ASSIGNED, cmd.actor, now, agent=state.assignee or "", team=state.team or ""
    )
    return _assignment_notices(state, seq, cmd.actor.handle)


def _assignment_notices(state: TicketState, seq: int, actor: str | None) -> list[Notice]:
    role = RecipientRole.ASSIGNEE if state.assignee else RecipientRole.TEAM_LEAD
    return [
        _notice(
            NotificationKind.ASSIGNED,
            role,
            f"[#{state.number}] Assigned to you: {state.subject}",
            f"Ticket {state.number} ({state.priority.value}) needs your attention.",
            seq,
            exclude_agent=actor,
        )
    ]


def _change_priority(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.priority is not None
    before = state.priority
    state.priority = cmd.priority
    _rearm_sla(state, now)
    _event(
        state, EventKind.PRIORITY_CHANGED, cmd.actor, now, before=before.value, after=cmd.priority
    )
    return []


def _transfer(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.department is not None
    before = state.department
    state.department = cmd.department
    seq = _event(state, EventKind.TRANSFERRED, cmd.actor, now, before=before, after=cmd.department)
    return [
        _notice(
            NotificationKind.TRANSFERRED,
            RecipientRole.DEPARTMENT_MANAGER,
            f"[#{state.number}] Transferred to your department: {state.subject}",
            f"Ticket {state.number} was transferred from {before}.",
            seq,
            exclude_agent=cmd.actor.handle,
        )
    ]


def _respond(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.message is not None
    _add_thread(state, ThreadKind.RESPONSE, cmd.actor, cmd.message, now)
    if state.first_responded_at is None:
        state.first_responded_at = now
    _refresh_overdue(state)
    seq = _event(state, EventKind.RESPONDED, cmd.actor, now)
    return [
        _notice(
            NotificationKind.RESPONSE,
            RecipientRole.REQUESTER,
            f"[#{state.number}] Re: {state.subject}",
            cmd.message,
            seq,
        )
    ]


def _note(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.message is not None
    _add_thread(state, ThreadKind.NOTE, cmd.actor, cmd.message, now)
    _event(state, EventKind.NOTED, cmd.actor, now)
    return []


def _requester_reply(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.message is not None
    author = Actor(kind=ActorKind.REQUESTER, name=state.requester.name)
    _add_thread(state, ThreadKind.MESSAGE, author, cmd.message, now)
    seq = _event(state, EventKind.REQUESTER_REPLIED, author, now)
    if state.status is RESOLVED:
        _reopen_clock(state, now)
        seq = _event(state, EventKind.REOPENED, author, now, reason="requester replied")
    if not state.assignee:
        return []
    return [
        _notice(
            NotificationKind.REQUESTER_REPLIED,
            RecipientRole.ASSIGNEE,
            f"[#{state.number}] New message from {state.requester.name}",
            cmd.message,
            seq,
        )
    ]


def _resolve(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    if cmd.resolution:
        _add_thread(state, ThreadKind.RESPONSE, cmd.actor, cmd.resolution, now)
    state.status = RESOLVED
    state.resolved_at = now
    state.auto_close_at = now + state.sla_plan.auto_close
    _refresh_overdue(state)
    seq = _event(state, EventKind.RESOLVED, cmd.actor, now)
    return [
        _notice(
            NotificationKind.RESOLVED,
            RecipientRole.REQUESTER,
            f"[#{state.number}] Resolved: {state.subject}",
            (cmd.resolution or "Your request has been resolved.")
            + "\nReply to this ticket if the problem is not solved.",
            seq,
        )
    ]


def _close(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    return _close_as(state, cmd.actor, now, EventKind.CLOSED)


def _close_as(state: TicketState, actor: Actor, now: datetime, kind: EventKind) -> list[Notice]:
    state.status = CLOSED
    state.closed_at = now
    state.auto_close_at = None
    _refresh_overdue(state)
    seq = _event(state, kind, actor, now)
    return [
        _notice(
            NotificationKind.CLOSED,
            RecipientRole.REQUESTER,
            f"[#{state.number}] Closed: {state.subject}",
            f"Ticket {state.number} is now closed.",
            seq,
        )
    ]


def _reopen(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    _reopen_clock(state, now)
    _event(state, EventKind.REOPENED, cmd.actor, now)
    return []


def _reopen_clock(state: TicketState, now: datetime) -> None:
    state.status = OPEN
    state.resolved_at = None
    state.closed_at = None
    state.auto_close_at = None
    state.resolution_clock_start = now
    _rearm_sla(state, now)


_HANDLERS = {
    Action.ASSIGN: _assign,
    Action.CHANGE_PRIORITY: _change_priority,
    Action.TRANSFER: _transfer,
    Action.RESPOND: _respond,
    Action.NOTE: _note,
    Action.REQUESTER_REPLY: _requester_reply,
    Action.RESOLVE: _resolve,
    Action.CLOSE: _close,
    Action.REOPEN: _reopen,
}


# --- deadlines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    at: datetime
    kind: SlaClock | None  # None: auto-close
    summary: str


def next_deadline(state: TicketState) -> Deadline | None:
    """The earliest timer the ticket is waiting on, if any."""
    candidates: list[Deadline] = []
    if state.status is OPEN:
        if (
            state.first_response_due is not None
            and state.first_responded_at is None
            and SlaClock.FIRST_RESPONSE not in state.breached
        ):
            candidates.append(
                Deadline(
                    state.first_response_due, SlaClock.FIRST_RESPONSE, "SLA first response due"
                )
            )
        if state.resolution_due is not None and SlaClock.RESOLUTION not in state.breached:
            candidates.append(
                Deadline(state.resolution_due, SlaClock.RESOLUTION, "SLA resolution due")
            )
    elif state.status is RESOLVED and state.auto_close_at is not None:
        candidates.append(Deadline(state.auto_close_at, None, "auto-close if no reply"))
    return min(candidates, key=lambda d: d.at, default=None)


def fire_due(state: TicketState, now: datetime) -> list[Notice]:
    """Apply every deadline that has passed by `now`: escalations and auto-close."""
    notices: list[Notice] = []
    while (deadline := next_deadline(state)) is not None and deadline.at <= now:
        if deadline.kind is None:
            notices += _close_as(state, Actor.system(), now, EventKind.AUTO_CLOSED)
        else:
            notices += _escalate(state, deadline.kind, now)
        state.version += 1
    return notices


def _escalate(state: TicketState, clock: SlaClock, now: datetime) -> list[Notice]:
    state.breached.append(clock)
    state.escalation_level += 1
    _refresh_overdue(state)
    seq = _event(
        state,
        EventKind.ESCALATED,
        Actor.system(),
        now,
        clock=clock.value,
        level=str(state.escalation_level),
    )
    if state.assignee:
        first = RecipientRole.ASSIGNEE
    elif state.team:
        first = RecipientRole.TEAM_LEAD
    else:
        first = RecipientRole.DEPARTMENT_MANAGER
    roles = [first]
    if state.escalation_level >= 2 and first is not RecipientRole.DEPARTMENT_MANAGER:
        roles.append(RecipientRole.DEPARTMENT_MANAGER)
    label = clock.value.replace("_", " ")
    return [
        _notice(
            NotificationKind.ESCALATION,
            role,
            f"[#{state.number}] Overdue ({label}), level {state.escalation_level}: {state.subject}",
            f"Ticket {state.number} ({state.priority.value}) missed its {label} target.",
            seq,
        )
        for role in roles
    ]


def _rearm_sla(state: TicketState, now: datetime) -> None:
    """Recompute due times from the plan and priority; a clock whose new due time is still
    ahead is armed again even if it had breached."""
    plan = state.sla_plan
    if state.first_responded_at is None:
        state.first_response_due = state.created_at + first_response_target(plan, state.priority)
    state.resolution_due = state.resolution_clock_start + resolution_target(plan, state.priority)
    for clock, due in (
        (SlaClock.FIRST_RESPONSE, state.first_response_due),
        (SlaClock.RESOLUTION, state.resolution_due),
    ):
        if clock in state.breached and due is not None and due > now:
            state.breached.remove(clock)
    _refresh_overdue(state)


def _refresh_overdue(state: TicketState) -> None:
    """Overdue: open, and late on a clock that is still running."""
    late_first = SlaClock.FIRST_RESPONSE in state.breached and state.first_responded_at is None
    late_resolution = SlaClock.RESOLUTION in state.breached
    state.overdue = state.status is OPEN and (late_first or late_resolution)


# --- small builders ----------------------------------------------------------------------


def _event(state: TicketState, kind: EventKind, actor: Actor, at: datetime, **detail: str) -> int:
    seq = len(state.timeline) + 1
    state.timeline.append(TimelineEvent(seq=seq, kind=kind, actor=actor, at=at, detail=detail))
    return seq


def record_event(
    state: TicketState, kind: EventKind, actor: Actor, at: datetime, **detail: str
) -> int:
    """Add a timeline event from outside the state machine (e.g. a notification outcome)."""
    seq = _event(state, kind, actor, at, **detail)
    state.version += 1
    return seq


def _add_thread(
    state: TicketState, kind: ThreadKind, author: Actor, body: str, at: datetime
) -> None:
    entry = ThreadEntry(
        id=len(state.thread) + 1, kind=kind, author=author, body=body, created_at=at
    )
    state.thread.append(entry)


def _notice(
    kind: NotificationKind,
    role: RecipientRole,
    subject: str,
    body: str,
    seq: int,
    exclude_agent: str | None = None,
) -> Notice:
    return Notice(
        kind=kind,
        recipient=Recipient(role=role),
        subject=subject,
        body=body,
        event_seq=seq,
        exclude_agent=exclude_agent,
    )
