"""`/api/v1/auth/sessions` and `/api/v1/auth/oidc`: agents sign in (a password, and a code
when they have two-factor; or an OpenID Connect ID token) and get a session token, which is a
bearer credential on every route; they sign out of one session or of all.

A client's address is the request's (behind a proxy, uvicorn takes it from X-Forwarded-For
when the proxy is trusted: FORWARDED_ALLOW_IPS), for throttling per client."""

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.intake import sign_in
from services.intake.auth import SignedInAgent
from services.intake.auth_schemas import OidcSignIn, PasswordSignIn, SessionStarted
from services.intake.deps import SessionsDep, SettingsDep
from services.intake.errors import ErrorBody, Forbidden, Refused
from shared.db.threads import in_thread
from shared.oidc import InvalidToken, OidcVerifier, ProviderUnavailable, UnverifiedEmail

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
log = logging.getLogger(__name__)

THROTTLED: dict[str, Any] = {
    "model": ErrorBody,
    "description": "Too many wrong tries on this account or from this client: retry after "
    "the seconds Retry-After says",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
}
SIGNED_IN: dict[int | str, dict[str, Any]] = {
    201: {"description": "Signed in: the session's token, and who it is for"}
}


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def throttled(retry_after: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many wrong tries: try again in {retry_after} seconds",
        headers={"Retry-After": str(retry_after)},
    )


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionStarted,
    responses={
        **SIGNED_IN,
        401: {
            "model": ErrorBody,
            "description": "A wrong address or password (the same answer for both); or, with "
            'a second field `"two_factor": "required"`, the password was right and `totp` is '
            "missing or not right",
        },
        429: THROTTLED,
    },
)
def sign_in_with_password(
    body: PasswordSignIn, request: Request, sessions: SessionsDep, settings: SettingsDep
) -> SessionStarted | JSONResponse:
    """Sign in with an address and a password (and `totp`, a code of the second factor or a
    recovery code, when the agent has two-factor). Inactive agents cannot sign in."""
    attempt = sign_in.Attempt(
        email=body.email, password=body.password, code=body.totp, client=client_of(request)
    )
    try:
        return sign_in.with_password(sessions, settings, attempt, datetime.now(UTC))
    except sign_in.Throttled as err:
        raise throttled(err.retry_after) from err
    except sign_in.WrongCredentials:
        return JSONResponse({"detail": sign_in.WRONG_EMAIL_OR_PASSWORD}, status_code=401)
    except sign_in.TwoFactorRequired:
        asked = {"detail": sign_in.TWO_FACTOR_REQUIRED, "two_factor": "required"}
        return JSONResponse(asked, status_code=401)


async def get_verifier(request: Request, settings: SettingsDep) -> OidcVerifier:
    """The app's verifier of ID tokens, made on first use; 404 when OIDC is not set up."""
    if not settings.oidc_issuer or not settings.oidc_client_id:
        raise Refused(404, "single sign-on (OIDC) is not set up")
    verifier = getattr(request.app.state, "oidc_verifier", None)
    if not isinstance(verifier, OidcVerifier):
        verifier = OidcVerifier(settings.oidc_issuer, settings.oidc_client_id)
        request.app.state.oidc_verifier = verifier
    return verifier


Verifier = Annotated[OidcVerifier, Depends(get_verifier)]


@router.post(
    "/oidc",
    status_code=status.HTTP_201_CREATED,
    responses={
        **SIGNED_IN,
        401: {"model": ErrorBody, "description": "The ID token is not valid"},
        403: {
            "model": ErrorBody,
            "description": "The provider has not verified the address, or no active agent has it",
        },
        404: {"model": ErrorBody, "description": "Single sign-on (OIDC) is not set up"},
    },
)
async def sign_in_with_oidc(
    body: OidcSignIn, sessions: SessionsDep, settings: SettingsDep, verifier: Verifier
) -> SessionStarted:
    """Sign in with an ID token of the identity provider (OIDC_ISSUER) for the console's
    client (OIDC_CLIENT_ID): its verified email names the agent (case-insensitively)."""
    try:
        identity = await verifier.verify(body.id_token, body.nonce)
    except InvalidToken as err:
        raise Refused(401, "the ID token is not valid") from err
    except UnverifiedEmail as err:
        raise Forbidden("the identity provider has not verified this address") from err
    except ProviderUnavailable as err:
        log.warning("OIDC sign-in: the identity provider is unavailable: %s", err)
        raise Refused(503, "the identity provider is unavailable") from err
    try:
        return await in_thread(
            sign_in.with_identity, sessions, settings, identity.email, datetime.now(UTC)
        )
    except sign_in.NoSuchAgent as err:
        raise Forbidden(sign_in.NO_SUCH_AGENT) from err


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(agent: SignedInAgent, sessions: SessionsDep) -> Response:
    """End the session whose token this is (sign out)."""
    if agent.session is None:
        raise Forbidden("this credential is an API token, not a sign-in session")
    await in_thread(sign_in.sign_out, sessions, agent.session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/sessions", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out_everywhere(agent: SignedInAgent, sessions: SessionsDep) -> Response:
    """End every session of the caller's (sign out everywhere); API tokens are not touched."""
    await in_thread(sign_in.sign_out_everywhere, sessions, agent.handle)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
