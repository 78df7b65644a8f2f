"""An agent's own account: setting a password from an invite, two-factor sign-in (set up with
an authenticator app, confirmed with a code, recovery codes shown once; turned off with a
code), and signing out everywhere. Every rule is the API's (`/api/v1/auth/...`)."""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.web.api import ApiError
from services.web.console.agent import AgentDep, NotSignedIn, SignedIn, forget
from services.web.deps import ApiDep, SettingsDep
from services.web.forms import text
from services.web.render import page, see_other
from services.web.security import PostedForm
from services.web.words import retry_in

router = APIRouter()
AUTH = "/api/v1/auth"
MIN_PASSWORD = 12
InviteToken = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.~-]{8,200}$")]
INVITE_GONE = (
    "This invite has expired or has been used already. Ask an admin to send you a new one."
)
WRONG_CODE = "That code was not accepted. Enter the code your app shows now."
NOT_NOW = "That could not be done just now; nothing was changed. Please try again in a moment."


def _code(form_value: str) -> str:
    return re.sub(r"\s", "", form_value)


def _refusal(err: ApiError, refused: str = WRONG_CODE) -> str:
    """The API's refusal of an account change, in words (401: signed out, to sign in again)."""
    if err.status == 401:
        raise NotSignedIn("/agent/account") from err
    if err.status in (400, 403, 409, 422):
        return refused
    if err.status == 429:
        return f"Too many tries: try again {retry_in(err.retry_after)}."
    return NOT_NOW


# Invites: no agent is signed in; the link's token is the credential.


def invite_page(
    request: Request,
    token: str,
    invited: dict[str, Any] | None,
    *,
    status_code: int = 200,
    problem: str = "",
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return page(
        request,
        "console/invite.html",
        status_code=status_code,
        agent=None,
        token=token,
        invited=invited,
        problem=problem,
        errors=errors or {},
        min_password=MIN_PASSWORD,
    )


async def _invited(api: ApiDep, token: str) -> dict[str, Any] | ApiError:
    try:
        answer = await api.call("GET", f"{AUTH}/invites/{token}")
    except ApiError as err:
        return err
    data: dict[str, Any] = answer.json()
    return data


def _invite_problem(err: ApiError) -> tuple[int, str]:
    if err.status in (404, 410):
        return 410, INVITE_GONE
    return 503, NOT_NOW


@router.get("/agent/invite/{token}", response_class=HTMLResponse)
async def show_invite(request: Request, token: InviteToken, api: ApiDep) -> HTMLResponse:
    invited = await _invited(api, token)
    if isinstance(invited, ApiError):
        code, problem = _invite_problem(invited)
        return invite_page(request, token, None, status_code=code, problem=problem)
    return invite_page(request, token, invited)


@router.post("/agent/invite/{token}", response_model=None)
async def set_password(
    request: Request, token: InviteToken, form: PostedForm, api: ApiDep
) -> Response:
    """The password, typed twice: checked here for a quick answer, and by the API."""
    await form.close()
    password, again = text(form, "password"), text(form, "password_again")
    invited = await _invited(api, token)
    if isinstance(invited, ApiError):
        code, problem = _invite_problem(invited)
        return invite_page(request, token, None, status_code=code, problem=problem)
    errors: dict[str, str] = {}
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"At least {MIN_PASSWORD} characters, please."
    elif password != again:
        errors["password_again"] = "The two passwords are not the same."
    if not errors:
        try:
            await api.call("POST", f"{AUTH}/invites/{token}", json={"password": password})
        except ApiError as err:
            if err.status in (404, 410):
                return invite_page(request, token, None, status_code=410, problem=INVITE_GONE)
            if err.status == 422:
                message = err.faults[0].message if err.faults else err.detail
                errors["password"] = message or "This password cannot be used."
            else:
                return invite_page(request, token, invited, status_code=503, problem=NOT_NOW)
    if errors:
        return invite_page(
            request,
            token,
            invited,
            status_code=422,
            problem="Please correct what is marked below.",
            errors=errors,
        )
    return see_other(request, "/agent/sign-in?done=password")


# The signed-in agent's own account.

NOTICES = {
    "on": "Two-factor sign-in is on.",
    "off": "Two-factor sign-in is off.",
}


async def _me(api: ApiDep, agent: SignedIn) -> dict[str, Any]:
    try:
        answer = await api.call("GET", f"{AUTH}/me", credential=agent.token)
    except ApiError as err:
        if err.status in (401, 403):
            raise NotSignedIn("/agent/account") from err
        raise
    data: dict[str, Any] = answer.json()
    return data


def account_page(
    request: Request,
    agent: SignedIn,
    me: dict[str, Any],
    *,
    status_code: int = 200,
    problem: str = "",
    notice: str = "",
) -> HTMLResponse:
    settings = request.app.state.settings
    return page(
        request,
        "console/account.html",
        status_code=status_code,
        agent=agent,
        me=me,
        two_factor=bool(me.get("two_factor")),
        enrol=request.query_params.get("enrol") == "1",
        required=bool(settings.require_two_factor_for_admins and agent.is_admin),
        problem=problem,
        notice=notice,
    )


@router.get("/agent/account", response_class=HTMLResponse)
async def show_account(
    request: Request,
    agent: AgentDep,
    api: ApiDep,
    done: str = Query(default="", max_length=20),
) -> HTMLResponse:
    return account_page(request, agent, await _me(api, agent), notice=NOTICES.get(done, ""))


def two_factor_page(
    request: Request,
    agent: SignedIn,
    *,
    status_code: int = 200,
    secret: str = "",
    uri: str = "",
    codes: list[str] | None = None,
    problem: str = "",
) -> HTMLResponse:
    return page(
        request,
        "console/two_factor.html",
        status_code=status_code,
        agent=agent,
        secret=secret,
        uri=uri,
        codes=codes or [],
        problem=problem,
    )


@router.post("/agent/account/two-factor", response_model=None)
async def start_two_factor(
    request: Request, agent: AgentDep, form: PostedForm, api: ApiDep
) -> Response:
    """A new secret from the API, to add to an authenticator app (not on until confirmed)."""
    await form.close()
    try:
        answer = await api.call("POST", f"{AUTH}/two-factor", credential=agent.token)
    except ApiError as err:
        problem = _refusal(err, "Two-factor sign-in is on already: turn it off first.")
        me = await _me(api, agent)
        return account_page(request, agent, me, status_code=err.status or 503, problem=problem)
    data = answer.json()
    return two_factor_page(request, agent, secret=str(data["secret"]), uri=str(data["otpauth_uri"]))


@router.post("/agent/account/two-factor/confirm", response_model=None)
async def confirm_two_factor(
    request: Request, agent: AgentDep, form: PostedForm, api: ApiDep
) -> Response:
    """The first code from the app turns it on; the recovery codes are shown this once."""
    await form.close()
    secret, uri = text(form, "secret"), text(form, "uri")
    try:
        answer = await api.call(
            "POST",
            f"{AUTH}/two-factor/confirm",
            credential=agent.token,
            json={"code": _code(text(form, "code"))},
        )
    except ApiError as err:
        problem = _refusal(err)
        return two_factor_page(
            request, agent, status_code=422, secret=secret, uri=uri, problem=problem
        )
    codes = [str(code) for code in answer.json().get("recovery_codes", [])]
    return two_factor_page(request, agent, codes=codes)


@router.post("/agent/account/two-factor/off", response_model=None)
async def turn_off_two_factor(
    request: Request, agent: AgentDep, form: PostedForm, api: ApiDep
) -> Response:
    await form.close()
    try:
        await api.call(
            "DELETE",
            f"{AUTH}/two-factor",
            credential=agent.token,
            json={"code": _code(text(form, "code"))},
        )
    except ApiError as err:
        problem = _refusal(err)
        me = await _me(api, agent)
        return account_page(request, agent, me, status_code=422, problem=problem)
    return see_other(request, "/agent/account?done=off")


@router.post("/agent/account/sign-out-everywhere", response_model=None)
async def sign_out_everywhere(
    request: Request, agent: AgentDep, form: PostedForm, api: ApiDep, settings: SettingsDep
) -> Response:
    """Every session of this agent ends, this one too."""
    await form.close()
    try:
        await api.call("DELETE", f"{AUTH}/sessions", credential=agent.token)
    except ApiError as err:
        if err.status != 401:
            me = await _me(api, agent)
            return account_page(request, agent, me, status_code=503, problem=NOT_NOW)
    response = see_other(request, "/agent/sign-in?done=everywhere")
    forget(response, settings)
    return response
