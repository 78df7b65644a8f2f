"""The ticket list: filters over the database projection, sorted, paginated."""

import unicodedata
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.intake.schemas import TicketPage, TicketSummary
from shared.db.external_refs import holds
from shared.db.tables import TeamMemberRow, TicketRow
from shared.domain.enums import ClockOutcome, Priority, TicketStatus
from shared.domain.external_refs import parse_label
from shared.domain.models import Person

# Deep pages cost a scan of every row before them, and past 2**63 an OFFSET no longer fits the
# database's integer: 10,000 pages of up to 200 tickets is far beyond what anyone pages through.
MAX_PAGE = 10_000
MAX_TEAMS = 50


def _printable(text: str) -> str:
    # PostgreSQL refuses NUL in a string (the driver raises before the query is sent), and no
    # subject, name or handle holds a control character: refuse them as bad input.
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("control characters are not allowed")
    return text


FilterText = Annotated[str, StringConstraints(max_length=200), AfterValidator(_printable)]


def _label(text: str) -> str:
    parse_label(text)  # ValueError (422) saying why if it is not system:id
    return text


ExternalLabel = Annotated[str, StringConstraints(max_length=240), AfterValidator(_label)]


def _team_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _few_teams(text: str) -> str:
    if len(_team_list(text)) > MAX_TEAMS:
        raise ValueError(f"at most {MAX_TEAMS} teams")
    return text


TeamList = Annotated[
    str, StringConstraints(max_length=2000), AfterValidator(_printable), AfterValidator(_few_teams)
]


def _listed(value: object) -> object:
    # One value where a list is taken (`TicketFilter(status="open")`): a list of one.
    return [value] if isinstance(value, str) else value


class SortKey(StrEnum):
    NUMBER = "number"
    UPDATED = "updated"
    PRIORITY = "priority"
    DUE = "due"
    CREATED = "created"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


# Without `order`: the newest first for times, the most urgent first for priority, the soonest
# first for due times, numbers in order.
NATURAL_ORDER = {
    SortKey.NUMBER: SortOrder.ASC,
    SortKey.UPDATED: SortOrder.DESC,
    SortKey.PRIORITY: SortOrder.DESC,
    SortKey.DUE: SortOrder.ASC,
    SortKey.CREATED: SortOrder.DESC,
}
PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.EMERGENCY: 3}


class TicketFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Annotated[list[TicketStatus], BeforeValidator(_listed)] = Field(
        default_factory=list,
        max_length=len(TicketStatus),
        description="Repeat for any of several (`status=open&status=pending`: all open)",
    )
    priority: Priority | None = None
    assignee: FilterText | None = None
    unassigned: bool | None = Field(
        default=None, description="true: tickets no agent is assigned; false: assigned ones"
    )
    team: FilterText | None = None
    teams: TeamList | None = Field(
        default=None, description="Comma-separated team handles: tickets of any of them"
    )
    team_member: FilterText | None = Field(
        default=None,
        description="An agent's handle: tickets of the teams the agent is a member of "
        "(the console's \"My teams'\")",
    )
    department: FilterText | None = None
    help_topic: FilterText | None = None
    overdue: bool | None = None
    due_before: AwareDatetime | None = Field(
        default=None,
        description="Tickets with a running SLA clock (not paused, not yet breached) due "
        "before this time (`next_due_at`); e.g. an hour from now: breaching soon",
    )
    q: FilterText | None = Field(
        default=None, description="subject, requester name or email, or the ticket's number"
    )
    requester: FilterText | None = Field(
        default=None, description="The requester's email address, exactly (case aside)"
    )
    external: ExternalLabel | None = Field(
        default=None, description="an external reference, system:id (e.g. jira:OPS-12)"
    )
    sort: SortKey = Field(default=SortKey.CREATED, description="What the list is ordered by")
    order: SortOrder | None = Field(
        default=None,
        description="asc or desc; by default desc for created, updated and priority (most "
        "urgent first), asc for due (breached first, then the soonest; none last) and number",
    )
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: int = Field(default=50, ge=1, le=200)


MAX_COUNTS = 20
CountName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class CountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filters: dict[CountName, TicketFilter] = Field(
        max_length=MAX_COUNTS,
        description="Named filters (as the list takes them; paging and sort are ignored)",
    )


class TicketCounts(BaseModel):
    counts: dict[str, int] = Field(description="How many tickets pass each named filter")


def _conditions(f: TicketFilter) -> list[ColumnElement[bool]]:
    """What a ticket must be to pass the filter."""
    found: list[ColumnElement[bool]] = []
    for column, value in (
        (TicketRow.priority, f.priority),
        (TicketRow.assignee, f.assignee),
        (TicketRow.team, f.team),
        (TicketRow.department, f.department),
        (TicketRow.help_topic, f.help_topic),
        (TicketRow.overdue, f.overdue),
    ):
        if value is not None:
            found.append(column == value)
    if f.status:
        found.append(TicketRow.status.in_([s.value for s in f.status]))
    if f.unassigned is not None:
        has_none = TicketRow.assignee.is_(None)
        found.append(has_none if f.unassigned else ~has_none)
    if f.teams is not None:
        found.append(TicketRow.team.in_(_team_list(f.teams)))
    if f.team_member is not None:
        teams = select(TeamMemberRow.team).where(TeamMemberRow.agent == f.team_member)
        found.append(TicketRow.team.in_(teams))
    if f.due_before is not None:
        found.append(TicketRow.next_due_at < f.due_before.astimezone(UTC))
    if f.external is not None:
        system, ref_id = parse_label(f.external)
        found.append(holds(system, ref_id))
    if f.requester is not None:
        found.append(func.lower(TicketRow.requester_email) == f.requester.lower())
    if f.q:
        # The words as written: LIKE's wildcards in them match only themselves.
        literal = f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{literal}%"
        found.append(
            or_(
                func.lower(TicketRow.subject).like(pattern, escape="\\"),
                func.lower(TicketRow.requester_email).like(pattern, escape="\\"),
                func.lower(TicketRow.requester_name).like(pattern, escape="\\"),
                TicketRow.number == f.q,
            )
        )
    return found


def _filtered(stmt: Select[Any], f: TicketFilter) -> Select[Any]:
    return stmt.where(*_conditions(f))


def _ordered(stmt: Select[Any], f: TicketFilter) -> Select[Any]:
    descending = (f.order or NATURAL_ORDER[f.sort]) is SortOrder.DESC
    key: ColumnElement[Any] | InstrumentedAttribute[Any]
    if f.sort is SortKey.NUMBER:
        # Numbers grow a digit once six run out: shorter ones are older.
        return stmt.order_by(*(k.desc() if descending else k.asc() for k in _by_number()))
    if f.sort is SortKey.DUE:
        # Breached first (the most urgent), then by the next due time; none (paused, or no
        # clock running) last either way.
        due, breached = TicketRow.next_due_at, TicketRow.overdue
        if descending:
            first, then = breached.asc(), due.desc().nulls_last()
        else:
            first, then = breached.desc(), due.asc().nulls_last()
        return stmt.order_by(first, then, TicketRow.created_at.desc(), *_by_number())
    if f.sort is SortKey.PRIORITY:
        key = case({p.value: rank for p, rank in PRIORITY_RANK.items()}, value=TicketRow.priority)
    elif f.sort is SortKey.UPDATED:
        key = TicketRow.updated_at
    else:
        key = TicketRow.created_at
    primary = (key.desc() if descending else key.asc()).nulls_last()
    # Ties (and equal times) in a stable order, so pages neither repeat nor skip a ticket.
    ties = [] if f.sort is SortKey.CREATED else [TicketRow.created_at.desc()]
    return stmt.order_by(primary, *ties, *_by_number())


def _by_number() -> list[ColumnElement[Any] | InstrumentedAttribute[Any]]:
    return [func.length(TicketRow.number), TicketRow.number]


def list_tickets(*, session: Session, filters: TicketFilter) -> TicketPage:
    total = session.scalar(_filtered(select(func.count()).select_from(TicketRow), filters)) or 0
    # The page's numbers first, then their rows: sorting only the keys, never the states.
    numbers = list(
        session.scalars(
            _ordered(_filtered(select(TicketRow.number), filters), filters)
            .offset((filters.page - 1) * filters.per_page)
            .limit(filters.per_page)
        )
    )
    found = select(TicketRow).where(TicketRow.number.in_(numbers))
    rows = {row.number: row for row in session.scalars(found)} if numbers else {}
    items = [_summary(rows[number]) for number in numbers if number in rows]
    return TicketPage(items=items, total=total, page=filters.page, per_page=filters.per_page)


def _summary(r: TicketRow) -> TicketSummary:
    return TicketSummary(
        number=r.number,
        subject=r.subject,
        status=TicketStatus(r.status),
        priority=Priority(r.priority),
        requester=Person(name=r.requester_name, email=r.requester_email),
        help_topic=r.help_topic,
        department=r.department,
        team=r.team,
        assignee=r.assignee,
        overdue=r.overdue,
        escalation_level=r.escalation_level,
        first_response_due=r.first_response_due,
        resolution_due=r.resolution_due,
        created_at=r.created_at,
        updated_at=r.updated_at,
        **_clocks_of(r.state),
    )


def _clocks_of(state: dict[str, Any]) -> dict[str, Any]:
    """What the list says of the SLA clocks, from the stored state: the next due time, when
    the first of those running breached, and whether one is paused."""
    running = [c for c in state.get("clocks", []) if c.get("outcome") == ClockOutcome.RUNNING]
    breaches = [_time(c["breached_at"]) for c in running if c.get("breached_at")]
    return {
        "next_due_at": _time(state["next_due_at"]) if state.get("next_due_at") else None,
        "breached_at": min(breaches, default=None),
        "sla_paused": any(c.get("paused_since") for c in running),
    }


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def count_tickets(*, session: Session, filters: dict[str, TicketFilter]) -> dict[str, int]:
    """How many tickets pass each named filter, in one statement (one pass over the index
    for the console's nine views, where a list call each made three queries)."""
    if not filters:
        return {}
    counts = [func.count().filter(and_(true(), *_conditions(f))) for f in filters.values()]
    row = session.execute(select(*counts).select_from(TicketRow)).one()
    return {name: int(n or 0) for name, n in zip(filters, row, strict=True)}
