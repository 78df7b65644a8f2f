"""The reports page's sections (SLA compliance, backlog, times, satisfaction), each drawn
from the reports that make it: SVG charts (services.web.console.charts) with their tables,
or why a part has none."""

from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlencode

from markupsafe import Markup

from services.web.api import ApiError
from services.web.console import charts
from services.web.console.report_data import (
    AgentReport,
    SatisfactionReport,
    SlaReport,
    Window,
)
from services.web.render import when
from shared.domain.enums import Priority

NAMES = {"team": "team", "agent": "agent", "priority": "priority", "help_topic": "help topic"}
NONE_OF = {"team": "(no team)", "agent": "(unassigned)", "help_topic": "(no help topic)"}
PRIORITY_ORDER = [Priority.EMERGENCY, Priority.HIGH, Priority.NORMAL, Priority.LOW]
CLOCKS = ("First response", "Resolution")
NOTHING = "none"  # a figure the API has not (a median of no clock)


class Outcome(StrEnum):
    SHOWN = "shown"
    EMPTY = "empty"  # nothing happened in the period
    REFUSED = "refused"  # 403: not for this role
    FAILED = "failed"  # unreachable, or an answer the page cannot read


@dataclass(frozen=True)
class Table:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # the first cell of each names its row


@dataclass(frozen=True)
class Part:
    """One part of a section: its charts and table, or why there are none."""

    heading: str
    outcome: Outcome
    charts: tuple[Markup, ...] = ()
    table: Table | None = None


@dataclass
class Section:
    id: str
    heading: str
    note: str
    empty: str  # what an empty part says
    legend: tuple[str, str] | None = None  # the two parts of its split bars
    parts: list[Part] = field(default_factory=list)
    csv: list[tuple[str, str]] = field(default_factory=list)  # (label, path)


def _refused(err: ApiError, heading: str = "") -> Part:
    return Part(heading, Outcome.REFUSED if err.status == 403 else Outcome.FAILED)


def _label(value: str | None, by: str) -> str:
    if value is None:
        return NONE_OF.get(by, "(none)")
    return value.capitalize() if by == "priority" else value


def _rank(group: str | None, by: str) -> tuple[int, str]:
    """Priorities from the most urgent; the rest by name, "none" last (as the API sorts)."""
    if by == "priority" and group in PRIORITY_ORDER:
        return PRIORITY_ORDER.index(Priority(group)), ""
    return len(PRIORITY_ORDER), group if group is not None else "\uffff"


def _pct(value: float | None) -> str:
    return NOTHING if value is None else charts.percent(value)


def _duration(seconds: float | None) -> str:
    return NOTHING if seconds is None else charts.duration(seconds)


def _csv_path(report: str, window: Window, **more: str) -> str:
    return f"/agent/reports/{report}.csv?{urlencode(window.params() | more)}"


def sla_section(answers: dict[str, SlaReport | ApiError], window: Window) -> Section:
    section = Section(
        "sla",
        "SLA compliance",
        "SLA clocks that stopped in the period: met in time, or breached (late, or cancelled "
        "after the breach). Compliance is the share met.",
        "No SLA clock stopped in this period.",
        ("met", "breached"),
    )
    for by, answer in answers.items():
        heading = f"By {NAMES[by]}"
        if isinstance(answer, ApiError):
            section.parts.append(_refused(answer, heading))
            continue
        section.parts.append(_compliance(answer, by, heading))
        section.csv.append((f"SLA by {NAMES[by]} (CSV)", _csv_path("sla", window, group_by=by)))
    return section


def _compliance(report: SlaReport, by: str, heading: str) -> Part:
    lines = [
        line
        for line in sorted(report.rows, key=lambda line: _rank(line.group, by))
        if any(clock.met + clock.breached for clock in (line.first_response, line.resolution))
    ]
    if not lines:
        return Part(heading, Outcome.EMPTY)
    title = f"SLA compliance by {NAMES[by]}"
    groups = tuple(
        charts.SplitGroup(
            _label(line.group, by),
            tuple(
                charts.SplitBar(name, clock.met, clock.breached, clock.compliance_pct)
                for name, clock in zip(CLOCKS, (line.first_response, line.resolution), strict=True)
            ),
        )
        for line in lines
    )
    chart = charts.split_chart(charts.SplitChart(f"sla-{by}", title, "met", "breached", groups))
    columns = [NAMES[by].capitalize()]
    for clock in CLOCKS:
        columns += [f"{clock}: met", f"{clock}: breached", f"{clock}: compliance"]
    rows = tuple(
        (
            _label(line.group, by),
            *(
                cell
                for clock in (line.first_response, line.resolution)
                for cell in (str(clock.met), str(clock.breached), _pct(clock.compliance_pct))
            ),
        )
        for line in lines
    )
    return Part(heading, Outcome.SHOWN, (chart,), Table(title, tuple(columns), rows))


def backlog_section(answer: SlaReport | ApiError, window: Window) -> Section:
    section = Section(
        "backlog",
        "Backlog by age",
        f"Open and pending tickets at the end of the period ({when(window.end)}), by age.",
        "No open or pending tickets at the end of this period.",
    )
    if isinstance(answer, ApiError):
        section.parts.append(_refused(answer))
        return section
    backlog = answer.totals.backlog
    buckets = (
        ("Under 1 day", backlog.under_1d),
        ("1 to 3 days", backlog.from_1d_to_3d),
        ("3 to 7 days", backlog.from_3d_to_7d),
        ("Over 7 days", backlog.over_7d),
    )
    if not any(count for _, count in buckets):
        section.parts.append(Part("", Outcome.EMPTY))
        return section
    words = {n: f"{n} ticket{'' if n == 1 else 's'}" for _, n in buckets}
    bars = tuple(charts.ValueBar(name, n, words[n]) for name, n in buckets)
    chart = charts.value_chart(charts.ValueChart("backlog", "Backlog by age", bars))
    table = Table("Backlog by age", ("Age", "Tickets"), tuple((a, str(n)) for a, n in buckets))
    section.parts.append(Part("", Outcome.SHOWN, (chart,), table))
    return section


def times_section(
    by_team: SlaReport | ApiError, by_agent: AgentReport | ApiError, window: Window
) -> Section:
    section = Section(
        "times",
        "First response and resolution times",
        "Medians of the SLA clocks that stopped in the period, in business time (time "
        "outside business hours or while pending is not counted).",
        "No first response or resolution in this period.",
    )
    if isinstance(by_team, ApiError):
        section.parts.append(_refused(by_team, "By team"))
    else:
        medians = [
            (_label(x.group, "team"), x.first_response.median_s, x.resolution.median_s)
            for x in by_team.rows
        ]
        section.parts.append(_medians("team", medians))
    if isinstance(by_agent, ApiError):
        section.parts.append(_refused(by_agent, "By agent"))
    else:
        medians = [
            (x.agent, x.first_response_median_s, x.resolution_median_s) for x in by_agent.rows
        ]
        section.parts.append(_medians("agent", medians))
        section.csv.append(("Agents (CSV)", _csv_path("agents", window)))
    return section


def _medians(by: str, medians: list[tuple[str, float | None, float | None]]) -> Part:
    medians = [m for m in medians if m[1] is not None or m[2] is not None]
    if not medians:
        return Part(f"By {by}", Outcome.EMPTY)
    names = [name for name, _, _ in medians]
    columns_of = ([first for _, first, _ in medians], [last for _, _, last in medians])
    drawn = tuple(
        charts.value_chart(
            charts.ValueChart(
                f"median-{index}-{by}",
                f"{clock} median by {by}",
                tuple(
                    charts.ValueBar(n, v, _duration(v)) for n, v in zip(names, values, strict=True)
                ),
                titled=True,
            )
        )
        for index, (clock, values) in enumerate(zip(CLOCKS, columns_of, strict=True))
    )
    columns = (by.capitalize(), *(f"{clock} median" for clock in CLOCKS))
    rows = tuple((name, _duration(first), _duration(last)) for name, first, last in medians)
    return Part(f"By {by}", Outcome.SHOWN, drawn, Table(f"Median times by {by}", columns, rows))


def satisfaction_section(answers: dict[str, SatisfactionReport | ApiError]) -> Section:
    section = Section(
        "satisfaction",
        "Satisfaction",
        "Requesters' ratings, good or bad, of closed tickets, given in the period.",
        "No ratings in this period.",
        ("good", "bad"),
    )
    for by, answer in answers.items():
        heading = f"By {NAMES[by]}"
        if isinstance(answer, ApiError):
            section.parts.append(_refused(answer, heading))
        elif not answer.rows:
            section.parts.append(Part(heading, Outcome.EMPTY))
        else:
            section.parts.append(_ratings(answer, by, heading))
    return section


def _ratings(report: SatisfactionReport, by: str, heading: str) -> Part:
    title = f"Satisfaction by {NAMES[by]}"
    shares = [None if line.score is None else 100 * line.score for line in report.rows]
    groups = tuple(
        charts.SplitGroup(
            _label(line.group, by), (charts.SplitBar("", line.good, line.bad, share),)
        )
        for line, share in zip(report.rows, shares, strict=True)
    )
    chart = charts.split_chart(charts.SplitChart(f"csat-{by}", title, "good", "bad", groups))
    rows = tuple(
        (_label(line.group, by), str(line.good), str(line.bad), _pct(share))
        for line, share in zip(report.rows, shares, strict=True)
    )
    columns = (NAMES[by].capitalize(), "Good", "Bad", "Share good")
    return Part(heading, Outcome.SHOWN, (chart,), Table(title, columns, rows))
