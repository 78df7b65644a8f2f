"""Notify's service token: a caller of its API presents NOTIFY_TOKEN as a bearer.

The middleware guards every path but /healthz and /metrics (which has a rule of its own), so
the docs, the OpenAPI document and unknown paths are closed too; the router dependency declares
the scheme in OpenAPI and checks again, so the API stays closed wherever its router is mounted.
"""

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.notify.deps import SettingsDep

# /metrics has a rule of its own (services/metrics_endpoint.py).
OPEN_PATHS = frozenset({"/healthz", "/metrics"})
UNAUTHORIZED_DETAIL = "missing or invalid service token"
CHALLENGE = {"WWW-Authenticate": "Bearer"}

bearer_scheme = HTTPBearer(
    scheme_name="ServiceToken",
    description="The notify service token (NOTIFY_TOKEN), as `Authorization: Bearer <token>`.",
    auto_error=False,
)

# For the routes' `responses`: what a caller without the token gets.
UNAUTHORIZED_RESPONSE: dict[int | str, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "description": "No or wrong service token",
        "content": {"application/json": {"example": {"detail": UNAUTHORIZED_DETAIL}}},
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "example": "Bearer"}},
    }
}


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison; an empty token never matches, even an empty expected one."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class RequireServiceToken:
    """Pure ASGI middleware: 401 for any HTTP request but OPEN_PATHS without the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            presented = bearer_token(Headers(scope=scope).get("authorization"))
            if not token_matches(presented, self._token):
                response = JSONResponse(
                    {"detail": UNAUTHORIZED_DETAIL}, status_code=401, headers=CHALLENGE
                )
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)


def require_service_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> None:
    presented = credentials.credentials if credentials is not None else None
    if not token_matches(presented, settings.notify_token):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED_DETAIL, headers=CHALLENGE
        )


ServiceToken = Depends(require_service_token)
