"""The SLA report: per group of a dimension, ticket flow in a window, SLA clock statistics of
the runs stopped in it, and today's overdue tickets and backlog by age."""

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.intake.reports.clocks import ClockTallies, GroupKey, clock_tallies
from services.intake.reports.schemas import Backlog, GroupBy, SlaLine, SlaQuery, SlaReport
from services.intake.reports.scope import Scope
from shared.db.tables import SlaClockFactRow, TicketEventFactRow, TicketRow
from shared.domain.enums import EventKind, SlaClock, TicketStatus

# The column each grouping reads, by name, in every fact table and in the projection.
COLUMNS = {
    GroupBy.TEAM: "team",
    GroupBy.AGENT: "assignee",
    GroupBy.DEPARTMENT: "department",
    GroupBy.HELP_TOPIC: "help_topic",
    GroupBy.PRIORITY: "priority",
}
# Report field -> the event kinds it counts.
FLOW = {
    "opened": (EventKind.CREATED,),
    "resolved": (EventKind.RESOLVED,),
    "closed": (EventKind.CLOSED, EventKind.AUTO_CLOSED),
    "reopened": (EventKind.REOPENED,),
}
FIELD_OF_KIND = {kind.value: name for name, kinds in FLOW.items() for kind in kinds}
BACKLOG_EDGES = (timedelta(days=1), timedelta(days=3), timedelta(days=7))
LIVE = (TicketStatus.OPEN.value, TicketStatus.PENDING.value)


def column(table: type[Any], group_by: GroupBy) -> InstrumentedAttribute[Any]:
    attribute: InstrumentedAttribute[Any] = getattr(table, COLUMNS[group_by])
    return attribute


def sla_report(*, session: Session, query: SlaQuery, scope: Scope) -> SlaReport:
    flow = _flow(session, query, scope)
    live = _live_tickets(session, query, scope)
    clocks = clock_tallies(
        session=session,
        key=column(SlaClockFactRow, query.group_by),
        window=query,
        scope=scope,
    )
    groups = set(flow) | set(live) | {group for group, _ in clocks.by_group}
    rows = [
        _row(group, flow.get(group, Counter()), live.get(group, Counter()), clocks, total=False)
        for group in sorted(groups, key=lambda g: (g is None, g or ""))
    ]
    totals = _row(None, sum(flow.values(), Counter()), sum(live.values(), Counter()), clocks, True)
    return SlaReport(
        from_=query.from_, to=query.to, group_by=query.group_by, rows=rows, totals=totals
    )


def _row(
    group: GroupKey, flow: Counter[str], live: Counter[str], clocks: ClockTallies, total: bool
) -> SlaLine:
    def stats(clock: SlaClock) -> Any:
        return (clocks.total(clock) if total else clocks.of(group, clock)).stats()

    return SlaLine(
        group=group,
        **{name: flow[name] for name in FLOW},
        overdue=live["overdue"],
        first_response=stats(SlaClock.FIRST_RESPONSE),
        next_response=stats(SlaClock.NEXT_RESPONSE),
        resolution=stats(SlaClock.RESOLUTION),
        backlog=Backlog(**{name: live[name] for name in Backlog.model_fields}),
    )


def _flow(session: Session, query: SlaQuery, scope: Scope) -> dict[GroupKey, Counter[str]]:
    """Counts of the flow events in the window, by the group right after each event."""
    key = column(TicketEventFactRow, query.group_by)
    stmt = (
        select(key, TicketEventFactRow.kind, func.count())
        .where(
            TicketEventFactRow.kind.in_(sorted(FIELD_OF_KIND)),
            TicketEventFactRow.at >= query.from_,
            TicketEventFactRow.at < query.to,
            scope.covers(TicketEventFactRow.team),
        )
        .group_by(key, TicketEventFactRow.kind)
    )
    counts: dict[GroupKey, Counter[str]] = {}
    for group, kind, count in session.execute(stmt):
        counts.setdefault(group, Counter())[FIELD_OF_KIND[kind]] += count
    return counts


def _live_tickets(session: Session, query: SlaQuery, scope: Scope) -> dict[GroupKey, Counter[str]]:
    """Open and pending tickets now: overdue ones, and those created before `to` by age."""
    key = column(TicketRow, query.group_by)
    created = TicketRow.created_at
    one, three, seven = (query.to - edge for edge in BACKLOG_EDGES)
    stmt = (
        select(
            key,
            func.count().filter(TicketRow.overdue),
            func.count().filter(and_(created > one, created < query.to)),
            func.count().filter(and_(created > three, created <= one)),
            func.count().filter(and_(created > seven, created <= three)),
            func.count().filter(created <= seven),
        )
        .where(TicketRow.status.in_(LIVE), scope.covers(TicketRow.team))
        .group_by(key)
    )
    names = ("overdue", *Backlog.model_fields)
    return {
        group: Counter(dict(zip(names, counts, strict=True)))
        for group, *counts in session.execute(stmt)
    }
