"""The portal's app: pages, static files, the session cookie, and answers a person reads
(never a stack trace) for whatever goes wrong."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from services.body_limit import BodySizeLimit, BodyTooLarge
from services.http_tracing import send_trace_context, trace_requests
from services.metrics_endpoint import install_metrics
from services.request_log_context import RequestLogContext
from services.web import session
from services.web.api import IntakeApi
from services.web.console import account as console_account
from services.web.console import admin_agents as console_admin_agents
from services.web.console import admin_alerts as console_admin_alerts
from services.web.console import admin_mail_in as console_admin_mail_in
from services.web.console import live as console_live
from services.web.console import oidc as console_oidc
from services.web.console import presence as console_presence
from services.web.console import queues as console_queues
from services.web.console import reports as console_reports
from services.web.console import sign_in as console_sign_in
from services.web.console import ticket as console_ticket
from services.web.console import ticket_actions as console_ticket_actions
from services.web.console import ticket_composer as console_ticket_composer
from services.web.console.agent import NotSignedIn, sign_in_path
from services.web.pages import links, new_ticket, support, ticket
from services.web.ratelimit import RateLimit
from services.web.render import STATIC, make_environment, page, see_other
from services.web.security import PAGE_HEADERS, CsrfRefused, PageHeaders
from shared.domain.attachments import human_size
from shared.settings import Settings

log = logging.getLogger(__name__)
# The API's commands wait up to COMMAND_TIMEOUT_SECONDS plus a few seconds making sure.
API_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def create_app(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The portal; `transport` reaches intake another way than over the network (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=settings.intake_api_url,
            transport=transport,
            timeout=API_TIMEOUT,
            event_hooks={"request": [send_trace_context]},
        ) as client:
            app.state.api = IntakeApi(client)
            yield

    app = FastAPI(
        title="ticketflow portal",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.templates = make_environment()
    app.state.limits = {
        "tickets": RateLimit(settings.portal_tickets_per_hour),
        "status": RateLimit(settings.portal_status_requests_per_hour),
    }
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(support.router)
    app.include_router(new_ticket.router)
    app.include_router(ticket.router)
    app.include_router(links.router)
    app.include_router(console_ticket.router)
    app.include_router(console_ticket_composer.router)
    app.include_router(console_ticket_actions.router)
    app.include_router(console_presence.router)
    app.include_router(console_sign_in.router)
    app.include_router(console_oidc.router)
    app.include_router(console_account.router)
    app.include_router(console_admin_agents.router)
    app.include_router(console_admin_alerts.router)
    app.include_router(console_admin_mail_in.router)
    app.include_router(console_reports.router)
    app.include_router(console_queues.router)
    app.include_router(console_live.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    install_metrics(app, settings)
    trace_requests(app, settings)

    install_error_pages(app, settings)

    @app.middleware("http")
    async def portal_session(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """The browser's session for the request; its cookie is written when it changed."""
        if request.url.path.startswith("/static/"):
            return await call_next(request)
        request.state.portal = session.load(request, settings, datetime.now(UTC))
        response = await call_next(request)
        if request.state.portal.changed:
            session.save(response, request.state.portal, settings)
        return response

    # A multipart post is counted as it is read (its files are spooled, never held here);
    # past the limit the form parser stops, answered 413 below.
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        allowance=lambda scope: settings.max_upload_bytes if scope["method"] == "POST" else None,
    )
    app.add_middleware(PageHeaders)
    app.add_middleware(CompressStatic)
    app.add_middleware(RequestLogContext)  # outermost: the access log line has it too
    return app


class CompressStatic:
    """Gzip for the static files alone (htmx is most of a page's weight). Pages are never
    compressed: they hold a CSRF token beside text a visitor sent, which compression would
    let an eavesdropper guess from sizes (BREACH)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._gzip = GZipMiddleware(app, minimum_size=512)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/static/"):
            await self._gzip(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def install_error_pages(app: FastAPI, settings: Settings) -> None:
    def problem_page(
        request: Request, code: int, title: str, message: str, retry: str | None = None
    ) -> Response:
        if not hasattr(request.state, "portal"):
            request.state.portal = session.load(request, settings, datetime.now(UTC))
        return page(
            request, "problem.html", status_code=code, title=title, message=message, retry=retry
        )

    async def csrf_refused(request: Request, _: Exception) -> Response:
        return problem_page(
            request,
            403,
            "This form has expired",
            "Nothing was sent. Go back, reload the page, and send it again "
            "(copy what you typed first).",
        )

    async def too_large(request: Request, _: Exception) -> Response:
        limit = human_size(settings.max_attachment_bytes)
        files = settings.max_attachments_per_message
        return problem_page(
            request,
            413,
            "Too large",
            f"Nothing was sent: each file may be at most {limit}, and a message may carry "
            f"at most {files} files. Go back and choose fewer or smaller files.",
        )

    async def not_found(request: Request, err: Exception) -> Response:
        if isinstance(err, HTTPException) and err.status_code not in (404, 422):
            return problem_page(
                request, err.status_code, "This page cannot do that", "Go back and try again."
            )
        return problem_page(request, 404, "Page not found", "There is no such page.", "/")

    async def unexpected(request: Request, err: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=err)
        response = problem_page(
            request,
            500,
            "Something went wrong on our side",
            "Please try again in a moment.",
        )
        # Starlette answers this one from outside every middleware, PageHeaders included.
        response.headers.update(PAGE_HEADERS)
        return response

    async def not_signed_in(request: Request, err: Exception) -> Response:
        """To the console's sign-in page, and back here after (htmx: the whole page goes)."""
        target = sign_in_path(err.next_path if isinstance(err, NotSignedIn) else "/agent")
        if request.headers.get("HX-Request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return see_other(request, target)

    app.add_exception_handler(NotSignedIn, not_signed_in)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_exception_handler(HTTPException, not_found)
    app.add_exception_handler(RequestValidationError, not_found)
    app.add_exception_handler(Exception, unexpected)
