"""Errors of the notify service, and the one place they become HTTP answers."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.db.engine import holders

log = logging.getLogger("ticketflow.notify")


class DeliveryInProgress(Exception):
    """Another request holds a fresh attempt for this key."""


class DeliveryFailed(Exception):
    """The mail could not be handed over; the record is marked failed for a later retry."""


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DeliveryInProgress)
    async def _in_progress(_: Request, __: DeliveryInProgress) -> JSONResponse:
        return JSONResponse({"detail": "delivery in progress"}, status_code=409)

    @app.exception_handler(DeliveryFailed)
    async def _failed(_: Request, err: DeliveryFailed) -> JSONResponse:
        log.warning("delivery failed, caller will retry: %s", err)
        # The SMTP error stays in the record's last_error; callers only need to retry.
        return JSONResponse(
            {"detail": "delivery failed, retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(DBAPIError)
    async def _database_down(_: Request, err: DBAPIError) -> JSONResponse:
        # err.orig only: the full message carries the statement's parameters (mail bodies).
        log.error("database error: %s: %s", type(err.orig).__name__, err.orig)
        return JSONResponse({"detail": "database is unavailable"}, status_code=503)

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(request: Request, err: PoolTimeout) -> JSONResponse:
        engine = getattr(request.app.state, "engine", None)
        held = holders(engine) if engine is not None else "unknown"
        log.error("database pool exhausted: %s; held by: %s", err, held)
        return JSONResponse(
            {"detail": "database is busy, retry shortly"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
