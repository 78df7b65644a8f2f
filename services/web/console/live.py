"""`/agent/live`: the change feed for the signed-in agent, as server-sent events the console's
pages follow (htmx's sse extension). Each browser connection relays one stream of intake's
(`GET /api/v1/events/stream`) opened with the agent's own credential: an idle one costs a
socket and a task on each side, and intake reads the feed once for all of them.

Only what a page needs to decide whether to fetch its rows again goes to the browser: the
ticket, the event's type and the ticket's routing fields (never a message's text). Ids pass
through unchanged, so a browser that reconnects with Last-Event-ID resumes where it was."""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import httpx
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.stream_stops import end_streams_on_signals
from services.web.api import ApiError
from services.web.console.agent import NotSignedIn, signed_in
from services.web.deps import ApiDep
from shared.settings import Settings

log = logging.getLogger("ticketflow.web.live")

STREAM = "/api/v1/events/stream"
# Intake sends a comment every 15 s: this long without a byte means it is gone (the browser
# reconnects, and resumes).
READ_TIMEOUT = 45.0
# The snapshot fields a page matches a change against.
ROUTING = ("status", "priority", "assignee", "team", "department", "help_topic", "overdue")


class Relays:
    """The app's client for the streams (no limit on open connections: each waits), and the
    event that ends every relay when the server stops."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.closing = asyncio.Event()
        self.open = 0


@contextlib.asynccontextmanager
async def relaying(app: FastAPI) -> AsyncIterator[None]:
    """The router's lifespan: the streams' own client, apart from the pages' (whose pool a
    few hundred open streams would take)."""
    settings: Settings = app.state.settings
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=settings.intake_api_url, timeout=timeout, limits=limits
    ) as client:
        relays = Relays(client)
        app.state.live = relays
        undo = end_streams_on_signals(relays.closing)
        try:
            yield
        finally:
            undo()
            relays.closing.set()


router = APIRouter(prefix="/agent", lifespan=relaying)
EVENT_STREAM = "text/event-stream"


@router.get("/live", response_model=None)
async def live(
    request: Request,
    api: ApiDep,
    after: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = "",
) -> Response:
    """The signed-in agent's change feed from `after` (the page's start), or from the
    browser's Last-Event-ID when it reconnects. 204 when no one is signed in."""
    try:
        agent = await signed_in(request, api)
    except NotSignedIn:
        return Response(status_code=204)
    except ApiError:
        return Response(status_code=503, headers={"Retry-After": "5"})
    relays: Relays = request.app.state.live
    last = request.headers.get("Last-Event-ID", "")[:64] or after
    upstream = await _open(relays.client, agent.token, last)
    if upstream is not None and upstream.status_code == 422 and last:
        await upstream.aclose()  # a cursor intake does not know: from now on instead
        upstream = await _open(relays.client, agent.token, "")
    if upstream is None or upstream.status_code != 200:
        status = upstream.status_code if upstream is not None else 0
        if upstream is not None:
            await upstream.aclose()
        if status in (401, 403):
            return Response(status_code=204)
        return Response(status_code=503, headers={"Retry-After": "5"})
    return StreamingResponse(
        _relay(upstream, relays),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _open(client: httpx.AsyncClient, token: str, last: str) -> httpx.Response | None:
    headers = {"Authorization": f"Bearer {token}", "Accept": EVENT_STREAM}
    if last:
        headers["Last-Event-ID"] = last
    try:
        return await client.send(client.build_request("GET", STREAM, headers=headers), stream=True)
    except httpx.TransportError as err:
        log.warning("the change feed's stream could not be opened: %s", err)
        return None


async def _relay(upstream: httpx.Response, relays: Relays) -> AsyncIterator[bytes]:
    """Intake's frames as the browser gets them, until either side goes or the server stops."""
    relays.open += 1
    lines = upstream.aiter_lines()
    closing = asyncio.ensure_future(relays.closing.wait())
    reading: asyncio.Future[str] | None = None
    try:
        frame: dict[str, str] = {}
        while True:
            reading = asyncio.ensure_future(anext(lines))
            done, _ = await asyncio.wait({reading, closing}, return_when=asyncio.FIRST_COMPLETED)
            if reading not in done:
                return
            try:
                line = reading.result()
            except (StopAsyncIteration, httpx.HTTPError):
                return  # intake ended the stream, or went: the browser reconnects
            if line:
                name, _, value = line.partition(":")
                frame[name or "comment"] = value.removeprefix(" ")
                continue
            out = browser_frame(frame)
            frame = {}
            if out:
                yield out
    finally:
        closing.cancel()
        if reading is not None:
            reading.cancel()
        relays.open -= 1
        with anyio.CancelScope(shield=True):
            await upstream.aclose()


def browser_frame(frame: dict[str, str]) -> bytes:
    """One of intake's frames as the browser gets it: an event becomes a `ticket` event with
    the routing fields alone; ids, retry times and comments pass as they are."""
    parts = [f"{name}: {frame[name]}" for name in ("retry", "id") if name in frame]
    if "comment" in frame:
        parts.insert(0, ": keep-alive")
    if "data" in frame:
        try:
            event = json.loads(frame["data"])
            snapshot = event.get("snapshot", {})
            change = {"ticket": event["ticket"], "type": event["type"]}
            change |= {name: snapshot.get(name) for name in ROUTING}
        except (ValueError, KeyError, AttributeError):
            log.warning("a change feed event could not be read: %.200s", frame["data"])
        else:
            parts += ["event: ticket", f"data: {json.dumps(change, separators=(',', ':'))}"]
    return ("\n".join(parts) + "\n\n").encode() if parts else b""
