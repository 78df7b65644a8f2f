"""Names each HTTP request's work (`GET /api/v1/tickets/100000`) for the database pool's
holders, so that a "no connection free in time" log says what held the connections."""

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.db.holders import working_on


class NameTheWork:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            working_on.set(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)
