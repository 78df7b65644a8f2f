"""The intake service: the HTTP API in front of ticket workflows."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import BaseRoute
from temporalio.client import Client

from services.docs_assets import install_docs
from services.intake.admin import router as admin_router
from services.intake.alerts import router as alerts_router
from services.intake.auth import SAFE_METHODS, Access, AuthenticateFirst, route_access
from services.intake.deps import SessionDep, TemporalDep
from services.intake.errors import ErrorBody, install_error_handlers
from services.intake.reports import router as reports_router
from services.intake.tickets import router as tickets_router
from services.security_headers import SECURITY_HEADERS, SecurityHeaders
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.safety import agents_with_demo_tokens
from shared.settings import Settings
from shared.temporal.client import connect

ERRORS = {
    400: "The body is not UTF-8 text (JSON that is not well formed is answered 422)",
    401: "Missing or invalid credentials",
    403: "The caller's role may not do this",
    404: "A record the request names does not exist",
    409: "The request conflicts with the record's state, or with a concurrent change",
    413: "The body is larger than MAX_BODY_BYTES, or would make the ticket hold too much",
}
# A reused Idempotency-Key is refused 422 with `ErrorBody`, beside FastAPI's list of faults.
INVALID = "Invalid input, or an Idempotency-Key used before for another request"


class IntakeApp(FastAPI):
    """FastAPI whose OpenAPI document also states the error answers of each operation."""

    def openapi(self) -> dict[str, Any]:
        schema = super().openapi()
        document_errors(schema, self.routes)
        return schema


def document_errors(schema: dict[str, Any], routes: list[BaseRoute]) -> None:
    """Add 400, 401, 403, 404, 409 and 413 (with `ErrorBody`) where they can happen, read from
    each route: 400 (not UTF-8) and 413 (too large) if it takes a body; 401 if it needs
    credentials; 403 if it needs a role beyond reading (or writes, as viewers may not); 404 if
    its path names a record, or if anyone may write through it (a ticket names its help
    topic); 409 if it writes. Answers a route declares itself are kept (the reports declare
    403: a viewer may see some of them only). A 422 of a route that takes an Idempotency-Key
    may also be an `ErrorBody` (the key was used for another request). Idempotent."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    body = {"application/json": {"schema": error_body}}
    faults = {"$ref": "#/components/schemas/HTTPValidationError"}
    for route in iter_route_contexts(routes):
        path = route.path_format or ""
        operations = schema.get("paths", {}).get(path, {})
        access = route_access(route)
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            writes = method not in SAFE_METHODS
            takes_body = "requestBody" in operation
            statuses = {
                400: takes_body,
                401: access > Access.PUBLIC,
                403: access >= Access.WRITER or (writes and access > Access.PUBLIC),
                404: "{" in path or (writes and access is Access.PUBLIC),
                409: writes,
                413: takes_body,
            }
            for status, applies in statuses.items():
                if applies:
                    answer: dict[str, Any] = {"description": ERRORS[status], "content": body}
                    if status == 401:
                        answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
                    operation["responses"].setdefault(str(status), answer)
            parameters = operation.get("parameters", [])
            if any(parameter["name"] == "Idempotency-Key" for parameter in parameters):
                invalid = operation["responses"].setdefault("422", {"description": INVALID})
                if invalid["description"] == "Validation Error":  # FastAPI's own
                    invalid["description"] = INVALID
                either = {"anyOf": [faults, error_body]}
                invalid["content"] = {"application/json": {"schema": either}}


def refuse_demo_tokens(sessions: sessionmaker[Session]) -> None:
    """Production never starts with the demo file's public agent tokens loaded."""
    with sessions() as session:
        handles = agents_with_demo_tokens(session)
    if handles:
        raise RuntimeError(
            f"agents {', '.join(handles)} have the demo file's public tokens: in production, "
            "rotate their tokens first (PATCH /api/v1/admin/agents/HANDLE rotate_token)"
        )


def create_app(settings: Settings, temporal: Client | None = None) -> FastAPI:
    """Build the app; `temporal` may be given (tests), else it connects lazily at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        if settings.environment == "production":
            refuse_demo_tokens(app.state.sessions)
        app.state.temporal = temporal or await connect(settings, lazy=True)
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
    install_docs(app)
    install_error_handlers(app, headers=SECURITY_HEADERS)

    @app.middleware("http")
    async def limit_body_size(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > settings.max_body_bytes:
            return JSONResponse({"detail": "request body too large"}, status_code=413)
        if request.method in ("POST", "PUT", "PATCH") and length is None:
            body = await request.body()
            if len(body) > settings.max_body_bytes:
                return JSONResponse({"detail": "request body too large"}, status_code=413)
        return await call_next(request)

    # Each added middleware wraps the ones before: credentials come before anything of the
    # body; CORS answers preflights and marks every answer, the 401s too; headers go on all.
    app.add_middleware(AuthenticateFirst)
    if settings.cors_origins:
        # Bearer tokens, no cookies: credentialed CORS is never needed, so never allowed.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Content-Disposition"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", tags=["health"])
    async def healthz(session: SessionDep, client: TemporalDep) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            session.execute(text("SELECT 1"))
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

    app.include_router(tickets_router)
    app.include_router(admin_router)
    app.include_router(alerts_router)
    app.include_router(reports_router)
    return app
