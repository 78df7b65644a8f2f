"""The notify service: delivers the outbox's notifications and the webhooks, and lets callers
with its token read the notifications of a ticket."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from services.docs_assets import install_docs
from services.http_tracing import trace_requests
from services.metrics_endpoint import install_metrics
from services.notify.auth import RequireServiceToken
from services.notify.deps import SessionsDep
from services.notify.errors import install_error_handlers
from services.notify.mailer import ChannelMailer, Mailer
from services.notify.outbox import OutboxLoop
from services.notify.routes import router
from services.notify.wakeups import EVENTS, NOTIFICATIONS, Wakeups
from services.notify.webhooks import WebhookLoops
from services.request_log_context import RequestLogContext
from services.security_headers import SecurityHeaders
from services.work_names import NameTheWork
from shared.db.engine import engine_for, make_sessionmaker
from shared.settings import Settings


def create_app(settings: Settings, mailer: Mailer | None = None) -> FastAPI:
    """Build the app; the engine is made at start-up, the mailer from settings unless given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = engine_for(settings)
        app.state.engine = engine
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        wakeups = Wakeups(engine)  # PostgreSQL: the loops are woken as work commits
        outbox = None
        if settings.notify_deliver_outbox:
            wake = wakeups.event(NOTIFICATIONS)
            outbox = OutboxLoop(
                app.state.sessions, mailer or ChannelMailer.from_settings(settings), settings, wake
            )
            outbox.start()
        webhooks = None
        if settings.notify_deliver_webhooks:
            feed = wakeups.event(EVENTS)
            webhooks = WebhookLoops(app.state.sessions, settings, feed_wake=feed)
            webhooks.start()
        wakeups.start()
        yield
        wakeups.stop()
        if webhooks is not None:
            webhooks.stop()
        if outbox is not None:
            outbox.stop()
        engine.dispose()

    # /docs and /redoc come from install_docs, with local assets; behind the token as the rest.
    app = FastAPI(
        title="ticketflow notify",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    # No route takes a body, so none is read: no size limit is needed.
    app.add_middleware(RequireServiceToken, token=settings.notify_token)
    app.add_middleware(NameTheWork)
    app.add_middleware(SecurityHeaders)  # on every answer, the 401s too
    app.add_middleware(RequestLogContext)  # outermost: the access log line has it too
    # The process's own counts, and the outbox's, webhooks' and mail-in's from the database.
    install_metrics(app, settings, with_database=True)
    trace_requests(app, settings)
    install_error_handlers(app)

    @app.get(
        "/healthz",
        tags=["health"],
        responses={503: {"description": "The database is unreachable"}},
    )
    def healthz(sessions: SessionsDep) -> JSONResponse:
        """Open to anyone (no token): a real `SELECT 1` against the database."""
        try:
            with sessions() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError as err:  # any database failure means "not ready"
            return JSONResponse(
                {"status": "unavailable", "checks": {"database": f"down: {type(err).__name__}"}},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "checks": {"database": "ok"}})

    app.include_router(router)
    return app
