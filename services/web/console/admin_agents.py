"""The console's admin pages for the agents (admins only; others get a page saying so):
invite, role, teams, deactivate and reactivate, a new password by a new invite, reset
two-factor, sign out. A client of `/api/v1/admin` (services.web.console.admin_api)."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from services.web.api import ApiError, ApiModel, IntakeApi
from services.web.console.admin_api import ADMIN, forbidden, in_words, read, unreadable
from services.web.console.agent import AgentDep, SignedIn
from services.web.deps import ApiDep
from services.web.forms import beside_fields, text
from services.web.render import page, see_other
from services.web.security import PostedForm
from shared.domain.enums import Role
from shared.domain.text import HANDLE_PATTERN

router = APIRouter(prefix="/agent/admin")
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


DONE = {
    "saved": "Saved.",
    "deactivated": "Deactivated: their sessions have ended, and they cannot sign in.",
    "reactivated": "Reactivated: they can sign in again.",
    "two-factor": "Two-factor sign-in is reset: they sign in with their password alone, "
    "and may set it up again.",
    "signed-out": "Signed out: every session of theirs has ended.",
}


def _agent_path(handle: str) -> str:
    """The agent's page in the console."""
    return f"/agent/admin/agents/{handle}"


def _chosen_teams(form: FormData) -> list[str]:
    return [team for team in form.getlist("teams") if isinstance(team, str)]


async def _agents(api: IntakeApi, agent: SignedIn) -> list[AgentLine]:
    data = await read(api, agent, "/agents")
    return [AgentLine.model_validate(item) for item in data["items"]]


async def _teams(api: IntakeApi, agent: SignedIn) -> list[TeamLine]:
    data = await read(api, agent, "/teams")
    return [TeamLine.model_validate(item) for item in data["items"]]


async def _one(api: IntakeApi, agent: SignedIn, handle: str) -> AgentLine:
    return AgentLine.model_validate(await read(api, agent, f"/agents/{handle}"))


async def _one_and_teams(
    api: IntakeApi, agent: SignedIn, handle: str
) -> tuple[AgentLine, list[TeamLine]]:
    """What the agent's page shows: the agent, and the teams they may be in."""
    return await _one(api, agent, handle), await _teams(api, agent)


@router.get("", response_class=HTMLResponse)
async def agents_page(
    request: Request, agent: AgentDep, api: ApiDep, done: str = Query("", max_length=20)
) -> HTMLResponse:
    if not agent.is_admin:
        return forbidden(request, agent)
    try:
        agents, teams = await _agents(api, agent), await _teams(api, agent)
    except ApiError as err:
        return unreadable(request, agent, err, "/agent/admin")
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
        teams = await _teams(api, agent)
    except ApiError as err:
        return unreadable(request, agent, err, "/agent/admin/agents/new")
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
        "teams": _chosen_teams(form),
    }
    try:
        await api.call("POST", f"{ADMIN}/agents", credential=agent.token, json=values)
    except ApiError as err:
        errors, others = beside_fields(err.faults, AGENT_FIELDS)
        try:
            teams = await _teams(api, agent)
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
    try:
        shown, teams = await _one_and_teams(api, agent, handle)
    except ApiError as err:
        return unreadable(request, agent, err, _agent_path(handle))
    return agent_page(request, agent, shown, teams, notice=DONE.get(done, ""))


async def _act(
    request: Request,
    agent: SignedIn,
    api: IntakeApi,
    handle: str,
    *,
    method: str,
    done: str,
    suffix: str = "",
    body: dict[str, object] | None = None,
) -> Response:
    """One admin action on an agent (`suffix`: the API's path after the agent's), then back
    to their page saying what was done (or the page again with the refusal in words)."""
    here = _agent_path(handle)
    path = f"{ADMIN}/agents/{handle}{suffix}"
    try:
        await api.call(method, path, credential=agent.token, json=body)
    except ApiError as err:
        problem = in_words(err, here)
        try:
            shown, teams = await _one_and_teams(api, agent, handle)
        except ApiError as again:
            return unreadable(request, agent, again, here)
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
        "teams": _chosen_teams(form),
    }
    return await _act(request, agent, api, handle, method="PATCH", done="saved", body=body)


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
    return await _act(
        request, agent, api, handle, method=method, done=done, suffix=suffix, body=body
    )


async def _invite(
    request: Request, agent: SignedIn, api: IntakeApi, handle: str, *, new: bool
) -> Response:
    try:
        answer = await api.call("POST", f"{ADMIN}/agents/{handle}/invite", credential=agent.token)
        shown = await _one(api, agent, handle)
    except ApiError as err:
        return unreadable(request, agent, err, _agent_path(handle))
    return page(
        request,
        "console/admin_invite.html",
        agent=agent,
        shown=shown,
        invite=Invite.model_validate(answer.json()),
        new=new,
        section="agents",
    )
