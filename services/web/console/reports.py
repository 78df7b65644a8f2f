"""The reports page (`/agent/reports`): for a chosen period, the API's SLA, agent and
satisfaction reports (services.web.console.report_data) drawn as SVG charts with their tables
(report_sections), beside links to the CSV the API offers (passed through with the agent's
credential).

The API decides what a role sees: a report it refuses (403) is a section that says so, one it
could not answer says that; nothing is hidden here on a guess about roles."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.web.api import ApiError, IntakeApi
from services.web.console.agent import MaybeAgent, SignedIn
from services.web.console.report_data import (
    API,
    PRESETS,
    AgentReport,
    SatisfactionReport,
    SlaReport,
    Window,
    choose_window,
    read_report,
)
from services.web.console.report_sections import (
    Outcome,
    backlog_section,
    satisfaction_section,
    sla_section,
    times_section,
)
from services.web.deps import ApiDep
from services.web.render import page

router = APIRouter(prefix="/agent/reports")
SLA_BY = ("team", "agent", "priority")
SATISFACTION_BY = ("team", "agent", "help_topic")
UNREACHABLE = "The help desk's API cannot be reached just now. Try again in a moment."

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
        asyncio.gather(
            *(read_report(api, agent, SlaReport, window=window, by=by) for by in SLA_BY)
        ),
        read_report(api, agent, AgentReport, window=window),
        asyncio.gather(
            *(
                read_report(api, agent, SatisfactionReport, window=window, by=by)
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
