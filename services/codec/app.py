"""The codec server's app: the protocol's two routes, a health check, CORS for the Temporal
UI's origins alone, and its data keys read from the database as the services read them."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from services.body_limit import BodySizeLimit
from services.codec.access import Refused
from services.codec.payloads import NotPayloads
from services.codec.routes import router
from services.request_log_context import RequestLogContext
from services.security_headers import SecurityHeaders
from shared.crypto.key_store import KeyStore
from shared.db.engine import engine_for, make_sessionmaker
from shared.db.threads import in_thread
from shared.oidc import OidcVerifier
from shared.settings import Settings
from shared.temporal.codec import EncryptionCodec

# A batch is a page of history's payloads at most, each within Temporal's 2 MB blob limit.
MAX_BODY_BYTES = 16 * 1024 * 1024


def create_app(settings: Settings) -> FastAPI:
    """The app; its engine, key store and OIDC verifier are made at start-up."""
    ring = settings.key_ring
    if ring is None:
        raise ValueError("ENCRYPTION_KEYS is unset: no payload is encrypted, none to decode")
    audience = settings.codec_oidc_audience
    if audience and not settings.oidc_issuer:
        raise ValueError("CODEC_OIDC_AUDIENCE needs OIDC_ISSUER, the issuer of those tokens")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = engine_for(settings)
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        app.state.codec = EncryptionCodec(KeyStore(app.state.sessions, ring))
        issuer = settings.oidc_issuer
        app.state.verifier = OidcVerifier(issuer, audience) if issuer and audience else None
        yield
        engine.dispose()

    app = FastAPI(
        title="ticketflow codec",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    if settings.codec_cors_origins:
        # The UI sends JSON with its namespace, and its user's access token or cookies (the
        # UI's "pass access token", "include credentials"): each needs a preflight.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.codec_cors_origins,
            allow_credentials=True,
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)  # decrypted answers are never cached
    app.add_middleware(RequestLogContext)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(NotPayloads, _not_payloads)

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> JSONResponse:
        """Open to anyone: a real `SELECT 1` against the database of the data keys."""
        try:
            await in_thread(_ping, request.app.state.sessions)
        except SQLAlchemyError as err:
            down = {"database": f"down: {type(err).__name__}"}
            return JSONResponse({"status": "unavailable", "checks": down}, status_code=503)
        return JSONResponse({"status": "ok", "checks": {"database": "ok"}})

    app.include_router(router)
    return app


def _ping(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        session.execute(text("SELECT 1"))


async def _refused(_: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, Refused)
    challenge = {"WWW-Authenticate": "Bearer"} if err.status_code == 401 else None
    return JSONResponse({"detail": err.reason}, status_code=err.status_code, headers=challenge)


async def _not_payloads(_: Request, err: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(err)}, status_code=400)
