"""The console's inbound mail log (admins only): each message received, with what became
of it."""

from datetime import datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.web.api import ApiError, ApiModel
from services.web.console.admin_api import forbidden, read, unreadable
from services.web.console.agent import AgentDep
from services.web.deps import ApiDep
from services.web.render import page
from shared.domain.mail.decision import Outcome

router = APIRouter(prefix="/agent/admin")


class InboundMail(ApiModel):
    id: int
    mail_from: str
    rcpt_to: list[str] = []
    subject: str
    outcome: Outcome
    detail: str | None = None
    ticket: str | None = None
    received_at: datetime


@router.get("/mail-in", response_class=HTMLResponse)
async def mail_in_page(
    request: Request,
    agent: AgentDep,
    api: ApiDep,
    outcome: str = Query("", max_length=40),
) -> HTMLResponse:
    """The most recent inbound mail first, with what became of each message."""
    if not agent.is_admin:
        return forbidden(request, agent)
    chosen = outcome if outcome in {o.value for o in Outcome} else ""
    params: dict[str, str | int] = {"limit": 200, **({"outcome": chosen} if chosen else {})}
    try:
        data = await read(api, agent, "/mail-in", **params)
    except ApiError as err:
        return unreadable(request, agent, err, "/agent/admin/mail-in")
    mail = [InboundMail.model_validate(item) for item in data["items"]]
    return page(
        request,
        "console/admin_mail_in.html",
        agent=agent,
        mail=mail,
        outcomes=list(Outcome),
        chosen=chosen,
        section="mail-in",
    )
