"""Pydantic models that cross process boundaries: workflow input, state, commands, notices.

Kept apart from the workflow module so the Temporal sandbox imports them passed through.
"""

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.business_time import Schedule
from shared.domain.enums import (
    Action,
    ActorKind,
    ClockOutcome,
    EventKind,
    NotificationKind,
    Priority,
    Rating,
    RecipientRole,
    SlaClock,
    Source,
    ThreadKind,
    TicketStatus,
)


class Person(BaseModel):
    name: str
    email: str


class Actor(BaseModel):
    kind: ActorKind
    name: str
    handle: str | None = None

    @classmethod
    def system(cls) -> "Actor":
        return cls(kind=ActorKind.SYSTEM, name="ticketflow")


class SlaOverride(BaseModel):
    first_response: timedelta | None = None
    resolution: timedelta | None = None


class LadderStep(BaseModel):
    """One rung of an escalation ladder: a warning before the breach, or a level after it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    # A warning fires at this share of the target; a level this long (business time) after
    # the due time (zero: at the breach). Exactly one of the two.
    at_percent: int | None = Field(default=None, ge=1, le=99)
    after_breach: timedelta | None = None
    # assignee | team_lead | department_manager | owner (assignee, else team lead, else
    # manager) | team:<handle> (every member) | agent:<handle>
    notify: list[str] = Field(default_factory=lambda: ["owner"])
    raise_priority: bool = False
    reassign_team: str | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> "LadderStep":
        if (self.at_percent is None) == (self.after_breach is None):
            raise ValueError("a step needs exactly one of at_percent and after_breach")
        if self.after_breach is not None and self.after_breach < timedelta(0):
            raise ValueError("after_breach cannot be negative")
        for target in self.notify:
            kind, _, handle = target.partition(":")
            if kind not in RECIPIENT_TOKENS or (kind in ("team", "agent")) != bool(handle):
                raise ValueError(f"unknown recipient {target!r}")
        return self

    @property
    def is_warning(self) -> bool:
        return self.at_percent is not None


RECIPIENT_TOKENS = ("assignee", "team_lead", "department_manager", "owner", "team", "agent")


class Ladder(BaseModel):
    """Escalation steps for one clock, and optional reminders while it stays breached."""

    model_config = ConfigDict(extra="forbid")

    steps: list[LadderStep]
    repeat_every: timedelta | None = None
    repeat_max: int = Field(default=0, ge=0, le=100)


class SlaPlanSnapshot(BaseModel):
    """The SLA plan a ticket runs under, copied at creation so later edits do not rewrite it."""

    handle: str
    name: str
    first_response: timedelta
    resolution: timedelta
    auto_close: timedelta
    next_response: timedelta | None = None
    by_priority: dict[Priority, SlaOverride] = Field(default_factory=dict)
    # Business hours the targets count in (the department's, else the plan's; None: 24/7),
    # and the plan's own, which a transfer to a department without hours falls back to.
    schedule: Schedule | None = None
    plan_schedule: Schedule | None = None
    ladders: dict[SlaClock, Ladder] = Field(default_factory=dict)


class ClockRun(BaseModel):
    """One run of one SLA clock: from its start until its action (or the ticket) stops it."""

    clock: SlaClock
    cycle: int
    started_at: datetime
    target: timedelta  # business time
    due_at: datetime
    paused_since: datetime | None = None
    paused: timedelta = timedelta(0)  # business time spent paused so far
    stopped_at: datetime | None = None
    outcome: ClockOutcome = ClockOutcome.RUNNING
    breached_at: datetime | None = None
    business_elapsed: timedelta | None = None
    wall_elapsed: timedelta | None = None
    fired: list[str] = Field(default_factory=list)  # keys of the ladder steps already fired

    @property
    def running(self) -> bool:
        return self.outcome is ClockOutcome.RUNNING


class AttachmentRef(BaseModel):
    """A file stored outside the workflow (blob store, table `attachments`), by reference.

    Only this goes through workflow state and history, never the file; the lifecycle caps how
    many one message carries and how long their names are (shared.domain.attachments).
    """

    id: str
    name: str
    content_type: str
    size: int = Field(ge=0)
    sha256: str


class MessageRef(BaseModel):
    """A message body stored outside the workflow (table `message_bodies`): its id and size,
    and the files attached to it.

    Bodies never travel through workflow state or history; the intake stores a body (and its
    files) before it sends the command that refers to it.
    """

    id: str
    size: int = Field(ge=0)
    # Empty in histories from before attachments: the default keeps them replayable.
    attachments: list[AttachmentRef] = Field(default_factory=list)


class ThreadEntry(BaseModel):
    """One message of the thread, by reference; the body lives in `message_bodies`."""

    id: int
    kind: ThreadKind
    author: Actor
    message_id: str
    size: int
    created_at: datetime
    attachments: list[AttachmentRef] = Field(default_factory=list)
    # A requester's message whose sender is not proven: mail that neither answered our mail
    # nor was vouched for by a trusted MTA (its From alone says who wrote it).
    unverified: bool = False


class EventContext(BaseModel):
    """The ticket's dimensions right after an event, for reports recorded at event time."""

    priority: Priority
    department: str
    help_topic: str
    team: str | None = None
    assignee: str | None = None


class TimelineEvent(BaseModel):
    seq: int
    kind: EventKind
    actor: Actor
    at: datetime
    detail: dict[str, str] = Field(default_factory=dict)
    context: EventContext | None = None


class ExternalRef(BaseModel):
    """A record of another system that a ticket stands for or relates to: `jira:OPS-12`.

    Lenient on purpose: the rules (shared.domain.external_refs) are checked where a reference
    comes in, so a stored state never fails to load when they change.
    """

    system: str
    id: str
    url: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.system, self.id)

    @property
    def label(self) -> str:
        return f"{self.system}:{self.id}"


class TicketCommand(BaseModel):
    """One command for a ticket; `command_id` makes a repeated signal or update a no-op."""

    command_id: str
    action: Action
    actor: Actor
    agent: str | None = None
    team: str | None = None
    priority: Priority | None = None
    department: str | None = None
    message: MessageRef | None = None
    resolution: MessageRef | None = None
    # A hash of what the command asks: an Idempotency-Key reused for another request is refused.
    fingerprint: str = ""
    # The API's callers stop waiting at this time: a command the workflow sees later is refused
    # (never applied), so an answer of 503 is definitive. None: no deadline (signals).
    expires_at: datetime | None = None
    # set_pending: when to remind the assignee if the requester has not answered.
    remind_at: datetime | None = None
    # transfer: the new department's business hours (filled in by the API from its records).
    schedule: Schedule | None = None
    # Optimistic concurrency (If-Match): refused unless the ticket is at this version.
    expected_version: int | None = None
    # link: the reference to add (or whose url to replace); unlink: the one to remove.
    external_ref: ExternalRef | None = None
    # requester_reply: its sender is not proven (see ThreadEntry.unverified).
    unverified: bool = False
    # rate: good or bad, and the requester's optional comment (stored like a message).
    rating: Rating | None = None
    comment: MessageRef | None = None


class TicketDetails(BaseModel):
    """What a ticket is about and where it stands: shared by its input, state and views."""

    number: str
    subject: str
    requester: Person
    help_topic: str
    department: str
    team: str | None = None
    assignee: str | None = None
    priority: Priority
    source: Source
    # Records of other systems this ticket stands for (at most MAX_PER_TICKET, each on one
    # ticket only); a default, so inputs and states recorded before them still load.
    external_refs: list[ExternalRef] = Field(default_factory=list)

    def details(self) -> dict[str, Any]:
        """These fields alone, to build another of the ticket's models from."""
        return {name: getattr(self, name) for name in TicketDetails.model_fields}


class TicketState(TicketDetails):
    status: TicketStatus = TicketStatus.OPEN
    sla_plan: SlaPlanSnapshot
    created_at: datetime
    # When the resolution clock last started: creation, or the latest reopen.
    resolution_clock_start: datetime
    first_response_due: datetime | None = None
    next_response_due: datetime | None = None
    resolution_due: datetime | None = None
    # The earliest deadline of a running clock (the TicketNextDueAt search attribute).
    next_due_at: datetime | None = None
    clocks: list[ClockRun] = Field(default_factory=list)
    remind_at: datetime | None = None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    auto_close_at: datetime | None = None
    # The requester's rating of this closure (cleared when the ticket reopens).
    rating: Rating | None = None
    # When the requester last asked for a link by mail (bounded, for the rate limit).
    links_sent_at: list[datetime] = Field(default_factory=list)
    breached: list[SlaClock] = Field(default_factory=list)
    overdue: bool = False
    sla_breached: bool = False
    escalation_level: int = 0
    # Only what is not yet published to the database: the thread and the timeline live there,
    # so the workflow's state stays bounded whatever the thread's length.
    thread: list[ThreadEntry] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    thread_count: int = 0
    thread_bytes: int = 0
    # Bytes of the files attached to the thread (their own cap, apart from the text's).
    attachment_bytes: int = 0
    last_seq: int = 0
    clock_cycles: dict[SlaClock, int] = Field(default_factory=dict)
    # When the requester's latest messages came (a bounded list, for the rate limit).
    requester_messages_at: list[datetime] = Field(default_factory=list)
    updated_at: datetime | None = None
    version: int = 0
    idempotency_key: str = ""
    # Command id -> fingerprint of the commands applied (bounded; carried across runs).
    seen: dict[str, str] = Field(default_factory=dict)


class TicketView(TicketDetails):
    """The ticket as commands answer it and the `view` query returns it: its fields, running
    clocks and the thread entries not yet published, without the state's carried baggage
    (plan snapshot, command ids). Small, because every update's result is kept in history.
    """

    status: TicketStatus
    sla_plan: str
    sla_timezone: str
    created_at: datetime
    first_response_due: datetime | None
    next_response_due: datetime | None
    resolution_due: datetime | None
    next_due_at: datetime | None
    clocks: list[ClockRun]
    remind_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    auto_close_at: datetime | None
    # A default: views recorded in histories before ratings existed still load.
    rating: Rating | None = None
    breached: list[SlaClock]
    overdue: bool
    sla_breached: bool
    escalation_level: int
    thread: list[ThreadEntry]
    thread_count: int
    version: int

    @classmethod
    def of(cls, state: "TicketState") -> "TicketView":
        schedule = state.sla_plan.schedule
        data = state.model_dump(
            include=set(cls.model_fields) - {"sla_plan", "sla_timezone", "clocks", "thread"}
        )
        return cls(
            **data,
            sla_plan=state.sla_plan.handle,
            sla_timezone=schedule.timezone if schedule else "UTC",
            clocks=[run for run in state.clocks if run.running],
            thread=list(state.thread),
        )


class TicketInput(TicketDetails):
    """Start input of `TicketWorkflow`: a new ticket, or the state carried from a previous run."""

    # The first message (None only for a run that carries `prior_state`).
    message: MessageRef | None = None
    sla_plan: SlaPlanSnapshot
    idempotency_key: str
    # When the ticket was opened, if not now (a ticket imported from another system).
    opened_at: datetime | None = None
    prior_state: TicketState | None = None
    # Tests lower this to exercise continue-as-new without thousands of events.
    continue_as_new_after_events: int | None = None

    @classmethod
    def resuming(cls, state: TicketState) -> "TicketInput":
        """A new run of the ticket's workflow that goes on from `state` (a reopened closed
        ticket, or one recovered from its projection)."""
        return cls(
            **state.details(),
            sla_plan=state.sla_plan,
            idempotency_key=state.idempotency_key,
            prior_state=state,
        )


class Recipient(BaseModel):
    """Who a notice goes to, by role; the notify activity resolves a role to a person."""

    role: RecipientRole
    handle: str | None = None


class Notice(BaseModel):
    """A notification the lifecycle wants sent; the workflow turns each into an activity."""

    kind: NotificationKind
    recipient: Recipient
    subject: str
    body: str
    event_seq: int
    # Nobody is told about their own action: the notify activity skips this agent.
    exclude_agent: str | None = None
    # A message of the thread to quote below the body (rendered when the notice is queued).
    message_id: str | None = None


class PublishBatch(BaseModel):
    """Input of the publish activity: what one workflow task changed, written in one transaction.

    `state` carries only what is unpublished (thread and timeline tails, clock runs); the
    notices go to the notification outbox that the notify service delivers.
    """

    state: TicketState
    notices: list[Notice] = Field(default_factory=list)
    # False when the SLA clock facts (`clock_facts_of`) are those the previous batch wrote:
    # a note or a reply that stops no clock then costs no write to them.
    clocks_changed: bool = True


def clock_facts_of(state: TicketState, *, running_only: bool = False) -> tuple[object, ...]:
    """What the SLA clock facts of `state` are written from: its clock runs (only the running
    ones if asked) and the fields reports group them by."""
    return (
        [run.model_dump() for run in state.clocks if run.running or not running_only],
        state.priority,
        state.team,
        state.assignee,
        state.department,
        state.help_topic,
    )
