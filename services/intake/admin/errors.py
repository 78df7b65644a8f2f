"""Where reference-data errors become the intake service's HTTP errors."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError

from services.tickets.errors import Conflict
from shared.reference.service import (
    DuplicateHandle,
    InvalidSchedule,
    TokenInUse,
    UnknownReference,
)


class ReferenceRoute(APIRoute):
    """A route whose handler may raise the errors of `shared.reference.service`:
    unknown record in the path -> 404, duplicate handle -> 409, unknown handle named in the
    body or a patch leaving a schedule invalid -> 422 (in FastAPI's validation-error shape, so
    clients parse one format)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def translated(request: Request) -> Response:
            try:
                return await handler(request)
            except (DuplicateHandle, TokenInUse) as err:
                raise Conflict(str(err)) from err
            except UnknownReference as err:
                error = {
                    "type": "unknown_reference",
                    "loc": ("body", err.field),
                    "msg": str(err),
                    "input": err.handle,
                }
                raise RequestValidationError([error]) from err
            except InvalidSchedule as err:
                errors = [{**e, "loc": ("body", *e["loc"])} for e in err.errors]
                raise RequestValidationError(errors) from err
            except IntegrityError as err:
                # Two admins writing the same record at once: the loser's commit fails.
                raise Conflict("a concurrent change conflicted with this one; retry") from err

        return translated
