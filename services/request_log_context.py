"""Names what an HTTP request is about in its log lines (shared/logs.py): the trace of a W3C
`traceparent` header, and the ticket its path names (/api/v1/tickets/100042/…, the portal's
/t/100042, the console's /agent/tickets/100042)."""

import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.logs import log_context

_TICKET_PATH = re.compile(r"/(?:tickets|t)/(\d{4,16})(?:/|$)")
# version-traceid-parentid-flags; an all-zero trace id is invalid.
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?!0{32})([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


class RequestLogContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ticket = _TICKET_PATH.search(scope["path"])
        trace = _TRACEPARENT.fullmatch(Headers(scope=scope).get("traceparent", "").strip())
        with log_context(
            ticket=ticket.group(1) if ticket else None,
            trace_id=trace.group(1) if trace else None,
        ):
            await self.app(scope, receive, send)
