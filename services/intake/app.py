"""The intake service: the HTTP API in front of ticket workflows."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from services.body_limit import BodySizeLimit
from services.client_gone import StopWhenClientGone
from services.docs_assets import install_docs
from services.http_tracing import trace_requests
from services.intake.account import router as account_router
from services.intake.admin import router as admin_router
from services.intake.admin.mail_in import router as mail_in_router
from services.intake.alerts import router as alerts_router
from services.intake.attachments import downloads as attachment_downloads
from services.intake.attachments import uploads as attachment_uploads
from services.intake.auth import AuthenticateFirst
from services.intake.deps import SessionsDep, TemporalDep
from services.intake.directory import router as directory_router
from services.intake.errors import install_error_handlers
from services.intake.events import router as events_router
from services.intake.events_stream import router as events_stream_router
from services.intake.help_topics import router as help_topics_router
from services.intake.multipart import upload_allowance
from services.intake.openapi_errors import document_errors
from services.intake.reports import router as reports_router
from services.intake.ticket_counts import router as ticket_counts_router
from services.intake.ticket_links import router as ticket_links_router
from services.intake.tickets import router as tickets_router
from services.intake.upload_docs import document_uploads
from services.metrics_endpoint import install_metrics
from services.request_log_context import RequestLogContext
from services.security_headers import SECURITY_HEADERS, SecurityHeaders
from services.tickets.service import Tickets
from services.work_names import NameTheWork
from shared.blobs import blob_store
from shared.db.engine import engine_for, make_sessionmaker
from shared.db.safety import agents_with_demo_tokens
from shared.db.threads import in_thread
from shared.settings import Settings
from shared.temporal.client import connect


class IntakeApp(FastAPI):
    """FastAPI whose OpenAPI document also states the error answers of each operation, and the
    multipart uploads of those that take files."""

    settings: Settings

    def openapi(self) -> dict[str, Any]:
        schema = super().openapi()
        document_errors(schema, self.routes)
        document_uploads(schema, self.settings)
        return schema


def refuse_demo_tokens(sessions: sessionmaker[Session]) -> None:
    """Production never starts with the demo file's public agent tokens loaded."""
    with sessions() as session:
        handles = agents_with_demo_tokens(session)
    if handles:
        raise RuntimeError(
            f"agents {', '.join(handles)} have the demo file's public tokens: in production, "
            "rotate their tokens first (PATCH /api/v1/admin/agents/HANDLE rotate_token)"
        )


def _ping(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        session.execute(text("SELECT 1"))


def create_app(settings: Settings, temporal: Client | None = None) -> FastAPI:
    """Build the app; `temporal` may be given (tests), else it connects lazily at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = engine_for(settings)
        app.state.engine = engine
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        app.state.blobs = blob_store(settings)
        if settings.environment == "production":
            await in_thread(refuse_demo_tokens, app.state.sessions)
        app.state.temporal = temporal or await connect(settings, lazy=True)
        app.state.tickets = Tickets(app.state.temporal, app.state.sessions, settings)
        yield
        engine.dispose()

    app = IntakeApp(
        title="ticketflow intake",
        version="0.1.0",
        description="Tickets as durable Temporal workflows.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from install_docs, with local assets
        redoc_url=None,
    )
    app.settings = settings
    install_docs(app)
    install_error_handlers(app, headers=SECURITY_HEADERS)

    # Innermost: a client that hung up cancels the route's work at its next await.
    app.add_middleware(StopWhenClientGone)
    # Multipart uploads to the routes that take files may be larger (the attachment settings).
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, allowance=upload_allowance(settings)
    )

    # Each added middleware wraps the ones before: credentials come before anything of the
    # body; CORS answers preflights and marks every answer, the 401s too; headers go on all.
    app.add_middleware(AuthenticateFirst)
    if settings.cors_origins:
        # Bearer tokens, no cookies: credentialed CORS is never needed, so never allowed.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match"],
            expose_headers=["Content-Disposition", "ETag"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(NameTheWork)
    app.add_middleware(RequestLogContext)  # outermost: the access log line has it too
    install_metrics(app, settings)
    trace_requests(app, settings)

    @app.get("/healthz", tags=["health"])
    async def healthz(sessions: SessionsDep, client: TemporalDep) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await in_thread(_ping, sessions)
            checks["database"] = "ok"
        except Exception as err:  # health reports any failure as down
            checks["database"] = f"down: {type(err).__name__}"
        try:
            await client.service_client.check_health(timeout=timedelta(seconds=3))
            checks["temporal"] = "ok"
        except Exception as err:
            checks["temporal"] = f"down: {type(err).__name__}"
        healthy = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "checks": checks},
            status_code=200 if healthy else 503,
        )

    # The multipart twins first: each takes only multipart requests to its JSON route's path.
    app.include_router(attachment_uploads)
    app.include_router(tickets_router)
    app.include_router(ticket_counts_router)
    app.include_router(attachment_downloads)
    app.include_router(admin_router)
    app.include_router(mail_in_router)
    app.include_router(alerts_router)
    app.include_router(reports_router)
    app.include_router(events_router)
    app.include_router(events_stream_router)
    app.include_router(help_topics_router)
    app.include_router(directory_router)
    app.include_router(account_router)
    app.include_router(ticket_links_router)
    return app
