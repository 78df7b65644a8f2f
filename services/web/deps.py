"""What the portal's routes take from the app and the request."""

from typing import Annotated

from fastapi import Depends, Request

from services.web.api import IntakeApi
from services.web.ratelimit import RateLimit
from services.web.session import PortalSession
from shared.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_api(request: Request) -> IntakeApi:
    api: IntakeApi = request.app.state.api
    return api


async def get_portal(request: Request) -> PortalSession:
    session: PortalSession = request.state.portal
    return session


def client_of(request: Request) -> str:
    """Who a rate limit counts: the client's address (behind a proxy, uvicorn takes it from
    X-Forwarded-For when the proxy is trusted: FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else "unknown"


def limit(request: Request, name: str) -> RateLimit:
    limits: dict[str, RateLimit] = request.app.state.limits
    return limits[name]


SettingsDep = Annotated[Settings, Depends(get_settings)]
ApiDep = Annotated[IntakeApi, Depends(get_api)]
PortalDep = Annotated[PortalSession, Depends(get_portal)]
