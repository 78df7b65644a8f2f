"""Reads of reference data: agents, teams, departments, help topics, SLA plans, schedules."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.tables import Agent, Department, HelpTopic, SlaPlan, Team, TeamMember
from shared.db.tables import Schedule as ScheduleRow
from shared.domain.business_time import Schedule
from shared.domain.enums import Priority, RecipientRole, SlaClock
from shared.domain.models import Ladder, NotificationRequest, Person, SlaOverride, SlaPlanSnapshot
from shared.domain.sla import parse_duration


def agent_by_token_hash(session: Session, token_hash: str) -> Agent | None:
    return session.scalar(
        select(Agent).where(Agent.token_hash == token_hash, Agent.active.is_(True))
    )


def sla_snapshot(plan: SlaPlan, schedule: Schedule | None) -> SlaPlanSnapshot:
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


def effective_schedule(session: Session, *, department: str, plan: SlaPlan) -> Schedule | None:
    """The business hours a ticket counts in: its department's, else its plan's; None: 24/7."""
    row = session.get(Department, department)
    handle = (row.schedule if row is not None else None) or plan.schedule
    return None if handle is None else business_hours(session, handle)


def business_hours(session: Session, handle: str) -> Schedule | None:
    """The schedule stored under `handle`, if there is one."""
    row = session.get(ScheduleRow, handle)
    return None if row is None else Schedule.model_validate(row.definition)


def recipient_handles(session: Session, request: NotificationRequest) -> list[str]:
    """The agent handles a notice's role points at (none for the requester or nobody)."""
    recipient = request.notice.recipient
    role = recipient.role
    handle: str | None = None
    if role is RecipientRole.AGENT:
        handle = recipient.handle
    elif role is RecipientRole.ASSIGNEE:
        handle = request.assignee
    elif role is RecipientRole.TEAM_LEAD and request.team:
        team = session.get(Team, request.team)
        handle = team.lead if team else None
    elif role is RecipientRole.DEPARTMENT_MANAGER:
        department = session.get(Department, request.department)
        handle = department.manager if department else None
    elif role is RecipientRole.TEAM and recipient.handle:
        members = select(TeamMember.agent).where(TeamMember.team == recipient.handle)
        return sorted(session.scalars(members))
    return [handle] if handle else []


def agent_person(session: Session, handle: str) -> Person | None:
    agent = session.get(Agent, handle)
    return None if agent is None else Person(name=agent.name, email=agent.email)


def help_topic(session: Session, handle: str) -> HelpTopic | None:
    return session.get(HelpTopic, handle)
