"""Request and response bodies of the ticket API."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from shared.enums import ClockOutcome, Priority, SlaClock, Source, ThreadKind, TicketStatus
from shared.models import Person, TicketState, TimelineEvent

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Handle = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequesterIn(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: Email


class TicketCreate(Strict):
    requester: RequesterIn
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    message: Text
    help_topic: Handle
    priority: Priority | None = None
    source: Source = Source.WEB


class AssignBody(Strict):
    agent: Handle | None = None
    team: Handle | None = None


class PriorityBody(Strict):
    priority: Priority


class TransferBody(Strict):
    department: Handle


class MessageBody(Strict):
    message: Text


class ResolveBody(Strict):
    resolution: Text | None = None


class PendingBody(Strict):
    """Wait on the requester; remind the assignee at `remind_at` if nobody answered."""

    remind_at: AwareDatetime | None = None


class ClockRead(BaseModel):
    clock: SlaClock
    cycle: int
    started_at: datetime
    due_at: datetime
    paused: bool
    outcome: ClockOutcome
    breached_at: datetime | None


class ThreadEntryRead(BaseModel):
    kind: ThreadKind
    author: str
    body: str
    created_at: datetime


class TicketRead(BaseModel):
    number: str
    subject: str
    status: TicketStatus
    priority: Priority
    source: Source
    requester: Person
    help_topic: str
    department: str
    team: str | None
    assignee: str | None
    sla_plan: str
    first_response_due: datetime | None
    next_response_due: datetime | None
    resolution_due: datetime | None
    next_due_at: datetime | None
    # Due times are UTC; this names the zone of the business hours they were counted in.
    sla_timezone: str
    clocks: list[ClockRead]
    overdue: bool
    sla_breached: bool
    escalation_level: int
    remind_at: datetime | None
    created_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    auto_close_at: datetime | None
    version: int
    thread: list[ThreadEntryRead]

    @classmethod
    def of(cls, state: TicketState, *, internal: bool) -> "TicketRead":
        """The ticket as a reader sees it; requesters (internal=False) never see notes."""
        thread = [
            ThreadEntryRead(kind=e.kind, author=e.author.name, body=e.body, created_at=e.created_at)
            for e in state.thread
            if internal or e.kind is not ThreadKind.NOTE
        ]
        data = state.model_dump(
            exclude={"thread", "timeline", "sla_plan", "seen_commands", "clocks"}
        )
        clocks = [
            ClockRead(
                clock=run.clock,
                cycle=run.cycle,
                started_at=run.started_at,
                due_at=run.due_at,
                paused=run.paused_since is not None,
                outcome=run.outcome,
                breached_at=run.breached_at,
            )
            for run in state.clocks
        ]
        schedule = state.sla_plan.schedule
        return cls(
            **data,
            sla_plan=state.sla_plan.handle,
            sla_timezone=schedule.timezone if schedule else "UTC",
            clocks=clocks,
            thread=thread,
        )


class TicketCreated(TicketRead):
    access_token: str


class TicketSummary(BaseModel):
    number: str
    subject: str
    status: TicketStatus
    priority: Priority
    requester: Person
    help_topic: str
    department: str
    team: str | None
    assignee: str | None
    overdue: bool
    escalation_level: int
    first_response_due: datetime | None
    resolution_due: datetime | None
    created_at: datetime
    updated_at: datetime

    @field_validator("first_response_due", "resolution_due", "created_at", "updated_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite keeps times without their offset (they are UTC); PostgreSQL answers them in the
        # session's zone. Answer aware UTC either way, as single reads do.
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TicketPage(BaseModel):
    items: list[TicketSummary]
    total: int
    page: int
    per_page: int = Field(le=200)


class TimelineRead(BaseModel):
    number: str
    events: list[TimelineEvent]
