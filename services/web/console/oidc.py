"""Single sign-on with OpenID Connect: the authorization code flow with PKCE (S256), built with
Authlib's OAuth 2 pieces. The provider is found by discovery from OIDC_ISSUER; the state,
nonce and code verifier wait in a short-lived signed cookie of this browser; the callback
exchanges the code (with the client secret) for tokens, and hands the ID token and nonce to
the API (`POST /api/v1/auth/oidc`), which verifies it and maps its verified email to an active
agent. Then the browser is signed in as after a password."""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.web.api import ApiError
from services.web.console.sign_in import safe_next, signed_in_answer
from services.web.deps import ApiDep
from services.web.render import page
from shared.settings import Settings

router = APIRouter()
COOKIE = "tf_sso"
CALLBACK = "/agent/sso/callback"
# How long a browser may spend at the provider between leaving and coming back.
FLIGHT_SECONDS = 600
DISCOVERY_SECONDS = 3600
IDP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_PURPOSE = b"console-sso:v1:"


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    auth_methods: tuple[str, ...]


class SsoFailed(Exception):
    """The provider could not be reached or answered something unusable."""


async def provider(request: Request, settings: Settings) -> Provider:
    """The issuer's discovery document, kept for DISCOVERY_SECONDS by the app."""
    state = request.app.state
    cached: tuple[float, Provider] | None = getattr(state, "console_oidc_provider", None)
    if (
        cached is not None
        and cached[0] > time.monotonic()
        and cached[1].issuer == _issuer(settings)
    ):
        return cached[1]
    url = f"{_issuer(settings)}/.well-known/openid-configuration"
    try:
        async with httpx.AsyncClient(timeout=IDP_TIMEOUT) as client:
            answer = await client.get(url)
        answer.raise_for_status()
        data = answer.json()
        found = Provider(
            issuer=str(data["issuer"]).rstrip("/"),
            authorization_endpoint=str(data["authorization_endpoint"]),
            token_endpoint=str(data["token_endpoint"]),
            auth_methods=tuple(
                data.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            ),
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
        raise SsoFailed(f"discovery at {url} failed: {err}") from err
    if found.issuer != _issuer(settings):
        raise SsoFailed(f"the discovery document names issuer {found.issuer!r}")
    state.console_oidc_provider = (time.monotonic() + DISCOVERY_SECONDS, found)
    return found


def _issuer(settings: Settings) -> str:
    return (settings.oidc_issuer or "").rstrip("/")


def _sign(settings: Settings, payload: str) -> str:
    digest = hmac.new(settings.secret_key.encode(), _PURPOSE + payload.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def seal(settings: Settings, flight: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(flight).encode()).decode().rstrip("=")
    return f"{payload}.{_sign(settings, payload)}"


def unseal(settings: Settings, raw: str) -> dict[str, Any] | None:
    """The flight this browser started, if the cookie is ours and not older than allowed."""
    payload, _, signature = raw.rpartition(".")
    if not payload or not hmac.compare_digest(_sign(settings, payload), signature):
        return None
    try:
        flight = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    if not isinstance(flight, dict) or float(flight.get("at", 0)) + FLIGHT_SECONDS < time.time():
        return None
    return flight


def redirect_uri(settings: Settings) -> str:
    return settings.portal_url + CALLBACK


def sso_problem(request: Request, status_code: int, title: str, message: str) -> Response:
    return page(
        request,
        "console/sign_in_problem.html",
        status_code=status_code,
        agent=None,
        title=title,
        message=message,
    )


def unavailable(request: Request) -> Response:
    return sso_problem(
        request,
        503,
        "Single sign-on is not available just now",
        "The sign-in service could not be reached. Sign in with your password, or try again "
        "in a moment.",
    )


@router.get("/agent/sso", response_model=None)
async def start(
    request: Request,
    next: str = Query(default="/agent", max_length=2000),
) -> Response:
    """To the provider's sign-in, with a fresh state, nonce and PKCE verifier."""
    settings: Settings = request.app.state.settings
    if not (settings.oidc_issuer and settings.oidc_client_id):
        return sso_problem(
            request, 404, "Single sign-on is not set up", "Sign in with your password."
        )
    try:
        found = await provider(request, settings)
    except SsoFailed:
        return unavailable(request)
    flight = {
        "state": generate_token(32),
        "nonce": generate_token(32),
        "verifier": generate_token(64),
        "next": safe_next(next),
        "at": time.time(),
    }
    url = prepare_grant_uri(
        found.authorization_endpoint,
        settings.oidc_client_id,
        "code",
        redirect_uri=redirect_uri(settings),
        scope="openid email profile",
        state=flight["state"],
        nonce=flight["nonce"],
        code_challenge=create_s256_code_challenge(flight["verifier"]),
        code_challenge_method="S256",
    )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        COOKIE,
        seal(settings, flight),
        max_age=FLIGHT_SECONDS,
        path=CALLBACK,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back here
        secure=settings.portal_is_https,
    )
    return response


@router.get(CALLBACK, response_model=None)
async def callback(
    request: Request,
    api: ApiDep,
    code: str = Query(default="", max_length=4000),
    state: str = Query(default="", max_length=500),
    error: str = Query(default="", max_length=200),
) -> Response:
    """Back from the provider: the code for tokens, the ID token to the API, signed in."""
    settings: Settings = request.app.state.settings
    flight = unseal(settings, request.cookies.get(COOKIE, ""))
    if (
        error
        or flight is None
        or not code
        or not hmac.compare_digest(str(flight.get("state", "")), state)
    ):
        response = sso_problem(
            request,
            400,
            "Single sign-on did not complete",
            "The sign-in was cancelled, took too long, or was started in another browser. "
            "Please sign in again.",
        )
    else:
        response = await _finish(request, api, settings, code, flight)
    response.delete_cookie(
        COOKIE, path=CALLBACK, httponly=True, samesite="lax", secure=settings.portal_is_https
    )
    return response


async def _finish(
    request: Request, api: ApiDep, settings: Settings, code: str, flight: dict[str, Any]
) -> Response:
    try:
        found = await provider(request, settings)
        id_token = await exchange(settings, found, code, str(flight["verifier"]))
    except SsoFailed:
        return unavailable(request)
    try:
        answer = await api.call(
            "POST", "/api/v1/auth/oidc", json={"id_token": id_token, "nonce": flight["nonce"]}
        )
    except ApiError as err:
        if err.status == 403:
            return sso_problem(
                request,
                403,
                "No agent has this address",
                "No active agent has this address. Ask an admin to add you, or sign in "
                "with another account.",
            )
        if err.status in (400, 401, 422):
            return sso_problem(
                request,
                401,
                "Single sign-on did not complete",
                "The sign-in service's answer could not be verified. Please sign in again.",
            )
        return unavailable(request)
    return signed_in_answer(request, answer.json(), safe_next(str(flight.get("next"))))


async def exchange(settings: Settings, found: Provider, code: str, verifier: str) -> str:
    """The ID token for the authorization code (the client authenticates with its secret)."""
    body = prepare_token_request(
        "authorization_code", code=code, redirect_uri=redirect_uri(settings), code_verifier=verifier
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    secret = settings.oidc_client_secret
    method = "none" if not secret else auth_method(found.auth_methods)
    client_auth = ClientAuth(settings.oidc_client_id, secret, method)
    url, headers, body = client_auth.prepare("POST", found.token_endpoint, headers, body)
    try:
        async with httpx.AsyncClient(timeout=IDP_TIMEOUT) as client:
            answer = await client.post(url, content=body, headers=headers)
        answer.raise_for_status()
        id_token = answer.json()["id_token"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
        raise SsoFailed(f"the token endpoint refused the code: {err}") from err
    if not isinstance(id_token, str):
        raise SsoFailed("the token endpoint gave no ID token")
    return id_token


def auth_method(supported: tuple[str, ...]) -> str:
    """How the client proves itself at the token endpoint: Basic unless only a post is taken."""
    if "client_secret_basic" in supported or "client_secret_post" not in supported:
        return "client_secret_basic"
    return "client_secret_post"
