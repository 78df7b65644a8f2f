"""Reads of reference data: agents, teams, departments, help topics, SLA plans."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.tables import Agent, Department, HelpTopic, SlaPlan, Team
from shared.enums import Priority, RecipientRole
from shared.models import NotificationRequest, Person, SlaOverride, SlaPlanSnapshot
from shared.sla import parse_duration


def agent_by_token_hash(session: Session, token_hash: str) -> Agent | None:
    return session.scalar(
        select(Agent).where(Agent.token_hash == token_hash, Agent.active.is_(True))
    )


def sla_snapshot(plan: SlaPlan) -> SlaPlanSnapshot:
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
        by_priority=overrides,
    )


def recipient_handle(session: Session, request: NotificationRequest) -> str | None:
    """The agent handle a notice's role points at (None for the requester or nobody)."""
    role = request.notice.recipient.role
    if role is RecipientRole.AGENT:
        return request.notice.recipient.handle
    if role is RecipientRole.ASSIGNEE:
        return request.assignee
    if role is RecipientRole.TEAM_LEAD and request.team:
        team = session.get(Team, request.team)
        return team.lead if team else None
    if role is RecipientRole.DEPARTMENT_MANAGER:
        department = session.get(Department, request.department)
        return department.manager if department else None
    return None


def agent_person(session: Session, handle: str) -> Person | None:
    agent = session.get(Agent, handle)
    return None if agent is None else Person(name=agent.name, email=agent.email)


def help_topic(session: Session, handle: str) -> HelpTopic | None:
    return session.get(HelpTopic, handle)
