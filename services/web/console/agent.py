"""The signed-in agent of a console request: the cookie holds their credential for the API (a
session token the API issued at sign-in), and the API says who it is (`GET /api/v1/auth/me`)
on every request, so a revoked session or a deactivated agent is out at once.

The cookie is HttpOnly, SameSite=Lax, and Secure when the portal's URL is https. The console's
forms carry the browser session's CSRF token, as the portal's do (services.web.session)."""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import Response

from services.web.api import ApiError
from services.web.deps import ApiDep, SettingsDep
from shared.settings import Settings

COOKIE = "tf_agent"


@dataclass(frozen=True)
class SignedIn:
    """The agent a console request acts for, and their credential for the API."""

    token: str
    handle: str
    name: str
    email: str
    role: str  # admin | agent | viewer

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def writes(self) -> bool:
        """Whether the API lets them change tickets (viewers read only)."""
        return self.role != "viewer"


class NotSignedIn(Exception):
    """No agent cookie, or one the API no longer accepts: the app sends the browser to the
    sign-in page, and back to `next` after."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def signed_in(request: Request, api: ApiDep) -> SignedIn:
    token = request.cookies.get(COOKIE, "")
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise NotSignedIn(here)
    try:
        answer = await api.call("GET", "/api/v1/auth/me", credential=token)
    except ApiError as err:
        if err.status in (401, 403):
            raise NotSignedIn(here) from err
        raise
    me = answer.json()
    return SignedIn(
        token=token, handle=me["handle"], name=me["name"], email=me["email"], role=me["role"]
    )


def sign_in_path(next_path: str) -> str:
    return f"/agent/sign-in?next={quote(next_path, safe='/')}"


def remember(response: Response, token: str, settings: Settings) -> None:
    """Keep the session token the API issued; the API decides when it ends."""
    response.set_cookie(
        COOKIE,
        token,
        path="/agent",
        httponly=True,
        samesite="lax",
        secure=settings.portal_is_https,
    )


def forget(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path="/agent", httponly=True, samesite="lax", secure=settings.portal_is_https
    )


async def agent_or_unreachable(request: Request, api: ApiDep) -> SignedIn | None:
    """The signed-in agent; None when the API cannot be reached to say who it is (the page
    then says so itself rather than sending the agent to sign in again)."""
    try:
        return await signed_in(request, api)
    except ApiError as err:
        if err.status == 0 or err.status >= 500:
            return None
        raise


AgentDep = Annotated[SignedIn, Depends(signed_in)]
MaybeAgent = Annotated[SignedIn | None, Depends(agent_or_unreachable)]
__all__ = ["AgentDep", "NotSignedIn", "SettingsDep", "SignedIn", "forget", "remember"]
