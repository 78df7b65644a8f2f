"""Response bodies of the ticket API (its request bodies: services.tickets.inputs)."""

from datetime import UTC, datetime

from pydantic import (
    BaseModel,
    Field,
    field_validator,
)

from shared.domain.enums import (
    ClockOutcome,
    Priority,
    Rating,
    SlaClock,
    Source,
    ThreadKind,
    TicketStatus,
)
from shared.domain.models import (
    AttachmentRef,
    ExternalRef,
    Person,
    ThreadEntry,
    TicketView,
    TimelineEvent,
)


class ClockRead(BaseModel):
    clock: SlaClock
    cycle: int
    started_at: datetime
    due_at: datetime
    paused: bool
    outcome: ClockOutcome
    breached_at: datetime | None


class AttachmentRead(BaseModel):
    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    # GET it (with the same credentials) for the file itself.
    download: str

    @classmethod
    def of(cls, number: str, ref: AttachmentRef) -> "AttachmentRead":
        path = f"/api/v1/tickets/{number}/attachments/{ref.id}"
        return cls(**ref.model_dump(), download=path)


class ThreadEntryRead(BaseModel):
    kind: ThreadKind
    author: str
    body: str
    created_at: datetime
    attachments: list[AttachmentRead] = Field(default_factory=list)
    # True for a requester's mail whose sender is not proven: it neither answered our mail
    # nor was vouched for by a trusted MTA, so its From alone says who wrote it.
    unverified: bool = False


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
    message_count: int
    external_refs: list[ExternalRef]
    # The requester's rating of this closure (good or bad); null until rated, and again
    # once the ticket reopens.
    rating: Rating | None
    # Null in a command's answer (GET the ticket for its thread), and when the database cannot
    # be read just now; the rest of the answer is current all the same.
    thread: list[ThreadEntryRead] | None

    @classmethod
    def of(
        cls,
        view: TicketView,
        thread: list[ThreadEntry] | None,
        bodies: dict[str, str],
        *,
        internal: bool,
    ) -> "TicketRead":
        """The ticket as a reader sees it; requesters (internal=False) never see notes."""
        entries = None
        if thread is not None:
            entries = [
                ThreadEntryRead(
                    kind=e.kind,
                    author=e.author.name,
                    body=bodies.get(e.message_id, ""),
                    created_at=e.created_at,
                    attachments=[AttachmentRead.of(view.number, a) for a in e.attachments],
                    unverified=e.unverified,
                )
                for e in thread
                if internal or e.kind is not ThreadKind.NOTE
            ]
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
            for run in view.clocks
        ]
        data = view.model_dump(exclude={"thread", "clocks", "thread_count"})
        return cls(**data, clocks=clocks, message_count=view.thread_count, thread=entries)


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
    # The SLA clocks at a glance: the earliest due time of a running clock that is neither
    # paused nor breached; when the first of the running clocks breached; whether one is paused.
    next_due_at: datetime | None = None
    breached_at: datetime | None = None
    sla_paused: bool = False

    @field_validator(
        "first_response_due",
        "resolution_due",
        "created_at",
        "updated_at",
        "next_due_at",
        "breached_at",
    )
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
