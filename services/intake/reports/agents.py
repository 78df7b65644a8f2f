"""The agent report: per agent, work done in a window and business time to respond and
resolve."""

from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.intake.reports.clocks import clock_tallies
from services.intake.reports.schemas import AgentLine, AgentReport, WindowQuery
from services.intake.reports.scope import Scope
from shared.db.tables import AgentRow, SlaClockFactRow, TicketEventFactRow
from shared.domain.enums import EventKind, Role, SlaClock


def agent_report(*, session: Session, query: WindowQuery, scope: Scope) -> AgentReport:
    events = TicketEventFactRow
    assigned = _events(session, query, scope, EventKind.ASSIGNED, events.assignee)
    responded = _events(session, query, scope, EventKind.RESPONDED, events.actor)
    resolved = _events(session, query, scope, EventKind.RESOLVED, events.actor)
    breaches = _breaches(session, query, scope)
    clocks = clock_tallies(
        session=session,
        key=SlaClockFactRow.assignee,
        window=query,
        scope=scope,
        clocks=(SlaClock.FIRST_RESPONSE, SlaClock.RESOLUTION),
    )
    handles = set(assigned) | set(responded) | set(resolved) | set(breaches)
    handles |= {group for group, _ in clocks.by_group if group is not None}
    handles |= _staff(session)
    rows = [
        AgentLine(
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
            TicketEventFactRow.kind == kind.value,
            TicketEventFactRow.at >= query.from_,
            TicketEventFactRow.at < query.to,
            who.is_not(None),
            scope.covers(TicketEventFactRow.team),
        )
        .group_by(who)
    )
    return Counter(dict(session.execute(stmt).all()))


def _breaches(session: Session, query: WindowQuery, scope: Scope) -> Counter[str]:
    """Clock runs of each assignee that breached in the window, whatever their outcome."""
    assignee = SlaClockFactRow.assignee
    stmt = (
        select(assignee, func.count())
        .where(
            SlaClockFactRow.breached_at >= query.from_,
            SlaClockFactRow.breached_at < query.to,
            assignee.is_not(None),
            scope.covers(SlaClockFactRow.team),
        )
        .group_by(assignee)
    )
    return Counter({who: n for who, n in session.execute(stmt) if who is not None})


def _staff(session: Session) -> set[str]:
    """Active agents and admins, listed even when they did nothing in the window."""
    stmt = select(AgentRow.handle).where(AgentRow.active, AgentRow.role != Role.VIEWER.value)
    return set(session.scalars(stmt).all())
