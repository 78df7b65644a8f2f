"""SLA clock statistics per group: counts, compliance and business-time percentiles of the
clock runs stopped in a window.

PostgreSQL computes the percentiles itself (`percentile_cont ... WITHIN GROUP`, with the total
per clock from `ROLLUP`); elsewhere the business times are fetched and `shared.percentiles`
applies the identical definition.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.intake.reports.schemas import ClockStats, WindowQuery
from services.intake.reports.scope import Scope
from shared.db.tables import SlaClockFactRow
from shared.domain.enums import ClockOutcome, SlaClock
from shared.percentiles import percentile_cont

GroupKey = str | None
TIMED = (ClockOutcome.MET.value, ClockOutcome.LATE.value)
STOPPED = (*TIMED, ClockOutcome.CANCELLED.value)


@dataclass
class ClockTally:
    met: int = 0
    late: int = 0
    cancelled_breached: int = 0
    count: int = 0
    median: float | None = None
    p90: float | None = None

    def stats(self) -> ClockStats:
        judged = self.met + self.late + self.cancelled_breached
        return ClockStats(
            count=self.count,
            median_s=_rounded(self.median, 3),
            p90_s=_rounded(self.p90, 3),
            met=self.met,
            late=self.late,
            cancelled_breached=self.cancelled_breached,
            compliance_pct=_rounded(100 * self.met / judged, 2) if judged else None,
        )


@dataclass
class ClockTallies:
    by_group: dict[tuple[GroupKey, str], ClockTally] = field(default_factory=dict)
    totals: dict[str, ClockTally] = field(default_factory=dict)

    def of(self, group: GroupKey, clock: SlaClock) -> ClockTally:
        return self.by_group.get((group, clock.value), ClockTally())

    def total(self, clock: SlaClock) -> ClockTally:
        return self.totals.get(clock.value, ClockTally())


def clock_tallies(
    *,
    session: Session,
    key: InstrumentedAttribute[Any],
    window: WindowQuery,
    scope: Scope,
    clocks: Sequence[SlaClock] = tuple(SlaClock),
) -> ClockTallies:
    """Per (value of `key`, clock) and per clock over all groups, for runs stopped in window."""
    where = and_(
        SlaClockFactRow.clock.in_([c.value for c in clocks]),
        SlaClockFactRow.stopped_at >= window.from_,
        SlaClockFactRow.stopped_at < window.to,
        SlaClockFactRow.outcome.in_(STOPPED),
        scope.covers(SlaClockFactRow.team),
    )
    if session.get_bind().dialect.name == "postgresql":
        return _in_sql(session, key, where)
    return _in_python(session, key, where)


def _in_sql(
    session: Session, key: InstrumentedAttribute[Any], where: ColumnElement[bool]
) -> ClockTallies:
    outcome, seconds = SlaClockFactRow.outcome, SlaClockFactRow.business_seconds
    timed = outcome.in_(TIMED)
    stmt = (
        select(
            SlaClockFactRow.clock,
            key,
            func.grouping(key),
            func.count().filter(outcome == ClockOutcome.MET.value),
            func.count().filter(outcome == ClockOutcome.LATE.value),
            func.count().filter(
                and_(outcome == ClockOutcome.CANCELLED.value, SlaClockFactRow.breached)
            ),
            func.count(seconds).filter(timed),
            func.percentile_cont(0.5).within_group(seconds).filter(timed),
            func.percentile_cont(0.9).within_group(seconds).filter(timed),
        )
        .where(where)
        .group_by(SlaClockFactRow.clock, func.rollup(key))
    )
    tallies = ClockTallies()
    for clock, group, is_total, met, late, cancelled, count, median, p90 in session.execute(stmt):
        tally = ClockTally(met, late, cancelled, count, _float(median), _float(p90))
        if is_total:
            tallies.totals[clock] = tally
        else:
            tallies.by_group[(group, clock)] = tally
    return tallies


def _in_python(
    session: Session, key: InstrumentedAttribute[Any], where: ColumnElement[bool]
) -> ClockTallies:
    stmt = select(
        SlaClockFactRow.clock,
        key,
        SlaClockFactRow.outcome,
        SlaClockFactRow.breached,
        SlaClockFactRow.business_seconds,
    ).where(where)
    groups: dict[tuple[GroupKey, str], list[tuple[str, bool, int | None]]] = defaultdict(list)
    totals: dict[str, list[tuple[str, bool, int | None]]] = defaultdict(list)
    for clock, group, outcome, breached, seconds in session.execute(stmt):
        groups[(group, clock)].append((outcome, breached, seconds))
        totals[clock].append((outcome, breached, seconds))
    return ClockTallies(
        by_group={k: _tally(runs) for k, runs in groups.items()},
        totals={k: _tally(runs) for k, runs in totals.items()},
    )


def _tally(runs: Iterable[tuple[str, bool, int | None]]) -> ClockTally:
    tally = ClockTally()
    seconds: list[int] = []
    for outcome, breached, elapsed in runs:
        if outcome == ClockOutcome.MET.value:
            tally.met += 1
        elif outcome == ClockOutcome.LATE.value:
            tally.late += 1
        elif breached:
            tally.cancelled_breached += 1
        if outcome in TIMED and elapsed is not None:
            seconds.append(elapsed)
    seconds.sort()
    tally.count = len(seconds)
    tally.median = percentile_cont(seconds, 0.5)
    tally.p90 = percentile_cont(seconds, 0.9)
    return tally


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
