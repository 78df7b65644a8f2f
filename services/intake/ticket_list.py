"""The ticket list: filters over the database projection, paginated."""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from services.intake.schemas import TicketPage, TicketSummary
from shared.db.external_refs import holds
from shared.db.tables import TicketRow
from shared.domain.enums import Priority, TicketStatus
from shared.domain.external_refs import parse_label
from shared.domain.models import Person

# Deep pages cost a scan of every row before them, and past 2**63 an OFFSET no longer fits the
# database's integer: 10,000 pages of up to 200 tickets is far beyond what anyone pages through.
MAX_PAGE = 10_000


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


class TicketFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TicketStatus | None = None
    priority: Priority | None = None
    assignee: FilterText | None = None
    team: FilterText | None = None
    department: FilterText | None = None
    help_topic: FilterText | None = None
    overdue: bool | None = None
    q: FilterText | None = Field(default=None, description="subject or requester")
    external: ExternalLabel | None = Field(
        default=None, description="an external reference, system:id (e.g. jira:OPS-12)"
    )
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: int = Field(default=50, ge=1, le=200)


def _filtered(stmt: Select[TicketRow], f: TicketFilter) -> Select[TicketRow]:
    for column, value in (
        (TicketRow.status, f.status),
        (TicketRow.priority, f.priority),
        (TicketRow.assignee, f.assignee),
        (TicketRow.team, f.team),
        (TicketRow.department, f.department),
        (TicketRow.help_topic, f.help_topic),
        (TicketRow.overdue, f.overdue),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.external is not None:
        system, ref_id = parse_label(f.external)
        stmt = stmt.where(holds(system, ref_id))
    if f.q:
        # The words as written: LIKE's wildcards in them match only themselves.
        literal = f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{literal}%"
        stmt = stmt.where(
            or_(
                func.lower(TicketRow.subject).like(pattern, escape="\\"),
                func.lower(TicketRow.requester_email).like(pattern, escape="\\"),
                func.lower(TicketRow.requester_name).like(pattern, escape="\\"),
                TicketRow.number == f.q,
            )
        )
    return stmt


def list_tickets(*, session: Session, filters: TicketFilter) -> TicketPage:
    query = _filtered(select(TicketRow), filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(TicketRow.created_at.desc(), TicketRow.number)
        .offset((filters.page - 1) * filters.per_page)
        .limit(filters.per_page)
    )
    items = [
        TicketSummary(
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
        )
        for r in rows
    ]
    return TicketPage(items=items, total=total, page=filters.page, per_page=filters.per_page)
