"""Traces of the HTTP services (intake, notify, the portal), when tracing is on
(shared/tracing/process.py): each request a server span named by its route, a child of the
caller's span when the request has a W3C `traceparent` header; and the portal's calls of
intake's API carry its request's trace on. Query strings, client addresses and invite tokens
are stripped from the spans before they leave the process (shared/tracing/redaction.py)."""

import httpx
from fastapi import FastAPI

from shared.settings import Settings
from shared.tracing.process import PROPAGATOR, tracing_enabled

# Health checks, scrapes and the portal's static files: no span (regexes, searched in the URL).
UNTRACED = r"/healthz$,/metrics$,/static/"


def trace_requests(app: FastAPI, settings: Settings) -> None:
    if not tracing_enabled(settings):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # No spans of their own for each ASGI message a request sends or receives.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=UNTRACED, exclude_spans=["receive", "send"]
    )


async def send_trace_context(request: httpx.Request) -> None:
    """An httpx request hook: the current span (if any) as the request's `traceparent`."""
    PROPAGATOR.inject(request.headers)
