"""What the reports must say about a generated history, worked out the slow, obvious way: one
pass over plain Python rows per figure, percentiles by `statistics`, nothing shared with the
service's code."""

import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from tests.intake.report_data import History, Row

COLUMN = {
    "team": "team",
    "agent": "assignee",
    "department": "department",
    "help_topic": "help_topic",
    "priority": "priority",
}
FLOW = {
    "opened": {"created"},
    "resolved": {"resolved"},
    "closed": {"closed", "auto_closed"},
    "reopened": {"reopened"},
}
CLOCKS = ("first_response", "next_response", "resolution")
DAY = timedelta(days=1)


def _p90(values: list[int]) -> float:
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def _median(values: list[int]) -> float | None:
    return round(float(statistics.median(values)), 3) if values else None


def clock_stats(runs: list[Row]) -> dict[str, Any]:
    timed = sorted(
        r["business_seconds"]
        for r in runs
        if r["outcome"] in ("met", "late") and r["business_seconds"] is not None
    )
    met = sum(r["outcome"] == "met" for r in runs)
    late = sum(r["outcome"] == "late" for r in runs)
    cancelled = sum(r["outcome"] == "cancelled" and r["breached"] for r in runs)
    judged = met + late + cancelled
    return {
        "count": len(timed),
        "median_s": _median(timed),
        "p90_s": round(_p90(timed), 3) if timed else None,
        "met": met,
        "late": late,
        "cancelled_breached": cancelled,
        "compliance_pct": round(100 * met / judged, 2) if judged else None,
    }


def backlog(tickets: Iterable[Row], to: datetime) -> dict[str, int]:
    ages = [to - t["created_at"] for t in tickets if t["created_at"] < to]
    return {
        "<1d": sum(age < DAY for age in ages),
        "1-3d": sum(DAY <= age < 3 * DAY for age in ages),
        "3-7d": sum(3 * DAY <= age < 7 * DAY for age in ages),
        ">7d": sum(age >= 7 * DAY for age in ages),
    }


def sla(
    h: History, lo: datetime, hi: datetime, group_by: str, teams: set[str] | None = None
) -> dict[str, Any]:
    """The `/sla` JSON body (bar from/to) for the window [lo, hi)."""
    column = COLUMN[group_by]

    def seen(row: Row) -> bool:
        return teams is None or row["team"] in teams

    flow_kinds = set().union(*FLOW.values())
    events = [e for e in h.events if seen(e) and lo <= e["at"] < hi and e["kind"] in flow_kinds]
    runs = [
        c for c in h.clocks if seen(c) and c["outcome"] != "running" and lo <= c["stopped_at"] < hi
    ]
    live = [t for t in h.tickets if seen(t) and t["status"] in ("open", "pending")]

    def row(group: str | None, total: bool = False) -> dict[str, Any]:
        def keep(r: Row) -> bool:
            return total or r[column] == group

        flow = {
            name: sum(e["kind"] in kinds for e in events if keep(e)) for name, kinds in FLOW.items()
        }
        mine = [t for t in live if keep(t)]
        clocks = {c: clock_stats([r for r in runs if keep(r) and r["clock"] == c]) for c in CLOCKS}
        overdue = sum(t["overdue"] for t in mine)
        return {"group": group, **flow, "overdue": overdue, **clocks, "backlog": backlog(mine, hi)}

    groups = {r[column] for r in (*events, *runs, *live)}
    ordered = sorted(groups, key=lambda g: (g is None, g or ""))
    return {
        "group_by": group_by,
        "rows": [row(g) for g in ordered],
        "totals": row(None, total=True),
    }


def agents(
    h: History,
    lo: datetime,
    hi: datetime,
    staff: set[str],
    teams: set[str] | None = None,
    mates: set[str] | None = None,
) -> list[dict[str, Any]]:
    """The `/agents` rows for [lo, hi): `staff` are the active agents and admins."""

    def seen(row: Row) -> bool:
        return teams is None or row["team"] in teams

    events = [e for e in h.events if seen(e) and lo <= e["at"] < hi]
    assigned = Counter(e["assignee"] for e in events if e["kind"] == "assigned")
    responded = Counter(e["actor"] for e in events if e["kind"] == "responded")
    resolved = Counter(e["actor"] for e in events if e["kind"] == "resolved")
    stopped = [
        c
        for c in h.clocks
        if seen(c)
        and c["clock"] in ("first_response", "resolution")
        and c["outcome"] != "running"
        and lo <= c["stopped_at"] < hi
    ]
    breaches = Counter(
        c["assignee"]
        for c in h.clocks
        if seen(c) and c["breached_at"] and lo <= c["breached_at"] < hi
    )
    handles = set(assigned) | set(responded) | set(resolved) | set(breaches) | staff
    handles |= {c["assignee"] for c in stopped}
    handles.discard(None)

    def median(handle: str, clock: str) -> float | None:
        return _median(
            [
                c["business_seconds"]
                for c in stopped
                if c["assignee"] == handle
                and c["clock"] == clock
                and c["outcome"] in ("met", "late")
            ]
        )

    return [
        {
            "agent": handle,
            "assigned": assigned[handle],
            "responded": responded[handle],
            "resolved": resolved[handle],
            "first_response_median_s": median(handle, "first_response"),
            "resolution_median_s": median(handle, "resolution"),
            "breaches": breaches[handle],
        }
        for handle in sorted(handles)
        if mates is None or handle in mates
    ]
