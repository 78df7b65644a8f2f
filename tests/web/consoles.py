"""The portal and the console in process for the tests: the web app in front of a real intake
app (ASGI, no network) with Temporal down, the admin's headers, and the API's invite flow."""

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NamedTuple, NoReturn
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from services.intake.app import create_app as create_intake
from services.web.app import create_app as create_web
from shared.settings import Settings

SECRET = "test-secret-key-for-the-portal-0123456789"
PORTAL = "http://portal.test"


class TemporalDown:
    """A Temporal client whose server cannot be reached: every call fails as a real one's
    does (RPCError UNAVAILABLE), so intake answers from its projection, or 503."""

    def get_workflow_handle_for(self, *_: object, **__: object) -> "TemporalDown":
        return self

    def __getattr__(self, name: str) -> Any:
        async def unavailable(*_: object, **__: object) -> NoReturn:
            raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

        return unavailable


def portal_app(settings: Settings, intake: FastAPI | None = None) -> FastAPI:
    """The portal, reaching `intake` (by default a new one on `settings`) in process."""
    down: Any = TemporalDown()
    temporal: Client = down
    intake = intake or create_intake(settings, temporal=temporal)
    web = create_web(settings, transport=httpx.ASGITransport(app=intake))
    web_lifespan = web.router.lifespan_context

    @asynccontextmanager
    async def both(app: FastAPI) -> AsyncIterator[None]:
        async with intake.router.lifespan_context(intake), web_lifespan(app):
            yield

    web.router.lifespan_context = both
    return web


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


JANE = {"Authorization": "Bearer dev-jane-token"}
PASSWORD = "correct horse battery staple"


class Clients(NamedTuple):
    web: TestClient
    api: TestClient


@contextmanager
def console(settings: Settings, web_settings: Settings | None = None) -> Iterator[Clients]:
    """The web app (on `web_settings`, by default `settings`) in front of a real intake app
    in process, and that intake app itself, as an admin's program would call it."""
    down: Any = TemporalDown()
    intake = create_intake(settings, temporal=down)
    app = portal_app(web_settings or settings, intake)
    with TestClient(
        app, base_url=PORTAL, raise_server_exceptions=False, follow_redirects=False
    ) as web:
        # Started by the web app's lifespan; a second client of it shares its state.
        yield Clients(web, TestClient(intake, base_url="http://intake.test"))


def invite_url(api: TestClient, handle: str) -> str:
    answer = api.post(f"/api/v1/admin/agents/{handle}/invite", headers=JANE)
    assert answer.status_code == 201, answer.text
    url: str = answer.json()["url"]
    return url


def set_password(api: TestClient, handle: str, password: str = PASSWORD) -> None:
    """Through the invite flow of the API, as the invite page does it."""
    token = urlsplit(invite_url(api, handle)).path.rsplit("/", 1)[1]
    answer = api.post(f"/api/v1/auth/invites/{token}", json={"password": password})
    assert answer.status_code == 204, answer.text
