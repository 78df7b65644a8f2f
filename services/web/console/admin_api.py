"""What the console's admin pages share as clients of `/api/v1/admin` with the admin's own
session (so the API's rules and audit log hold): the page a non-admin gets instead, the
admin API's reads, and its refusals in words."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.web.api import ApiError, IntakeApi
from services.web.console.agent import NotSignedIn, SignedIn
from services.web.render import page
from services.web.words import retry_in

ADMIN = "/api/v1/admin"


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


async def read(api: IntakeApi, agent: SignedIn, path: str, **params: str | int) -> Any:
    """The JSON of an admin read (each page's models take what they show of it)."""
    answer = await api.call("GET", f"{ADMIN}{path}", credential=agent.token, params=params)
    return answer.json()


def unreadable(request: Request, agent: SignedIn, err: ApiError, here: str) -> HTMLResponse:
    """The page in place of one whose read the API refused or could not answer."""
    return page(
        request,
        "console/admin_problem.html",
        status_code=err.status if err.status >= 400 else 503,
        agent=agent,
        problem=in_words(err, here),
        retry=here,
    )
