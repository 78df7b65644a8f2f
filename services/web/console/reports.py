"""The reports page (`/agent/reports`): for a chosen period, the API's SLA, agent and
satisfaction reports drawn as SVG charts (services.web.console.charts) with their tables,
beside links to the CSV the API offers (passed through with the agent's credential).

The API decides what a role sees: a report it refuses (403) is a section that says so, one it
could not answer says that; nothing is hidden here on a guess about roles."""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from services.web.api import ApiError, IntakeApi
from services.web.console import charts
from services.web.console.agent import SignedIn, signed_in
from services.web.deps import ApiDep
from services.web.render import page, when
from shared.domain.enums import Priority

router = APIRouter(prefix="/agent/reports")
API = "/api/v1/reports"
PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = 366  # the API's longest window
SLA_BY = ("team", "agent", "priority")
SATISFACTION_BY = ("team", "agent", "help_topic")
NAMES = {"team": "team", "agent": "agent", "priority": "priority", "help_topic": "help topic"}
NONE_OF = {"team": "(no team)", "agent": "(unassigned)", "help_topic": "(no help topic)"}
PRIORITY_ORDER = [Priority.EMERGENCY, Priority.HIGH, Priority.NORMAL, Priority.LOW]
CLOCKS = ("First response", "Resolution")
NOTHING = "none"  # a figure the API has not (a median of no clock)
UNREACHABLE = "The help desk's API cannot be reached just now. Try again in a moment."


class Report(BaseModel):
    """What the page reads of a report: fields it does not show are ignored."""

    model_config = ConfigDict(extra="ignore")


class ClockStats(Report):
    median_s: float | None
    met: int
    late: int
    cancelled_breached: int
    compliance_pct: float | None

    @property
    def breached(self) -> int:
        return self.late + self.cancelled_breached


class Backlog(Report):
    under_1d: int = Field(alias="<1d")
    from_1d_to_3d: int = Field(alias="1-3d")
    from_3d_to_7d: int = Field(alias="3-7d")
    over_7d: int = Field(alias=">7d")


class SlaLine(Report):
    group: str | None
    first_response: ClockStats
    resolution: ClockStats
    backlog: Backlog


class SlaReport(Report):
    rows: list[SlaLine]
    totals: SlaLine


class AgentLine(Report):
    agent: str
    first_response_median_s: float | None
    resolution_median_s: float | None


class AgentReport(Report):
    rows: list[AgentLine]


class SatisfactionLine(Report):
    group: str | None
    good: int
    bad: int
    score: float | None


class RatingComment(Report):
    ticket: str
    rating: str
    at: datetime
    text: str


class SatisfactionReport(Report):
    rows: list[SatisfactionLine]
    comments: list[RatingComment]


R = TypeVar("R", bound=Report)
PATHS: dict[type[Report], str] = {
    SlaReport: "sla",
    AgentReport: "agents",
    SatisfactionReport: "satisfaction",
}


class Outcome(StrEnum):
    SHOWN = "shown"
    EMPTY = "empty"  # nothing happened in the period
    REFUSED = "refused"  # 403: not for this role
    FAILED = "failed"  # unreachable, or an answer the page cannot read


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; `days`: the preset chosen (None: two dates)."""

    start: datetime
    end: datetime
    days: int | None

    def params(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    @property
    def last_day(self) -> date:
        """The last day the window touches (its end is excluded)."""
        return (self.end - timedelta(microseconds=1)).date()


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


async def agent_or_unreachable(request: Request, api: ApiDep) -> SignedIn | None:
    """The signed-in agent; None when the API cannot be reached to say who it is."""
    try:
        return await signed_in(request, api)
    except ApiError as err:
        if err.status == 0 or err.status >= 500:
            return None
        raise


MaybeAgent = Annotated[SignedIn | None, Depends(agent_or_unreachable)]
From = Annotated[str, Query(alias="from", max_length=40)]
To = Annotated[str, Query(alias="to", max_length=40)]


@router.get("", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    agent: MaybeAgent,
    api: ApiDep,
    start: From = "",
    end: To = "",
    days: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    if agent is None:
        return _page(request, None, status_code=503, problem=UNREACHABLE)
    window, problem = choose_window(days=days, start=start, end=end, now=datetime.now(UTC))
    if problem is not None:
        return _page(request, agent, status_code=422, problem=problem, start=start, end=end)
    sla, agents, satisfaction = await asyncio.gather(
        asyncio.gather(*(_fetch(api, agent, SlaReport, window=window, by=by) for by in SLA_BY)),
        _fetch(api, agent, AgentReport, window=window),
        asyncio.gather(
            *(
                _fetch(api, agent, SatisfactionReport, window=window, by=by)
                for by in SATISFACTION_BY
            )
        ),
    )
    answers = [*sla, agents, *satisfaction]
    if all(isinstance(a, ApiError) and (a.status == 0 or a.status >= 500) for a in answers):
        return _page(request, agent, status_code=503, problem=UNREACHABLE, window=window)
    sections = [
        sla_section(dict(zip(SLA_BY, sla, strict=True)), window),
        backlog_section(sla[0], window),
        times_section(sla[0], agents, window),
        satisfaction_section(dict(zip(SATISFACTION_BY, satisfaction, strict=True))),
    ]
    outcomes = {part.outcome for section in sections for part in section.parts}
    latest = satisfaction[0]
    return _page(
        request,
        agent,
        window=window,
        sections=sections,
        nothing=Outcome.SHOWN not in outcomes and Outcome.EMPTY in outcomes,
        comments=latest.comments if isinstance(latest, SatisfactionReport) else None,
    )


@router.get("/sla.csv")
async def sla_csv(
    request: Request, agent: MaybeAgent, api: ApiDep, start: From, end: To, group_by: str = "team"
) -> Response:
    params = {"from": start, "to": end, "group_by": group_by, "format": "csv"}
    return await _csv(request, agent, api, report="sla", params=params)


@router.get("/agents.csv")
async def agents_csv(
    request: Request, agent: MaybeAgent, api: ApiDep, start: From, end: To
) -> Response:
    params = {"from": start, "to": end, "format": "csv"}
    return await _csv(request, agent, api, report="agents", params=params)


def choose_window(*, days: str, start: str, end: str, now: datetime) -> tuple[Window, str | None]:
    """Two dates (whole days in UTC, both included) win over a preset; no choice at all:
    the last DEFAULT_DAYS days up to now. A choice that cannot be one: its problem in words."""
    now = now.replace(microsecond=0)
    fallback = Window(now - timedelta(days=DEFAULT_DAYS), now, DEFAULT_DAYS)
    if start or end:
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            return fallback, "Give both dates, as year-month-day (2025-03-31)."
        if first > last:
            return fallback, "The first date is after the last one: swap them."
        if (last - first).days + 1 > MAX_DAYS:
            return fallback, f"A report covers at most {MAX_DAYS} days: choose a shorter period."
        begin = datetime.combine(first, time(), UTC)
        return Window(begin, datetime.combine(last + timedelta(days=1), time(), UTC), None), None
    if not days:
        return fallback, None
    if not days.isdigit() or int(days) not in PRESETS:
        return fallback, "Choose the last 7, 30 or 90 days, or two dates."
    return Window(now - timedelta(days=int(days)), now, int(days)), None


async def _fetch(
    api: IntakeApi, agent: SignedIn, model: type[R], *, window: Window, by: str | None = None
) -> R | ApiError:
    """The report, read; or the ApiError that stands for it."""
    params = window.params() | ({"group_by": by} if by else {})
    path = f"{API}/{PATHS[model]}"
    try:
        answer = await api.call("GET", path, credential=agent.token, params=params)
        return model.model_validate(answer.json())
    except ApiError as err:
        return err
    except ValueError:  # not JSON, or not the report's shape: as good as no answer
        return ApiError(502, "the report's answer could not be read")


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


async def _csv(
    request: Request, agent: SignedIn | None, api: IntakeApi, *, report: str, params: dict[str, str]
) -> Response:
    """The API's CSV as it answered it (its file name too), or why not in words."""
    if agent is None:
        return _page(request, None, status_code=503, problem=UNREACHABLE)
    try:
        answer = await api.call("GET", f"{API}/{report}", credential=agent.token, params=params)
    except ApiError as err:
        if err.status == 403:
            words, code = "This report is not available to your role.", 403
        elif err.status in (400, 422):
            words, code = "That period or grouping is not one the reports can show.", 422
        elif err.status == 0 or err.status >= 500:
            words, code = UNREACHABLE, 503
        else:
            raise
        return _page(request, agent, status_code=code, problem=words)
    disposition = answer.headers.get("Content-Disposition", f'attachment; filename="{report}.csv"')
    return Response(
        answer.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


def _page(
    request: Request, agent: SignedIn | None, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    window: Window | None = context.setdefault("window", None)
    context.setdefault("start", window.start.date().isoformat() if window else "")
    context.setdefault("end", window.last_day.isoformat() if window else "")
    for name, empty in (
        ("problem", None),
        ("sections", []),
        ("nothing", False),
        ("comments", None),
    ):
        context.setdefault(name, empty)
    return page(
        request,
        "console/reports.html",
        status_code=status_code,
        agent=agent,
        presets=PRESETS,
        **context,
    )
