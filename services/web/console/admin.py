"""The admin pages of the console (admins only; others get a page saying so): the agents
(invite, role, teams, deactivate and reactivate, a new password by a new invite, reset
two-factor, sign out), the API's alerts, and the inbound mail log. Each is a client of
`/api/v1/admin` with the admin's own session, so the API's rules and audit log hold."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.web.api import ApiError, ApiModel
from services.web.console.agent import AgentDep, NotSignedIn, SignedIn
from services.web.deps import ApiDep
from services.web.forms import beside_fields, text
from services.web.render import page, see_other
from services.web.security import PostedForm
from services.web.words import retry_in
from shared.domain.enums import Role
from shared.domain.mail.decision import Outcome
from shared.domain.text import HANDLE_PATTERN

router = APIRouter(prefix="/agent/admin")
ADMIN = "/api/v1/admin"
Handle = Annotated[str, Path(pattern=HANDLE_PATTERN)]
Action = Literal["deactivate", "reactivate", "reset-two-factor", "sign-out"]
# What each action asks of the API: method, path after the agent's, body, and what is done.
ACTIONS: dict[str, tuple[str, str, dict[str, object] | None, str]] = {
    "deactivate": ("PATCH", "", {"active": False}, "deactivated"),
    "reactivate": ("PATCH", "", {"active": True}, "reactivated"),
    "reset-two-factor": ("POST", "/reset-two-factor", None, "two-factor"),
    "sign-out": ("POST", "/sign-out", None, "signed-out"),
}
AGENT_FIELDS = {name: name for name in ("handle", "name", "email", "role", "teams")}


class AgentLine(ApiModel):
    handle: str
    name: str
    email: str
    role: Role
    active: bool
    teams: list[str] = []
    # Whether the agent has two-factor sign-in on; None when the API does not say.
    two_factor: bool | None = None


class TeamLine(ApiModel):
    handle: str
    name: str


class Invite(ApiModel):
    url: str
    expires_at: datetime


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


class InboundMail(ApiModel):
    id: int
    mail_from: str
    rcpt_to: list[str] = []
    subject: str
    outcome: Outcome
    detail: str | None = None
    ticket: str | None = None
    received_at: datetime


DONE = {
    "saved": "Saved.",
    "deactivated": "Deactivated: their sessions have ended, and they cannot sign in.",
    "reactivated": "Reactivated: they can sign in again.",
    "two-factor": "Two-factor sign-in is reset: they sign in with their password alone, "
    "and may set it up again.",
    "signed-out": "Signed out: every session of theirs has ended.",
}


def forbidden(request: Request, agent: SignedIn) -> HTMLResponse:
    return page(request, "console/admin_forbidden.html", status_code=403, agent=agent)


def in_words(err: ApiError, here: str) -> str:
    """The API's refusal of an admin action as a sentence (401: to sign in again)."""
    if err.status == 401:
        raise NotSignedIn(here) from err
    if err.status == 403:
        return "Only admins may do this."
    if err.status == 404:
        return "There is no such agent (any more)."
    if err.status in (409, 422):
        detail = err.detail.strip() or "the request was not valid"
        return f"This could not be done: {detail[:1].lower()}{detail[1:].rstrip('.')}."
    if err.status == 429:
        return f"Too many requests just now. Please try again {retry_in(err.retry_after)}."
    return "That could not be done just now; nothing was changed. Please try again in a moment."


async def _get(api: ApiDep, agent: SignedIn, path: str, **params: str | int) -> Any:
    """The JSON of an admin read (the models below take what they show of it)."""
    answer = await api.call("GET", f"{ADMIN}{path}", credential=agent.token, params=params)
    return answer.json()


async def _agents_and_teams(api: ApiDep, agent: SignedIn) -> tuple[list[AgentLine], list[TeamLine]]:
    agents = await _get(api, agent, "/agents")
    teams = await _get(api, agent, "/teams")
    return (
        [AgentLine.model_validate(item) for item in agents["items"]],
        [TeamLine.model_validate(item) for item in teams["items"]],
    )


def _unreadable(request: Request, agent: SignedIn, err: ApiError, here: str) -> HTMLResponse:
    return page(
        request,
        "console/admin_problem.html",
        status_code=err.status if err.status >= 400 else 503,
        agent=agent,
        problem=in_words(err, here),
        retry=here,
    )


@router.get("", response_class=HTMLResponse)
async def agents_page(
    request: Request, agent: AgentDep, api: ApiDep, done: str = Query("", max_length=20)
) -> HTMLResponse:
    if not agent.is_admin:
        return forbidden(request, agent)
    try:
        agents, teams = await _agents_and_teams(api, agent)
    except ApiError as err:
        return _unreadable(request, agent, err, "/agent/admin")
    names = {team.handle: team.name for team in teams}
    return page(
        request,
        "console/admin.html",
        agent=agent,
        agents=agents,
        two_factor_known=any(line.two_factor is not None for line in agents),
        team_names=names,
        notice=DONE.get(done, ""),
        section="agents",
    )


def new_agent_page(
    request: Request,
    agent: SignedIn,
    teams: list[TeamLine],
    *,
    status_code: int = 200,
    values: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
) -> HTMLResponse:
    return page(
        request,
        "console/admin_new_agent.html",
        status_code=status_code,
        agent=agent,
        teams=teams,
        roles=list(Role),
        values=values or {"handle": "", "name": "", "email": "", "role": "agent", "teams": []},
        errors=errors or {},
        problems=problems or [],
        section="agents",
    )


@router.get("/agents/new", response_class=HTMLResponse)
async def show_new_agent(request: Request, agent: AgentDep, api: ApiDep) -> HTMLResponse:
    if not agent.is_admin:
        return forbidden(request, agent)
    try:
        _, teams = await _agents_and_teams(api, agent)
    except ApiError as err:
        return _unreadable(request, agent, err, "/agent/admin/agents/new")
    return new_agent_page(request, agent, teams)


@router.post("/agents", response_model=None)
async def add_agent(request: Request, agent: AgentDep, form: PostedForm, api: ApiDep) -> Response:
    """A new agent, then their invite: the page shows the link the API mailed them."""
    await form.close()
    if not agent.is_admin:
        return forbidden(request, agent)
    values: dict[str, object] = {
        "handle": text(form, "handle").strip(),
        "name": text(form, "name").strip(),
        "email": text(form, "email").strip(),
        "role": text(form, "role"),
        "teams": [team for team in form.getlist("teams") if isinstance(team, str)],
    }
    try:
        await api.call("POST", f"{ADMIN}/agents", credential=agent.token, json=values)
    except ApiError as err:
        errors, others = beside_fields(err.faults, AGENT_FIELDS)
        try:
            _, teams = await _agents_and_teams(api, agent)
        except ApiError:
            teams = []
        return new_agent_page(
            request,
            agent,
            teams,
            status_code=err.status or 503,
            values=values,
            errors=errors,
            problems=[in_words(err, "/agent/admin/agents/new"), *others],
        )
    return await _invite(request, agent, api, str(values["handle"]), new=True)


async def _one(api: ApiDep, agent: SignedIn, handle: str) -> AgentLine:
    return AgentLine.model_validate(await _get(api, agent, f"/agents/{handle}"))


def agent_page(
    request: Request,
    agent: SignedIn,
    shown: AgentLine,
    teams: list[TeamLine],
    *,
    status_code: int = 200,
    notice: str = "",
    problem: str = "",
) -> HTMLResponse:
    return page(
        request,
        "console/admin_agent.html",
        status_code=status_code,
        agent=agent,
        shown=shown,
        teams=teams,
        roles=list(Role),
        notice=notice,
        problem=problem,
        section="agents",
    )


@router.get("/agents/{handle}", response_class=HTMLResponse)
async def show_agent(
    request: Request,
    handle: Handle,
    agent: AgentDep,
    api: ApiDep,
    done: str = Query("", max_length=20),
) -> HTMLResponse:
    if not agent.is_admin:
        return forbidden(request, agent)
    here = f"/agent/admin/agents/{handle}"
    try:
        shown = await _one(api, agent, handle)
        _, teams = await _agents_and_teams(api, agent)
    except ApiError as err:
        return _unreadable(request, agent, err, here)
    return agent_page(request, agent, shown, teams, notice=DONE.get(done, ""))


async def _act(
    request: Request,
    agent: SignedIn,
    api: ApiDep,
    handle: str,
    *,
    method: str,
    path: str,
    done: str,
    body: dict[str, object] | None = None,
) -> Response:
    """One admin action on an agent, then back to their page saying what was done (or the
    page again with the refusal in words)."""
    here = f"/agent/admin/agents/{handle}"
    try:
        await api.call(method, f"{ADMIN}{path}", credential=agent.token, json=body)
    except ApiError as err:
        problem = in_words(err, here)
        try:
            shown = await _one(api, agent, handle)
            _, teams = await _agents_and_teams(api, agent)
        except ApiError as again:
            return _unreadable(request, agent, again, here)
        return agent_page(
            request, agent, shown, teams, status_code=err.status or 503, problem=problem
        )
    return see_other(request, f"{here}?done={done}")


@router.post("/agents/{handle}", response_model=None)
async def change_agent(
    request: Request, handle: Handle, agent: AgentDep, form: PostedForm, api: ApiDep
) -> Response:
    """Role and teams."""
    await form.close()
    if not agent.is_admin:
        return forbidden(request, agent)
    body: dict[str, object] = {
        "role": text(form, "role"),
        "teams": [team for team in form.getlist("teams") if isinstance(team, str)],
    }
    return await _act(
        request,
        agent,
        api,
        handle,
        method="PATCH",
        path=f"/agents/{handle}",
        done="saved",
        body=body,
    )


@router.post("/agents/{handle}/invite", response_model=None)
async def invite(
    request: Request, handle: Handle, agent: AgentDep, form: PostedForm, api: ApiDep
) -> Response:
    """An invite, or a new one to reset a forgotten password."""
    await form.close()
    if not agent.is_admin:
        return forbidden(request, agent)
    return await _invite(request, agent, api, handle, new=False)


@router.post("/agents/{handle}/{action}", response_model=None)
async def act_on_agent(
    request: Request,
    handle: Handle,
    action: Action,
    agent: AgentDep,
    form: PostedForm,
    api: ApiDep,
) -> Response:
    """Deactivate or reactivate, reset two-factor, or end every session of theirs."""
    await form.close()
    if not agent.is_admin:
        return forbidden(request, agent)
    method, suffix, body, done = ACTIONS[action]
    path = f"/agents/{handle}{suffix}"
    return await _act(request, agent, api, handle, method=method, path=path, done=done, body=body)


async def _invite(
    request: Request, agent: SignedIn, api: ApiDep, handle: str, *, new: bool
) -> Response:
    here = f"/agent/admin/agents/{handle}"
    try:
        answer = await api.call("POST", f"{ADMIN}/agents/{handle}/invite", credential=agent.token)
        shown = await _one(api, agent, handle)
    except ApiError as err:
        return _unreadable(request, agent, err, here)
    return page(
        request,
        "console/admin_invite.html",
        agent=agent,
        shown=shown,
        invite=Invite.model_validate(answer.json()),
        new=new,
        section="agents",
    )


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request, agent: AgentDep, api: ApiDep) -> HTMLResponse:
    if not agent.is_admin:
        return forbidden(request, agent)
    try:
        alerts = Alerts.model_validate(await _get(api, agent, "/alerts"))
    except ApiError as err:
        return _unreadable(request, agent, err, "/agent/admin/alerts")
    return page(request, "console/admin_alerts.html", agent=agent, alerts=alerts, section="alerts")


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
        data = await _get(api, agent, "/mail-in", **params)
    except ApiError as err:
        return _unreadable(request, agent, err, "/agent/admin/mail-in")
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
