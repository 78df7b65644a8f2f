"""Errors the intake service raises, and the one place they become HTTP answers."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError


class NotFound(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class Conflict(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unavailable(Exception):
    def __init__(self, dependency: str) -> None:
        super().__init__(dependency)
        self.dependency = dependency


class NotApplied(Exception):
    """No worker applied a command in time; it never will (its deadline passed)."""


class Refused(Exception):
    """The workflow or the API refused a request for a reason with its own status."""

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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def _not_found(_: Request, err: NotFound) -> JSONResponse:
        return JSONResponse({"detail": f"{err.what} not found"}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, err: Conflict) -> JSONResponse:
        return JSONResponse({"detail": err.reason}, status_code=409)

    @app.exception_handler(NotApplied)
    async def _not_applied(_: Request, __: NotApplied) -> JSONResponse:
        return JSONResponse(
            {
                "detail": "no worker applied the command in time; it was not applied and "
                "never will be: retry it",
                "applied": False,
            },
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Refused)
    async def _refused(_: Request, err: Refused) -> JSONResponse:
        return JSONResponse({"detail": err.reason}, status_code=err.status_code)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, __: Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"detail": "missing or invalid credentials"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, err: Forbidden) -> JSONResponse:
        return JSONResponse({"detail": err.reason}, status_code=403)

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, err: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": f"{err.dependency} is unavailable"}, status_code=503)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, __: IntegrityError) -> JSONResponse:
        return JSONResponse({"detail": "conflicting concurrent write"}, status_code=409)

    @app.exception_handler(PoolTimeout)
    async def _database_busy(_: Request, __: PoolTimeout) -> JSONResponse:
        return JSONResponse({"detail": "database is busy, retry shortly"}, status_code=503)

    @app.exception_handler(DBAPIError)
    async def _database_down(_: Request, __: DBAPIError) -> JSONResponse:
        return JSONResponse({"detail": "database is unavailable"}, status_code=503)

    @app.exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError)
    async def _no_worker(_: Request, __: WorkflowUpdateRPCTimeoutOrCancelledError) -> JSONResponse:
        return JSONResponse(
            {
                "detail": "no worker answered in time; the command was not applied and "
                "will not be: retry it"
            },
            status_code=503,
        )

    @app.exception_handler(RPCError)
    async def _temporal_down(_: Request, __: RPCError) -> JSONResponse:
        return JSONResponse({"detail": "temporal is unavailable"}, status_code=503)
