"""The one place where notify's errors become HTTP answers: its database down or busy."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.db.engine import holders

log = logging.getLogger("ticketflow.notify")


def install_error_handlers(app: FastAPI) -> None:
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
