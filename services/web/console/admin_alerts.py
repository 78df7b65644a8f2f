"""The console's alerts page (admins only): what the API found wrong and how to put it
right: tickets to recover, notices that could not be delivered, failing webhooks."""

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web.api import ApiError, ApiModel
from services.web.console.admin_api import forbidden, read, unreadable
from services.web.console.agent import AgentDep
from services.web.deps import ApiDep
from services.web.render import page

router = APIRouter(prefix="/agent/admin")


class TicketAlert(ApiModel):
    ticket: str
    problem: str
    recover_with: str


class NoticeAlert(ApiModel):
    ticket: str
    kind: str
    recipient: str
    attempts: int
    last_error: str | None = None
    created_at: datetime


class WebhookAlert(ApiModel):
    handle: str
    url: str
    disabled_at: datetime | None = None
    reason: str | None = None
    failed_deliveries: int
    fix_with: str


class Alerts(ApiModel):
    tickets: list[TicketAlert] = []
    undeliverable_notices: list[NoticeAlert] = []
    failing_webhooks: list[WebhookAlert] = []


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request, agent: AgentDep, api: ApiDep) -> HTMLResponse:
    if not agent.is_admin:
        return forbidden(request, agent)
    try:
        alerts = Alerts.model_validate(await read(api, agent, "/alerts"))
    except ApiError as err:
        return unreadable(request, agent, err, "/agent/admin/alerts")
    return page(request, "console/admin_alerts.html", agent=agent, alerts=alerts, section="alerts")
