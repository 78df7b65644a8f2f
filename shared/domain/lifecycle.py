"""The ticket state machine: which command is legal in which state, and what it changes.

Pure: no I/O, no clock (callers pass `now`), no Temporal. The workflow applies commands with
`apply`; the workflow's update validator and the HTTP API ask `check` before anything is written.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from shared.domain import attachments, external_refs, sla_clocks
from shared.domain import notices as wording
from shared.domain.closing import close_as
from shared.domain.enums import (
    Action,
    ActorKind,
    EventKind,
    NotificationKind,
    RecipientRole,
    SlaClock,
    ThreadKind,
    TicketStatus,
)

# Re-exported: the workflow drives deadlines through the lifecycle's public face.
from shared.domain.escalation import Trigger as Trigger
from shared.domain.escalation import fire_due as fire_due
from shared.domain.escalation import next_trigger as next_trigger
from shared.domain.models import (
    Actor,
    MessageRef,
    Notice,
    TicketCommand,
    TicketInput,
    TicketState,
)
from shared.domain.timeline import add_event, add_thread, notice

OPEN, PENDING = TicketStatus.OPEN, TicketStatus.PENDING
RESOLVED, CLOSED = TicketStatus.RESOLVED, TicketStatus.CLOSED

# The whole transition table: the statuses from which each action is legal.
ALLOWED_FROM: dict[Action, frozenset[TicketStatus]] = {
    Action.ASSIGN: frozenset({OPEN, PENDING}),
    Action.CHANGE_PRIORITY: frozenset({OPEN, PENDING}),
    Action.TRANSFER: frozenset({OPEN, PENDING}),
    Action.RESPOND: frozenset({OPEN, PENDING}),
    Action.NOTE: frozenset({OPEN, PENDING, RESOLVED}),
    Action.REQUESTER_REPLY: frozenset({OPEN, PENDING, RESOLVED}),
    Action.SET_PENDING: frozenset({OPEN}),
    Action.RESOLVE: frozenset({OPEN, PENDING}),
    Action.CLOSE: frozenset({OPEN, PENDING, RESOLVED}),
    Action.REOPEN: frozenset({RESOLVED, CLOSED}),
    # Any ticket, closed too (it stays closed; its workflow runs again for the command): a
    # reference must never be stuck on a ticket nobody can change.
    Action.LINK: frozenset({OPEN, PENDING, RESOLVED, CLOSED}),
    Action.UNLINK: frozenset({OPEN, PENDING, RESOLVED, CLOSED}),
    # Once per closure: a reopened ticket closed again may be rated again.
    Action.RATE: frozenset({CLOSED}),
    Action.SEND_LINK: frozenset({OPEN, PENDING, RESOLVED, CLOSED}),
}

# A pending ticket waits on its requester; these actions end the wait (the resolution clock
# resumes, with the paused business time added back).
LEAVES_PENDING = frozenset(
    {Action.ASSIGN, Action.CHANGE_PRIORITY, Action.TRANSFER, Action.RESPOND, Action.REQUESTER_REPLY}
)

# Only the requester gives these; the requester may also close their ticket.
REQUESTER_ACTIONS = frozenset({Action.REQUESTER_REPLY, Action.RATE, Action.SEND_LINK})
REQUESTER_MAY = REQUESTER_ACTIONS | {Action.CLOSE}
MESSAGE_ACTIONS = frozenset({Action.RESPOND, Action.NOTE, Action.REQUESTER_REPLY})


# What one ticket can take. A message's own size is capped by the API (MAX_BODY_BYTES).
MAX_MESSAGES = 2_000
MAX_THREAD_BYTES = 20 * 1024 * 1024
# Files have their own cap, apart from the text's (a file's own size and how many one message
# carries are the API's settings, MAX_ATTACHMENT_BYTES and MAX_ATTACHMENTS_PER_MESSAGE).
MAX_ATTACHMENT_BYTES = 200 * 1024 * 1024
REQUESTER_MESSAGES_PER_MINUTE = 20
RATE_WINDOW = timedelta(minutes=1)
# Links to the ticket mailed on request (the portal's status page), per hour.
LINKS_PER_HOUR = 3
LINK_WINDOW = timedelta(hours=1)


class Refusal(StrEnum):
    """Why a command is refused; the API answers each with its own status."""

    CONFLICT = "IllegalTransition"  # 409: not legal in this state
    TICKET_FULL = "TicketFull"  # 413: the ticket holds as much as it may
    RATE_LIMITED = "RateLimited"  # 429: the requester writes too fast
    KEY_REUSED = "IdempotencyKeyReused"  # 422: the key named another request
    EXPIRED = "CommandExpired"  # 503: the caller gave up; never applied
    VERSION_MISMATCH = "VersionMismatch"  # 412: the ticket moved on from the caller's version
    INVALID = "InvalidArgument"  # 422: an argument breaks the input rules (malformed references)
    NOT_LINKED = "NotLinked"  # 404: unlink of a reference the ticket does not hold


class IllegalTransition(Exception):
    """A command that the ticket's current state does not allow; `reason` says why."""

    def __init__(self, reason: str, refusal: Refusal = Refusal.CONFLICT) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refusal = refusal


def check(state: TicketState, cmd: TicketCommand, now: datetime | None = None) -> None:
    """Raise `IllegalTransition` unless `cmd` is legal for `state`. Changes nothing.

    With `now`, also the requester's rate limit and the command's own deadline. A command
    that expects a version (If-Match) is refused unless the ticket is at that version: checked
    here, so the workflow judges it against its own state in the validator and again in the
    handler, never against the projection.
    """
    if cmd.command_id in state.seen and state.seen[cmd.command_id] != cmd.fingerprint:
        raise IllegalTransition(
            "this Idempotency-Key was already used for a different request", Refusal.KEY_REUSED
        )
    if now is not None and cmd.expires_at is not None and now > cmd.expires_at:
        raise IllegalTransition("the caller stopped waiting for this command", Refusal.EXPIRED)
    if cmd.expected_version is not None and cmd.expected_version != state.version:
        raise IllegalTransition(
            f"the ticket is at version {state.version}, not {cmd.expected_version}: "
            "read it again and retry",
            Refusal.VERSION_MISMATCH,
        )
    check_status(state.status, cmd.action, cmd.actor.kind)
    _check_arguments(state, cmd)
    _check_capacity(state, cmd, now)
    if now is not None and cmd.action is Action.SEND_LINK:
        _check_links_sent(state, now)


def _check_capacity(state: TicketState, cmd: TicketCommand, now: datetime | None) -> None:
    ref = cmd.message or cmd.resolution
    if ref is None:
        return
    if state.thread_count >= MAX_MESSAGES:
        raise IllegalTransition(
            f"the ticket holds its maximum of {MAX_MESSAGES} messages", Refusal.TICKET_FULL
        )
    if state.thread_bytes + ref.size > MAX_THREAD_BYTES:
        raise IllegalTransition(
            f"the ticket holds its maximum of {MAX_THREAD_BYTES // 1024 // 1024} MiB of messages",
            Refusal.TICKET_FULL,
        )
    files = sum(file.size for file in ref.attachments)
    if files and state.attachment_bytes + files > MAX_ATTACHMENT_BYTES:
        raise IllegalTransition(
            f"the ticket holds its maximum of {attachments.human_size(MAX_ATTACHMENT_BYTES)} of "
            f"attachments ({attachments.human_size(state.attachment_bytes)} so far)",
            Refusal.TICKET_FULL,
        )
    if now is not None and cmd.action is Action.REQUESTER_REPLY:
        recent = [at for at in state.requester_messages_at if now - at < RATE_WINDOW]
        if len(recent) >= REQUESTER_MESSAGES_PER_MINUTE:
            raise IllegalTransition(
                f"at most {REQUESTER_MESSAGES_PER_MINUTE} messages a minute; try again shortly",
                Refusal.RATE_LIMITED,
            )


def _check_links_sent(state: TicketState, now: datetime) -> None:
    if len([at for at in state.links_sent_at if now - at < LINK_WINDOW]) >= LINKS_PER_HOUR:
        raise IllegalTransition(
            f"at most {LINKS_PER_HOUR} links an hour; try again later", Refusal.RATE_LIMITED
        )


def check_status(status: TicketStatus, action: Action, actor: ActorKind) -> None:
    """The part of `check` that needs only the status: usable before the state is loaded."""
    if action in REQUESTER_ACTIONS and actor is not ActorKind.REQUESTER:
        raise IllegalTransition(f"only the requester may {action.value.replace('_', ' ')}")
    if action not in REQUESTER_MAY and actor is ActorKind.REQUESTER:
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
        case Action.LINK | Action.UNLINK:
            _check_link(state, cmd)
        case Action.RATE:
            if cmd.rating is None:
                raise IllegalTransition("rate needs a rating (good or bad)", Refusal.INVALID)
            if state.rating is not None:
                raise IllegalTransition("this ticket was rated already")
        case _ if cmd.action in MESSAGE_ACTIONS:
            if cmd.message is None or cmd.message.size == 0:
                raise IllegalTransition("a message cannot be empty")
        case _:
            pass
    for ref in (cmd.message, cmd.resolution, cmd.comment):
        if ref is not None:
            check_attachments(ref)


def check_attachments(ref: MessageRef) -> None:
    """A message's file references stay small: how many, and how long their names and types."""
    if len(ref.attachments) > attachments.MAX_FILES_PER_ENTRY:
        raise IllegalTransition(
            f"a message carries at most {attachments.MAX_FILES_PER_ENTRY} attachments",
            Refusal.INVALID,
        )
    for file in ref.attachments:
        if (
            len(file.id) > 64
            or len(file.sha256) != 64
            or len(file.name) > attachments.NAME_MAX
            or len(file.content_type) > attachments.CONTENT_TYPE_MAX
        ):
            raise IllegalTransition("malformed attachment reference", Refusal.INVALID)


def _check_link(state: TicketState, cmd: TicketCommand) -> None:
    ref = cmd.external_ref
    if ref is None:
        raise IllegalTransition(f"{cmd.action.value} needs an external reference", Refusal.INVALID)
    held = external_refs.find(state.external_refs, ref.key)
    if cmd.action is Action.UNLINK:
        if held is None:
            raise IllegalTransition(f"ticket is not linked to {ref.label}", Refusal.NOT_LINKED)
        return
    problem = external_refs.ref_problem(ref)
    if problem is not None:
        raise IllegalTransition(problem, Refusal.INVALID)
    if held == ref:
        raise IllegalTransition(f"ticket is already linked to {ref.label}")
    if held is None and len(state.external_refs) >= external_refs.MAX_PER_TICKET:
        raise IllegalTransition(
            f"a ticket holds at most {external_refs.MAX_PER_TICKET} external references",
            Refusal.TICKET_FULL,
        )
    others = [r for r in state.external_refs if r.key != ref.key]
    if external_refs.size([*others, ref]) > external_refs.MAX_BYTES:
        raise IllegalTransition(
            f"a ticket's external references hold at most {external_refs.MAX_BYTES} bytes",
            Refusal.TICKET_FULL,
        )


def open_ticket(data: TicketInput, now: datetime) -> tuple[TicketState, list[Notice]]:
    """The state of a new ticket, with the notices its creation sends.

    A ticket imported from another system may carry the time it was opened there: its SLA
    clocks run from then (never from the future).
    """
    if data.message is None:
        raise ValueError("a new ticket needs its first message")
    if data.opened_at is not None:
        now = min(data.opened_at, now)
    requester = Actor(kind=ActorKind.REQUESTER, name=data.requester.name)
    state = TicketState(
        **{**data.details(), "external_refs": external_refs.bounded(data.external_refs)},
        sla_plan=data.sla_plan,
        created_at=now,
        resolution_clock_start=now,
        idempotency_key=data.idempotency_key,
    )
    sla_clocks.start(state, SlaClock.FIRST_RESPONSE, now)
    sla_clocks.start(state, SlaClock.RESOLUTION, now)
    sla_clocks.refresh(state)
    add_thread(state, ThreadKind.MESSAGE, requester, data.message, now)
    seq = add_event(
        state, EventKind.CREATED, requester, now, source=data.source.value, message=data.message.id
    )
    notices = [
        notice(
            NotificationKind.TICKET_RECEIVED,
            RecipientRole.REQUESTER,
            *wording.received(state),
            seq,
        )
    ]
    if data.assignee or data.team:
        seq = add_event(
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
    check(state, cmd, now)
    if state.status is PENDING and cmd.action in LEAVES_PENDING:
        state.status = OPEN
        state.remind_at = None
        sla_clocks.resume(state, SlaClock.RESOLUTION, now)
    notices = _HANDLERS[cmd.action](state, cmd, now)
    sla_clocks.refresh(state)
    state.seen[cmd.command_id] = cmd.fingerprint
    state.version += 1
    return notices


def reject(state: TicketState, cmd: TicketCommand, reason: str, now: datetime) -> None:
    """Record an illegal command (from a signal, which has no caller to answer) on the timeline."""
    add_event(state, EventKind.REJECTED, cmd.actor, now, action=cmd.action.value, reason=reason)
    state.seen[cmd.command_id] = cmd.fingerprint
    state.version += 1


def _assign(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    state.assignee = cmd.agent or state.assignee
    state.team = cmd.team or state.team
    seq = add_event(
        state, EventKind.ASSIGNED, cmd.actor, now, agent=state.assignee or "", team=state.team or ""
    )
    return _assignment_notices(state, seq, cmd.actor.handle)


def _assignment_notices(state: TicketState, seq: int, actor: str | None) -> list[Notice]:
    # Routed to a team only: its lead hands it out.
    role = RecipientRole.ASSIGNEE if state.assignee else RecipientRole.TEAM_LEAD
    return [
        notice(
            NotificationKind.ASSIGNED,
            role,
            *wording.assigned(state),
            seq,
            exclude_agent=actor,
        )
    ]


def _change_priority(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.priority is not None
    before = state.priority
    state.priority = cmd.priority
    sla_clocks.retime(state, now)
    add_event(
        state, EventKind.PRIORITY_CHANGED, cmd.actor, now, before=before.value, after=cmd.priority
    )
    return []


def _transfer(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.department is not None
    before = state.department
    state.department = cmd.department
    schedule = cmd.schedule or state.sla_plan.plan_schedule
    if schedule != state.sla_plan.schedule:
        state.sla_plan = state.sla_plan.model_copy(update={"schedule": schedule})
        sla_clocks.retime(state, now)
    seq = add_event(
        state, EventKind.TRANSFERRED, cmd.actor, now, before=before, after=cmd.department
    )
    return [
        notice(
            NotificationKind.TRANSFERRED,
            RecipientRole.DEPARTMENT_MANAGER,
            *wording.transferred(state, before),
            seq,
            exclude_agent=cmd.actor.handle,
        )
    ]


def _respond(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.message is not None
    add_thread(state, ThreadKind.RESPONSE, cmd.actor, cmd.message, now)
    if state.first_responded_at is None:
        state.first_responded_at = now
    sla_clocks.stop(state, SlaClock.FIRST_RESPONSE, now, satisfied=True)
    sla_clocks.stop(state, SlaClock.NEXT_RESPONSE, now, satisfied=True)
    seq = add_event(state, EventKind.RESPONDED, cmd.actor, now, message=cmd.message.id)
    return [
        notice(
            NotificationKind.RESPONSE,
            RecipientRole.REQUESTER,
            *wording.response(state),
            seq,
            message_id=cmd.message.id,
        )
    ]


def _note(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.message is not None
    add_thread(state, ThreadKind.NOTE, cmd.actor, cmd.message, now)
    add_event(state, EventKind.NOTED, cmd.actor, now, message=cmd.message.id)
    return []


def _requester_reply(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.message is not None
    author = Actor(kind=ActorKind.REQUESTER, name=state.requester.name)
    add_thread(state, ThreadKind.MESSAGE, author, cmd.message, now, unverified=cmd.unverified)
    state.requester_messages_at = [*state.requester_messages_at, now][
        -REQUESTER_MESSAGES_PER_MINUTE:
    ]
    # The timeline (and so the change feed) says when its sender is not proven.
    unverified = {"unverified": "true"} if cmd.unverified else {}
    seq = add_event(
        state, EventKind.REQUESTER_REPLIED, author, now, message=cmd.message.id, **unverified
    )
    if state.status is RESOLVED:
        _reopen_clock(state, now)
        seq = add_event(state, EventKind.REOPENED, author, now, reason="requester replied")
    # Every requester message wants an answer within the plan's next-response target.
    sla_clocks.start(state, SlaClock.NEXT_RESPONSE, now)
    if not state.assignee:
        return []
    return [
        notice(
            NotificationKind.REQUESTER_REPLIED,
            RecipientRole.ASSIGNEE,
            *wording.requester_replied(state),
            seq,
            message_id=cmd.message.id,
        )
    ]


def _resolve(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    if cmd.resolution:
        add_thread(state, ThreadKind.RESPONSE, cmd.actor, cmd.resolution, now)
    state.status = RESOLVED
    state.resolved_at = now
    state.auto_close_at = now + state.sla_plan.auto_close
    state.remind_at = None
    sla_clocks.stop(state, SlaClock.RESOLUTION, now, satisfied=True)
    # A resolution message answers the requester; without one, the response clocks lapse.
    for clock in (SlaClock.FIRST_RESPONSE, SlaClock.NEXT_RESPONSE):
        sla_clocks.stop(state, clock, now, satisfied=bool(cmd.resolution))
    message = {"message": cmd.resolution.id} if cmd.resolution else {}
    seq = add_event(state, EventKind.RESOLVED, cmd.actor, now, **message)
    return [
        notice(
            NotificationKind.RESOLVED,
            RecipientRole.REQUESTER,
            *wording.resolved(state, with_message=bool(cmd.resolution)),
            seq,
            message_id=cmd.resolution.id if cmd.resolution else None,
        )
    ]


def _close(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    return close_as(state, cmd.actor, now, EventKind.CLOSED)


def _reopen(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    _reopen_clock(state, now)
    add_event(state, EventKind.REOPENED, cmd.actor, now)
    return []


def _set_pending(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    state.status = PENDING
    state.remind_at = cmd.remind_at
    sla_clocks.pause(state, SlaClock.RESOLUTION, now)
    detail = {"remind_at": cmd.remind_at.isoformat()} if cmd.remind_at else {}
    add_event(state, EventKind.PENDING, cmd.actor, now, **detail)
    return []


def _link(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.external_ref is not None
    external_refs.link(state, cmd.external_ref, cmd.actor, now)
    return []


def _unlink(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.external_ref is not None
    external_refs.unlink(state, cmd.external_ref, cmd.actor, now)
    return []


def _rate(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    assert cmd.rating is not None
    state.rating = cmd.rating
    comment = {"message": cmd.comment.id} if cmd.comment else {}
    add_event(state, EventKind.RATED, cmd.actor, now, rating=cmd.rating.value, **comment)
    return []


def _send_link(state: TicketState, cmd: TicketCommand, now: datetime) -> list[Notice]:
    """A fresh link to the ticket's page, mailed to the requester's address (the notify
    service signs it at delivery, so no credential is stored)."""
    state.links_sent_at = [at for at in state.links_sent_at if now - at < LINK_WINDOW] + [now]
    seq = add_event(state, EventKind.LINK_SENT, cmd.actor, now)
    return [
        notice(
            NotificationKind.TICKET_LINK, RecipientRole.REQUESTER, *wording.ticket_link(state), seq
        )
    ]


def _reopen_clock(state: TicketState, now: datetime) -> None:
    state.rating = None
    state.status = OPEN
    state.resolved_at = None
    state.closed_at = None
    state.auto_close_at = None
    state.resolution_clock_start = now
    sla_clocks.start(state, SlaClock.RESOLUTION, now)


_HANDLERS = {
    Action.ASSIGN: _assign,
    Action.CHANGE_PRIORITY: _change_priority,
    Action.TRANSFER: _transfer,
    Action.RESPOND: _respond,
    Action.NOTE: _note,
    Action.REQUESTER_REPLY: _requester_reply,
    Action.SET_PENDING: _set_pending,
    Action.RESOLVE: _resolve,
    Action.CLOSE: _close,
    Action.REOPEN: _reopen,
    Action.LINK: _link,
    Action.UNLINK: _unlink,
    Action.RATE: _rate,
    Action.SEND_LINK: _send_link,
}
