"""Errors the intake service raises, and the one place they become HTTP answers.

An answer never carries a stack trace, a SQL statement or a secret: what was not foreseen
is answered 500 with a generic body, and logged with its traceback."""

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.routing import Match
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from services.body_limit import BodyTooLarge
from services.tickets.errors import Conflict, NotApplied, NotFound, Rejected, Unavailable
from shared.blobs import BlobTooLarge
from shared.db.engine import holders
from shared.domain.lifecycle import Refusal

log = logging.getLogger(__name__)


def fault(
    where: str, name: str, message: str, kind: str = "value_error", **extra: Any
) -> dict[str, Any]:
    """A fault in one input (`where`: "query", "body") as FastAPI reports its own."""
    return {"type": kind, "loc": (where, name), "msg": message, **extra}


def invalid(
    where: str, name: str, message: str, kind: str = "value_error", **extra: Any
) -> RequestValidationError:
    """One such fault, answered as FastAPI answers its validation: the documented 422."""
    return RequestValidationError([fault(where, name, message, kind, **extra)])


class ErrorBody(BaseModel):
    """The body of every error answer but 422 (whose `detail` lists the faults)."""

    detail: str


class Refused(Exception):
    """The API refused a request (its own checks) with a status of its own."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


class Unauthorized(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _answer(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _not_found(_: Request, err: NotFound) -> Response:
    return _answer(404, f"{err.what} not found")


async def _conflict(_: Request, err: Conflict) -> Response:
    return _answer(409, err.reason)


async def _unauthorized(_: Request, __: Unauthorized) -> Response:
    return _answer(401, "missing or invalid credentials", {"WWW-Authenticate": "Bearer"})


async def _forbidden(_: Request, err: Forbidden) -> Response:
    return _answer(403, err.reason)


async def _unavailable(request: Request, err: Unavailable) -> Response:
    log.warning("%s unavailable on %s", err.dependency, _where(request))
    return _answer(503, f"{err.dependency} is unavailable")


async def _integrity(_: Request, __: IntegrityError) -> Response:
    return _answer(409, "conflicting concurrent write")


async def _database_busy(request: Request, err: PoolTimeout) -> Response:
    """Overload: shed the request at once (the pool's wait is short), saying when to retry."""
    engine = getattr(request.app.state, "engine", None)
    log.warning(
        "no database connection free in time on %s (%s); held by: %s",
        _where(request),
        err,
        holders(engine) if engine is not None else "unknown",
    )
    return _answer(503, "database is busy, retry shortly", {"Retry-After": "1"})


async def _database_down(request: Request, err: DBAPIError) -> Response:
    """The database could not be reached or refused to work (SQLite: also a missing table)."""
    log.error("database error on %s", _where(request), exc_info=err)
    return _answer(503, "database is unavailable")


async def _not_applied(request: Request, __: NotApplied) -> Response:
    log.warning("a command was not applied in time on %s", _where(request))
    return JSONResponse(
        {
            "detail": "no worker applied the command in time; it was not applied and "
            "never will be: retry it",
            "applied": False,
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _too_large(_: Request, __: BodyTooLarge | BlobTooLarge) -> Response:
    return _answer(413, "request body too large")


async def _refused(_: Request, err: Refused) -> Response:
    return _answer(err.status_code, err.reason)


# What each refusal of the ticket service answers over HTTP.
REFUSAL_STATUS = {
    Refusal.TICKET_FULL: 413,
    Refusal.RATE_LIMITED: 429,
    Refusal.KEY_REUSED: 422,
    Refusal.VERSION_MISMATCH: 412,
    Refusal.INVALID: 422,
    Refusal.NOT_LINKED: 404,
}


async def _rejected(_: Request, err: Rejected) -> Response:
    return _answer(REFUSAL_STATUS.get(err.refusal, 409), err.reason)


async def _no_worker(request: Request, err: WorkflowUpdateRPCTimeoutOrCancelledError) -> Response:
    """Only reads get here (commands settle their outcome first): nothing was changed."""
    log.warning("no worker answered in time on %s: %s", _where(request), err)
    return _answer(503, "no worker answered in time; nothing was changed: retry")


async def _temporal_down(request: Request, err: RPCError) -> Response:
    log.error("temporal error on %s", _where(request), exc_info=err)
    return _answer(503, "temporal is unavailable")


async def unexpected(request: Request, err: Exception) -> Response:
    """Anything not foreseen, a bad SQL statement included: logged in full, answered blank."""
    log.error("unexpected error on %s", _where(request), exc_info=err)
    return _answer(500, "internal server error")


def _where(request: Request) -> str:
    return f"{request.method} {request.url.path}"


async def _http_error(request: Request, err: HTTPException) -> Response:
    if err.status_code == 405:
        # The router names only the methods of the first route on the path (POST for
        # /api/v1/tickets, where GET is allowed too): name those of every route there.
        allow = ", ".join(sorted(_methods_at(request)))
        err = HTTPException(405, err.detail, headers={**(err.headers or {}), "Allow": allow})
    return await http_exception_handler(request, err)


def _methods_at(request: Request) -> set[str]:
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= route.methods or set()
    return methods


Handler = Callable[[Request, Any], Awaitable[Response]]
# The most specific class wins (as in Starlette): IntegrityError is a DBAPIError.
HANDLERS: dict[type[Exception], Handler] = {
    NotFound: _not_found,
    Conflict: _conflict,
    Unauthorized: _unauthorized,
    Forbidden: _forbidden,
    Unavailable: _unavailable,
    NotApplied: _not_applied,
    Refused: _refused,
    Rejected: _rejected,
    BodyTooLarge: _too_large,
    BlobTooLarge: _too_large,
    IntegrityError: _integrity,
    PoolTimeout: _database_busy,
    OperationalError: _database_down,
    InterfaceError: _database_down,
    DBAPIError: unexpected,  # a statement the database refused: a bug, not an outage
    WorkflowUpdateRPCTimeoutOrCancelledError: _no_worker,
    RPCError: _temporal_down,
    HTTPException: _http_error,
}


async def error_answer(request: Request, err: Exception) -> Response:
    """The answer to `err` outside FastAPI's exception handling (in a middleware)."""
    for cls in type(err).__mro__:
        handler = HANDLERS.get(cls)
        if handler is not None:
            return await handler(request, err)
    return await unexpected(request, err)


def install_error_handlers(app: FastAPI, *, headers: Mapping[str, str]) -> None:
    """`headers` go on the answer to an unexpected error: Starlette sends that one from
    outside every middleware, where the headers of the other answers are added."""
    for cls, handler in HANDLERS.items():
        app.add_exception_handler(cls, handler)

    async def _last_resort(request: Request, err: Exception) -> Response:
        response = await unexpected(request, err)
        response.headers.update(headers)
        return response

    app.add_exception_handler(Exception, _last_resort)
