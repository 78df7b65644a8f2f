"""The agent report: per agent, work done in a window and business time to respond and
resolve."""

from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.intake.reports.clocks import clock_tallies
from services.intake.reports.schemas import AgentReport, AgentRow, WindowQuery
from services.intake.reports.scope import Scope
from shared.db.tables import Agent, SlaClockFact, TicketEventFact
from shared.domain.enums import EventKind, Role, SlaClock


def agent_report(*, session: Session, query: WindowQuery, scope: Scope) -> AgentReport:
    events = TicketEventFact
    assigned = _events(session, query, scope, EventKind.ASSIGNED, events.assignee)
    responded = _events(session, query, scope, EventKind.RESPONDED, events.actor)
    resolved = _events(session, query, scope, EventKind.RESOLVED, events.actor)
    breaches = _breaches(session, query, scope)
    clocks = clock_tallies(
        session=session,
        key=SlaClockFact.assignee,
        window=query,
        scope=scope,
        clocks=(SlaClock.FIRST_RESPONSE, SlaClock.RESOLUTION),
    )
    handles = set(assigned) | set(responded) | set(resolved) | set(breaches)
    handles |= {group for group, _ in clocks.by_group if group is not None}
    handles |= _staff(session)
    rows = [
        AgentRow(
            agent=handle,
            assigned=assigned[handle],
            responded=responded[handle],
            resolved=resolved[handle],
            first_response_median_s=clocks.of(handle, SlaClock.FIRST_RESPONSE).stats().median_s,
            resolution_median_s=clocks.of(handle, SlaClock.RESOLUTION).stats().median_s,
            breaches=breaches[handle],
        )
        for handle in sorted(handles)
        if scope.shows_agent(handle)
    ]
    return AgentReport(from_=query.from_, to=query.to, rows=rows)


def _events(
    session: Session,
    query: WindowQuery,
    scope: Scope,
    kind: EventKind,
    who: InstrumentedAttribute[Any],
) -> Counter[str]:
    stmt = (
        select(who, func.count())
        .where(
            TicketEventFact.kind == kind.value,
            TicketEventFact.at >= query.from_,
            TicketEventFact.at < query.to,
            who.is_not(None),
            scope.covers(TicketEventFact.team),
        )
        .group_by(who)
    )
    return Counter(dict(session.execute(stmt).all()))


def _breaches(session: Session, query: WindowQuery, scope: Scope) -> Counter[str]:
    """Clock runs of each assignee that breached in the window, whatever their outcome."""
    assignee = SlaClockFact.assignee
    stmt = (
        select(assignee, func.count())
        .where(
            SlaClockFact.breached_at >= query.from_,
            SlaClockFact.breached_at < query.to,
            assignee.is_not(None),
            scope.covers(SlaClockFact.team),
        )
        .group_by(assignee)
    )
    return Counter({who: n for who, n in session.execute(stmt) if who is not None})


def _staff(session: Session) -> set[str]:
    """Active agents and admins, listed even when they did nothing in the window."""
    stmt = select(Agent.handle).where(Agent.active, Agent.role != Role.VIEWER.value)
    return set(session.scalars(stmt).all())
