"""Reads of reference data: agents, teams, departments, help topics, SLA plans, schedules."""

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from shared.db.tables import (
    AgentRow,
    DepartmentRow,
    HelpTopicRow,
    SlaPlanRow,
    TeamMemberRow,
    TeamRow,
)
from shared.db.tables import ScheduleRow as ScheduleRow
from shared.domain.business_time import Schedule
from shared.domain.enums import Priority, RecipientRole, SlaClock
from shared.domain.models import Ladder, Notice, Person, SlaOverride, SlaPlanSnapshot
from shared.domain.sla import parse_duration


class AgentIdentity(NamedTuple):
    handle: str
    name: str
    email: str
    role: str


# Asked on every agent's request: one Core statement, compiled once, no ORM objects.
_AGENT_BY_TOKEN = select(AgentRow.handle, AgentRow.name, AgentRow.email, AgentRow.role).where(
    AgentRow.token_hash == bindparam("token_hash"), AgentRow.active.is_(True)
)


def agent_by_token_hash(session: Session, token_hash: str) -> AgentIdentity | None:
    """The active agent whose token hashes to `token_hash`."""
    row = session.connection().execute(_AGENT_BY_TOKEN, {"token_hash": token_hash}).first()
    return None if row is None else AgentIdentity(*row)


def sla_snapshot(plan: SlaPlanRow, schedule: Schedule | None) -> SlaPlanSnapshot:
    """The plan as a ticket keeps it, counting in `schedule` (see `effective_schedule`)."""
    overrides = {
        Priority(priority): SlaOverride(
            first_response=parse_duration(o["first_response"]) if o.get("first_response") else None,
            resolution=parse_duration(o["resolution"]) if o.get("resolution") else None,
        )
        for priority, o in (plan.by_priority or {}).items()
    }
    return SlaPlanSnapshot(
        handle=plan.handle,
        name=plan.name,
        first_response=parse_duration(plan.first_response),
        resolution=parse_duration(plan.resolution),
        auto_close=parse_duration(plan.auto_close),
        next_response=parse_duration(plan.next_response) if plan.next_response else None,
        by_priority=overrides,
        schedule=schedule,
        ladders={
            SlaClock(clock): Ladder.model_validate(ladder)
            for clock, ladder in (plan.ladders or {}).items()
        },
    )


def effective_schedule(session: Session, *, department: str, plan: SlaPlanRow) -> Schedule | None:
    """The business hours a ticket counts in: its department's, else its plan's; None: 24/7."""
    row = session.get(DepartmentRow, department)
    handle = (row.schedule if row is not None else None) or plan.schedule
    return None if handle is None else business_hours(session, handle)


def business_hours(session: Session, handle: str) -> Schedule | None:
    """The schedule stored under `handle`, if there is one."""
    row = session.get(ScheduleRow, handle)
    return None if row is None else Schedule.model_validate(row.definition)


def recipient_handles(
    session: Session,
    notices: Sequence[Notice],
    *,
    team: str | None,
    department: str,
    assignee: str | None,
) -> list[list[str]]:
    """The agent handles each notice's role points at (none for the requester or nobody), in
    at most one query per role kind, whatever the number of notices."""
    roles = {notice.recipient.role for notice in notices}
    lead = manager = None
    if RecipientRole.TEAM_LEAD in roles and team:
        lead = session.scalar(select(TeamRow.lead).where(TeamRow.handle == team))
    if RecipientRole.DEPARTMENT_MANAGER in roles:
        manager = session.scalar(
            select(DepartmentRow.manager).where(DepartmentRow.handle == department)
        )
    members: dict[str, list[str]] = {}
    teams = {n.recipient.handle for n in notices if n.recipient.role is RecipientRole.TEAM}
    if teams - {None}:
        query = select(TeamMemberRow.team, TeamMemberRow.agent).where(
            TeamMemberRow.team.in_(teams - {None})
        )
        for row in session.execute(query.order_by(TeamMemberRow.agent)):
            members.setdefault(row.team, []).append(row.agent)
    handles: list[list[str]] = []
    for notice in notices:
        role, named = notice.recipient.role, notice.recipient.handle
        if role is RecipientRole.TEAM:
            handles.append(members.get(named or "", []))
            continue
        handle = {
            RecipientRole.AGENT: named,
            RecipientRole.ASSIGNEE: assignee,
            RecipientRole.TEAM_LEAD: lead,
            RecipientRole.DEPARTMENT_MANAGER: manager,
        }.get(role)
        handles.append([handle] if handle else [])
    return handles


def people(session: Session, handles: Iterable[str]) -> dict[str, Person]:
    """The agents among `handles`, by handle, in one query."""
    wanted = set(handles)
    if not wanted:
        return {}
    query = select(AgentRow.handle, AgentRow.name, AgentRow.email).where(
        AgentRow.handle.in_(wanted)
    )
    return {row.handle: Person(name=row.name, email=row.email) for row in session.execute(query)}


def help_topic(session: Session, handle: str) -> HelpTopicRow | None:
    return session.get(HelpTopicRow, handle)
