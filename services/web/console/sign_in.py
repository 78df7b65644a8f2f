"""Agents sign in to the console with their address and password (and a second factor when
they have one), through the API's `POST /api/v1/auth/sessions`; the session token it issues
is kept in the agent cookie (console.agent.remember), and signing out ends it at the API.

The form says the same words for a wrong address and a wrong password. Wrong tries are
throttled per account and per client by the API, and per client here as well (the API sees
this process's address unless it trusts the X-Forwarded-For sent on)."""

import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.web.api import ApiError
from services.web.console.agent import COOKIE, forget, remember
from services.web.deps import ApiDep, PortalDep, SettingsDep, client_of
from services.web.forms import text
from services.web.ratelimit import MAX_CLIENTS, RateLimit
from services.web.render import page, see_other
from services.web.security import PostedForm
from services.web.session import PortalSession
from services.web.words import retry_in
from shared.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter()
SESSIONS = "/api/v1/auth/sessions"
HOME = "/agent"
WRONG = "Wrong email address or password. Check both and try again."
TWO_FACTOR_ASKED = "enter the code from your authenticator app"
WRONG_CODE = "That code was not accepted. Enter the code your app shows now, or a recovery code."
# A same-origin path of the console: /agent, /agent/…, /agent?…, printable ASCII only, and
# never "//" or a backslash, which browsers may read as another host.
_NEXT = re.compile(r"/agent(?:[/?#][\x21-\x7e]*)?")
# How long the second step of a sign-in (the code) may follow the first (the password).
PENDING_SECONDS = 300
_PENDING_PURPOSE = b"console-sign-in-pending:v1:"


def safe_next(raw: str | None) -> str:
    """`raw` if it is a path of the console, else the console's home: never another origin."""
    if raw and _NEXT.fullmatch(raw) and "//" not in raw and "\\" not in raw:
        return raw
    return HOME


def too_many(seconds: int | None) -> str:
    return f"Too many tries: try again {retry_in(seconds)}."


class FailedTries:
    """Wrong sign-ins per client within an hour, counted by a RateLimit of `per_hour`: the
    wrong try it refuses to count (one more than `per_hour`) starts a wait, until the oldest
    counted one is an hour old, in which the client's tries do not reach the API."""

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._counted = RateLimit(per_hour, clock)
        self._clock = clock
        self._until: dict[str, float] = {}

    def wait(self, client: str) -> int | None:
        """None if `client` may try now, else the seconds until it may."""
        until = self._until.get(client)
        if until is None:
            return None
        left = until - self._clock()
        if left <= 0:
            del self._until[client]
            return None
        return max(1, int(left) + 1)

    def failed(self, client: str) -> None:
        wait = self._counted.take(client)
        if wait is None:
            return
        now = self._clock()
        self._until[client] = now + wait
        if len(self._until) > MAX_CLIENTS:
            self._until = {key: until for key, until in self._until.items() if until > now}


def failed_tries(request: Request) -> FailedTries:
    """The app's per-client count of wrong sign-ins, made on first use."""
    state = request.app.state
    if not hasattr(state, "console_failed_tries"):
        settings: Settings = state.settings
        state.console_failed_tries = FailedTries(settings.sign_in_failures_per_client)
    tries: FailedTries = state.console_failed_tries
    return tries


def _fernet(settings: Settings) -> Fernet:
    key = hashlib.sha256(_PENDING_PURPOSE + settings.secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_pending(settings: Settings, portal: PortalSession, email: str, password: str) -> str:
    """The first step's address and password for the second step's form, encrypted for this
    browser session and for PENDING_SECONDS: the password never appears in the page."""
    data = json.dumps({"sid": portal.sid, "email": email, "password": password})
    return _fernet(settings).encrypt(data.encode()).decode()


def open_pending(settings: Settings, portal: PortalSession, sealed: str) -> tuple[str, str] | None:
    try:
        raw = _fernet(settings).decrypt(sealed.encode(), ttl=PENDING_SECONDS)
        data = json.loads(raw)
    except (InvalidToken, ValueError):
        return None
    if not isinstance(data, dict) or data.get("sid") != portal.sid:
        return None
    return str(data.get("email", "")), str(data.get("password", ""))


def sign_in_page(
    request: Request,
    *,
    next_path: str,
    status_code: int = 200,
    email: str = "",
    problem: str = "",
    notice: str = "",
    pending: str = "",
    retry_after: int | None = None,
) -> HTMLResponse:
    """The form: the password step, or (with `pending`) the second factor's."""
    settings: Settings = request.app.state.settings
    return page(
        request,
        "console/sign_in.html",
        status_code=status_code,
        agent=None,
        next_path=next_path,
        email=email,
        problem=problem,
        notice=notice,
        pending=pending,
        sso=bool(settings.oidc_issuer and settings.oidc_client_id),
        headers={"Retry-After": str(retry_after)} if retry_after else None,
    )


def signed_in_answer(request: Request, session: dict[str, Any], next_path: str) -> Response:
    """After any sign-in: the API's session token kept in the cookie, then on to `next_path`
    (or first to setting up two-factor, when the desk requires it of this agent)."""
    settings: Settings = request.app.state.settings
    target = "/agent/account?enrol=1" if session.get("must_enrol_two_factor") else next_path
    response = see_other(request, target)
    remember(response, str(session["token"]), settings)
    return response


NOTICES = {
    "out": "You have signed out.",
    "everywhere": "You have signed out on every device.",
    "password": "Your password is set: sign in with it.",
}


@router.get("/agent/sign-in", response_class=HTMLResponse)
async def show_sign_in(
    request: Request,
    next: str = Query(default=HOME, max_length=2000),
    done: str = Query(default="", max_length=20),
) -> HTMLResponse:
    return sign_in_page(request, next_path=safe_next(next), notice=NOTICES.get(done, ""))


@router.post("/agent/sign-in", response_model=None)
async def sign_in(
    request: Request, form: PostedForm, api: ApiDep, portal: PortalDep, settings: SettingsDep
) -> Response:
    """The password step, or the code step (`pending` holds the first step's answer)."""
    next_path = safe_next(text(form, "next"))
    client = client_of(request)
    tries = failed_tries(request)
    sealed = text(form, "pending")
    code = re.sub(r"\s", "", text(form, "code"))
    if sealed:
        opened = open_pending(settings, portal, sealed)
        if opened is None:  # too late, or another browser's: start again
            return sign_in_page(
                request,
                next_path=next_path,
                status_code=401,
                problem="That took too long: please sign in again.",
            )
        email, password = opened
    else:
        email, password = text(form, "email").strip(), text(form, "password")
    wait = tries.wait(client)
    if wait is not None:
        return sign_in_page(
            request,
            next_path=next_path,
            status_code=429,
            email=email,
            problem=too_many(wait),
            retry_after=wait,
        )
    body: dict[str, str] = {"email": email, "password": password}
    if sealed:
        body["totp"] = code
    try:
        answer = await api.call("POST", SESSIONS, json=body, headers={"X-Forwarded-For": client})
    except ApiError as err:
        if err.status == 401 and is_second_factor_asked(err) and not sealed:
            pending = seal_pending(settings, portal, email, password)
            return sign_in_page(request, next_path=next_path, email=email, pending=pending)
        if err.status == 401 and is_second_factor_asked(err):
            tries.failed(client)
            return sign_in_page(
                request,
                next_path=next_path,
                status_code=401,
                email=email,
                pending=sealed,
                problem=WRONG_CODE,
            )
        return _refused(request, err, next_path=next_path, email=email, tries=tries)
    return signed_in_answer(request, answer.json(), next_path)


def is_second_factor_asked(err: ApiError) -> bool:
    """The API's 401 that asks for the code (its body says `"two_factor": "required"`; the
    portal's ApiError keeps only the detail, which the contract fixes)."""
    return err.detail.strip().lower().startswith(TWO_FACTOR_ASKED)


def _refused(
    request: Request, err: ApiError, *, next_path: str, email: str, tries: FailedTries
) -> Response:
    if err.status == 429:
        return sign_in_page(
            request,
            next_path=next_path,
            status_code=429,
            email=email,
            problem=too_many(err.retry_after),
            retry_after=err.retry_after,
        )
    if err.status in (401, 403, 422):  # 422: no address, or one that cannot be an address
        if err.status != 422:
            tries.failed(client_of(request))
        return sign_in_page(
            request, next_path=next_path, status_code=err.status, email=email, problem=WRONG
        )
    return sign_in_page(
        request,
        next_path=next_path,
        status_code=503,
        email=email,
        problem="Signing in is not possible just now. Please try again in a moment.",
    )


@router.post("/agent/sign-out", response_model=None)
async def sign_out(
    request: Request, form: PostedForm, api: ApiDep, settings: SettingsDep
) -> Response:
    """The session ends at the API (whatever it answers, this browser forgets it)."""
    await form.close()
    token = request.cookies.get(COOKIE, "")
    if token:
        try:
            await api.call("DELETE", f"{SESSIONS}/current", credential=token)
        except ApiError as err:  # ended already, or the API is away: the cookie goes anyway
            log.info("sign-out: the API answered %s", err)
    response = see_other(request, "/agent/sign-in?done=out")
    forget(response, settings)
    return response
