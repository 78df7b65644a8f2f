"""Pydantic models that cross process boundaries: workflow input, state, commands, notices.

Kept apart from the workflow module so the Temporal sandbox imports them passed through.
"""

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from shared.enums import (
    Action,
    ActorKind,
    EventKind,
    NotificationKind,
    Priority,
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


class SlaPlanSnapshot(BaseModel):
    """The SLA plan a ticket runs under, copied at creation so later edits do not rewrite it."""

    handle: str
    name: str
    first_response: timedelta
    resolution: timedelta
    auto_close: timedelta
    by_priority: dict[Priority, SlaOverride] = Field(default_factory=dict)


class ThreadEntry(BaseModel):
    id: int
    kind: ThreadKind
    author: Actor
    body: str
    created_at: datetime


class TimelineEvent(BaseModel):
    seq: int
    kind: EventKind
    actor: Actor
    at: datetime
    detail: dict[str, str] = Field(default_factory=dict)


class TicketCommand(BaseModel):
    """One command for a ticket; `command_id` makes a repeated signal or update a no-op."""

    command_id: str
    action: Action
    actor: Actor
    agent: str | None = None
    team: str | None = None
    priority: Priority | None = None
    department: str | None = None
    message: str | None = None
    resolution: str | None = None


class TicketState(BaseModel):
    number: str
    subject: str
    requester: Person
    help_topic: str
    department: str
    team: str | None = None
    assignee: str | None = None
    priority: Priority
    status: TicketStatus = TicketStatus.OPEN
    source: Source
    sla_plan: SlaPlanSnapshot
    created_at: datetime
    # When the resolution clock last started: creation, or the latest reopen.
    resolution_clock_start: datetime
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    auto_close_at: datetime | None = None
    breached: list[SlaClock] = Field(default_factory=list)
    overdue: bool = False
    escalation_level: int = 0
    thread: list[ThreadEntry] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    version: int = 0
    idempotency_key: str = ""
    seen_commands: list[str] = Field(default_factory=list)


class TicketInput(BaseModel):
    """Start input of `TicketWorkflow`: a new ticket, or the state carried from a previous run."""

    number: str
    subject: str
    message: str
    requester: Person
    help_topic: str
    department: str
    team: str | None = None
    assignee: str | None = None
    priority: Priority
    source: Source
    sla_plan: SlaPlanSnapshot
    idempotency_key: str
    prior_state: TicketState | None = None
    # Tests lower this to exercise continue-as-new without thousands of events.
    continue_as_new_after_events: int | None = None


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


class NotificationRequest(BaseModel):
    """Input of the notify activity."""

    idempotency_key: str
    ticket: str
    notice: Notice
    requester: Person
    department: str
    team: str | None = None
    assignee: str | None = None


class NotificationResult(BaseModel):
    """Output of the notify activity: to whom it went, or why nobody was told."""

    sent_to: str | None = None
    skipped: str | None = None
