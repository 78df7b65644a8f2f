"""Report endpoints: parse the window, decide the caller's scope, build, answer JSON or CSV."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.intake.auth import CurrentAgent
from services.intake.deps import SessionDep
from services.intake.errors import ErrorBody
from services.intake.reports.agents import agent_report
from services.intake.reports.csv_export import agents_csv, sla_csv
from services.intake.reports.satisfaction import satisfaction_report
from services.intake.reports.schemas import (
    AgentReport,
    ReportFormat,
    SatisfactionQuery,
    SatisfactionReport,
    SlaQuery,
    SlaReport,
    WindowQuery,
)
from services.intake.reports.scope import agents_scope, satisfaction_scope, sla_scope
from services.intake.reports.sla import sla_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
CSV: dict[str, dict[str, object]] = {"text/csv": {}}
RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": CSV},
    403: {
        "model": ErrorBody,
        "description": "This report (or grouping) is not for the caller's role",
    },
}


@router.get("/sla", response_model=SlaReport, responses=RESPONSES)
def get_sla_report(
    query: Annotated[SlaQuery, Query()], agent: CurrentAgent, session: SessionDep
) -> SlaReport | Response:
    """Per team, agent (assignee), department, help topic or priority; totals last."""
    scope = sla_scope(session=session, agent=agent, group_by=query.group_by)
    report = sla_report(session=session, query=query, scope=scope)
    if query.format is ReportFormat.CSV:
        return _csv(sla_csv(report), f"sla-{query.group_by.value}.csv")
    return report


@router.get("/agents", response_model=AgentReport, responses=RESPONSES)
def get_agent_report(
    query: Annotated[WindowQuery, Query()], agent: CurrentAgent, session: SessionDep
) -> AgentReport | Response:
    """Per agent: assignments, responses, resolutions, median business times, breaches."""
    scope = agents_scope(session=session, agent=agent)
    report = agent_report(session=session, query=query, scope=scope)
    if query.format is ReportFormat.CSV:
        return _csv(agents_csv(report), "agents.csv")
    return report


@router.get("/satisfaction", response_model=SatisfactionReport, responses={403: RESPONSES[403]})
def get_satisfaction_report(
    query: Annotated[SatisfactionQuery, Query()], agent: CurrentAgent, session: SessionDep
) -> SatisfactionReport:
    """Requesters' ratings of closed tickets (good or bad) per team, agent (the assignee when
    rated) or help topic, with the share rated good and the latest comments. A ticket
    reopened and closed again may be rated again: each rating counts."""
    scope = satisfaction_scope(session=session, agent=agent)
    return satisfaction_report(session=session, query=query, scope=scope)


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
