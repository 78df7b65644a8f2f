"""Request and response bodies of the ticket API."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

from shared.domain import external_refs, text
from shared.domain.enums import (
    ClockOutcome,
    OnDuplicateRef,
    Priority,
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

# The input rules live in shared.domain.text, shared with notify and the admin API.
Text = text.Body
Handle = text.Handle
Email = text.Email


class Strict(text.InputModel):
    """A request body: unknown fields, control characters and invalid Unicode are refused."""


class RequesterIn(Strict):
    name: text.Name
    email: Email


def _ref_rule(kind: str, problem_of: Callable[[str], str | None]) -> BeforeValidator:
    # Before str's own validation, which would turn an `Unencodable` (input that held lone
    # surrogates) into a plain string whose escapes look harmless.
    def check(value: Any) -> Any:
        if isinstance(value, str):
            problem = problem_of(value)
            if problem is not None:
                raise PydanticCustomError(kind, "{problem}", {"problem": problem})
        return value

    return BeforeValidator(check)


class ExternalRefIn(Strict):
    """A record of another system: `system` names it (jira), `id` the record (OPS-12)."""

    system: Annotated[
        str,
        Field(pattern=external_refs.SYSTEM_PATTERN, examples=["jira"]),
        _ref_rule("external_ref_system", external_refs.system_problem),
    ]
    id: Annotated[
        str,
        Field(min_length=1, max_length=external_refs.ID_MAX, examples=["OPS-12"]),
        _ref_rule("external_ref_id", external_refs.id_problem),
    ]
    url: (
        Annotated[
            str,
            Field(
                max_length=external_refs.URL_MAX,
                examples=["https://jira.example.com/browse/OPS-12"],
            ),
            _ref_rule("external_ref_url", external_refs.url_problem),
        ]
        | None
    ) = None

    def ref(self) -> ExternalRef:
        return ExternalRef(system=self.system, id=self.id, url=self.url)


class TicketCreate(Strict):
    requester: RequesterIn
    # SUBJECT_MAX leaves room for the prefixes notices add within notify's subject limit.
    subject: text.Subject
    message: Text
    help_topic: Handle
    priority: Priority | None = None
    source: Source = Source.WEB
    # Records of other systems this ticket stands for; needs an agent's token (a reference
    # names a ticket, and this door is open to anyone).
    external_refs: list[ExternalRefIn] = Field(
        default_factory=list, max_length=external_refs.MAX_PER_TICKET
    )
    # When a reference is on a ticket already: return that ticket (200), reject (409), or
    # create a new ticket without the references others hold.
    on_duplicate_external_ref: OnDuplicateRef = OnDuplicateRef.RETURN

    @field_validator("external_refs")
    @classmethod
    def _each_once(cls, refs: list[ExternalRefIn]) -> list[ExternalRefIn]:
        seen: set[tuple[str, str]] = set()
        for ref in refs:
            if (ref.system, ref.id) in seen:
                raise ValueError(f"{ref.system}:{ref.id} is listed twice")
            seen.add((ref.system, ref.id))
        if external_refs.size(ref.ref() for ref in refs) > external_refs.MAX_BYTES:
            raise ValueError(f"may hold at most {external_refs.MAX_BYTES} bytes in all")
        return refs

    def refs(self) -> list[ExternalRef]:
        return [ref.ref() for ref in self.external_refs]


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


class LinkBody(ExternalRefIn):
    """Link the ticket to a record of another system (or give a linked one a new url)."""


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
