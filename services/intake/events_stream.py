"""`GET /api/v1/events/stream`: the change feed as server-sent events, live.

One `FeedWatch` per process reads what is new in the feed once, for every open stream: on
PostgreSQL when the database announces an insert into `ticket_events` (its NOTIFY, heard as
notify's loops hear it: services/notify/wakeups.py), on SQLite by looking every `poll_seconds`;
while no stream is open it does nothing. Each stream takes the events after its own cursor
from the watch's memory of recent events, and reads the database itself only to catch up from
further back (a Last-Event-ID of long ago). Every event carries its cursor as its id: a client
that reconnects with Last-Event-ID misses nothing and sees nothing twice.
"""

import asyncio
import bisect
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Receive, Scope, Send

from services.intake.auth import CurrentAgent
from services.intake.deps import SessionsDep
from services.intake.errors import ErrorBody, Refused, invalid
from services.intake.events import FeedEvent, parse_types
from services.notify.wakeups import EVENTS, Wakeups
from services.stream_stops import end_streams_on_signals
from shared.db.events import BadCursor, Cursor, end_cursor, read_page
from shared.db.tables import FeedEventRow
from shared.db.threads import in_thread
from shared.domain.events import EventType

log = logging.getLogger("ticketflow.intake.events_stream")

PAGE = 200  # events read at a time
KEEP = 2000  # recent events the watch keeps for the streams (up to twice as many)
POLL_SECONDS = 0.25  # SQLite: how often the feed is looked at while a stream is open
IDLE_LOOK_SECONDS = 5.0  # PostgreSQL: a look even without a NOTIFY (one may be missed)
FAILED_WAIT_SECONDS = 2.0  # after a look that failed (the database is down, say)
HEARTBEAT_SECONDS = 15.0
# A stream ends after this long and its client reconnects (an EventSource does so by itself,
# with Last-Event-ID): its credentials are checked again, so a revoked one stops receiving.
STREAM_SECONDS = 600.0
RETRY_MS = 1000  # how soon a client reconnects after a stream ends
EVENT_STREAM = "text/event-stream"


@dataclass(frozen=True)
class Served:
    """One feed event ready to send: its cursor, its type and the JSON the feed serves."""

    cursor: Cursor
    type: str
    json: str

    def frame(self) -> bytes:
        return f"id: {self.cursor.encode()}\nevent: {self.type}\ndata: {self.json}\n\n".encode()


def read_served(
    session: Session, after: Cursor, types: Collection[EventType] = (), limit: int = PAGE
) -> tuple[list[Served], Cursor]:
    """Up to `limit` events after `after`, each with its own cursor; and the cursor they
    reach (past the events `types` leaves out)."""
    page = read_page(session, after, limit, types)
    if not page.events:
        return [], page.cursor
    positions = {
        row.event_id: Cursor(row.txid, row.position)
        for row in session.execute(
            select(FeedEventRow.event_id, FeedEventRow.txid, FeedEventRow.position).where(
                FeedEventRow.event_id.in_([event["id"] for event in page.events])
            )
        )
    }
    served = [
        Served(positions[e["id"]], e["type"], FeedEvent.model_validate(e).model_dump_json())
        for e in page.events
    ]
    return served, page.cursor


def _end(sessions: sessionmaker[Session]) -> Cursor:
    with sessions() as session:
        return end_cursor(session)


class FeedWatch:
    """Reads new feed events once for all the streams of this process, while any is open."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        wakeups: Wakeups | None,
        *,
        poll_seconds: float = POLL_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        stream_seconds: float = STREAM_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._wakeups = wakeups
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.stream_seconds = stream_seconds
        self.closing = asyncio.Event()  # the server is stopping: every stream ends
        self._streams = 0
        self._wanted = asyncio.Event()  # set while a stream is open
        self._poke = asyncio.Event()  # the database announced new events
        self._task: asyncio.Task[None] | None = None
        self._unbridge: Callable[[], None] | None = None
        # Every event after `_from` up to `head`, oldest first (`_cursors` alongside, to bisect).
        self._from = Cursor()
        self.head = Cursor()
        self._recent: list[Served] = []
        self._cursors: list[Cursor] = []
        self._grown = asyncio.Event()  # set, and replaced, whenever `head` moves on

    @property
    def streams(self) -> int:
        return self._streams

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="feed-watch")

    async def stop(self) -> None:
        self.closing.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._unbridge is not None:
            await in_thread(self._unbridge)

    def open_stream(self) -> None:
        self._streams += 1
        self._wanted.set()
        self._poke.set()  # a new stream may wait on a look: not until the next one is due

    def close_stream(self) -> None:
        self._streams -= 1
        if self._streams == 0:
            self._wanted.clear()

    def signal(self) -> asyncio.Event:
        """Set once the feed grows past what the watch holds now."""
        return self._grown

    def recent_after(
        self, cursor: Cursor, types: Collection[str]
    ) -> tuple[list[Served], Cursor] | None:
        """The events after `cursor` the watch holds (of `types`, if any), and the cursor they
        reach; None if its memory does not reach back to `cursor`."""
        if cursor < self._from:
            return None
        events = self._recent[bisect.bisect_right(self._cursors, cursor) :]
        return [e for e in events if not types or e.type in types], max(cursor, self.head)

    async def _run(self) -> None:
        while True:
            if not self._wanted.is_set():
                await self._wanted.wait()
                await self._resync()
            try:
                await self._look()
            except Exception:  # the database may be down: the streams wait, we look again
                log.exception("reading the change feed for its streams failed")
                await asyncio.sleep(FAILED_WAIT_SECONDS)
            await self._wait()

    async def _resync(self) -> None:
        """After a time without streams: hold nothing, from the feed's end on (a stream from
        before it reads the database)."""
        if self._wakeups is not None and self._unbridge is None:
            self._unbridge = self._bridge(self._wakeups)
        end = await in_thread(_end, self._sessions)
        self._recent, self._cursors = [], []
        self._from = self.head = max(end, self.head)

    async def _look(self) -> None:
        while True:
            head = self.head
            events, reached = await in_thread(_read_for_stream, self._sessions, head, [])
            if reached == head:
                return
            self._recent.extend(events)
            self._cursors.extend(e.cursor for e in events)
            if len(self._recent) > 2 * KEEP:
                cut = len(self._recent) - KEEP
                self._from = self._cursors[cut - 1]
                del self._recent[:cut], self._cursors[:cut]
            self.head = reached
            self._grown.set()
            self._grown = asyncio.Event()
            if len(events) < PAGE:
                return

    async def _wait(self) -> None:
        wait = self.poll_seconds if self._wakeups is None else IDLE_LOOK_SECONDS
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._poke.wait()
        self._poke.clear()

    def _bridge(self, wakeups: Wakeups) -> Callable[[], None]:
        """PostgreSQL: the listener's thread sets a threading.Event; this thread passes it on
        to the loop. Answers the undo (which blocks: call it in a thread)."""
        loop, stop, announced = asyncio.get_running_loop(), threading.Event(), wakeups.event(EVENTS)
        wakeups.start()

        def bridge() -> None:
            while not stop.is_set():
                if announced.wait(1.0):
                    announced.clear()
                    loop.call_soon_threadsafe(self._poke.set)

        thread = threading.Thread(target=bridge, name="feed-watch-wakeups", daemon=True)
        thread.start()

        def undo() -> None:
            stop.set()
            announced.set()  # the bridge waits no longer
            wakeups.stop()
            thread.join(timeout=5)

        return undo


@contextlib.asynccontextmanager
async def watching(app: FastAPI) -> AsyncIterator[None]:
    """The router's lifespan (inside the app's, whose engine it uses): the process's watch."""
    engine = app.state.engine
    wakeups = Wakeups(engine) if engine.dialect.name == "postgresql" else None
    watch = FeedWatch(app.state.sessions, wakeups)
    app.state.feed_watch = watch
    watch.start()
    undo = end_streams_on_signals(watch.closing)
    try:
        yield
    finally:
        undo()
        await watch.stop()


router = APIRouter(prefix="/api/v1/events", tags=["events"], lifespan=watching)


class FeedHead(BaseModel):
    cursor: str = Field(
        description="The feed's position now: a stream opened after it (`after`, or "
        "Last-Event-ID) misses nothing committed from here on."
    )


@router.get("/head")
async def head(_: CurrentAgent, sessions: SessionsDep) -> FeedHead:
    """Where the feed is now: for a client that reads some state and then follows the stream
    from just before it read (the agent console's queues)."""
    return FeedHead(cursor=(await in_thread(_end, sessions)).encode())


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events, one per feed event: `id` its cursor, `event` "
            "its type, `data` the event as `GET /api/v1/events` serves it. A comment every "
            f"{HEARTBEAT_SECONDS:.0f} s while nothing happens; the stream ends after "
            f"{STREAM_SECONDS / 60:.0f} minutes and the client resumes with Last-Event-ID.",
            "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
        },
        406: {
            "model": ErrorBody,
            "description": f"The request's Accept header does not name {EVENT_STREAM}",
        },
    },
)
async def stream(
    request: Request,
    _: CurrentAgent,
    sessions: SessionsDep,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="The id of the last event received: the stream goes on after it.",
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(max_length=64, description="A cursor to start after, when no Last-Event-ID."),
    ] = None,
    types: Annotated[
        str | None, Query(max_length=1000, description="Comma-separated event types.")
    ] = None,
) -> StreamingResponse:
    """The change feed live, for agents and keys that read tickets: the events after
    Last-Event-ID (else `after`, else from now on), as they commit. Answered only to a client
    that accepts text/event-stream (an EventSource always does): any other GET would never
    end."""
    start = _cursor(last_event_id, "header", "Last-Event-ID") or _cursor(after, "query", "after")
    try:
        wanted = parse_types(types)
    except ValueError as err:
        raise invalid("query", "types", str(err), input=types) from err
    if EVENT_STREAM not in request.headers.get("accept", ""):
        raise Refused(406, f"this is a stream of server-sent events: send Accept: {EVENT_STREAM}")
    watch: FeedWatch = request.app.state.feed_watch
    if start is None:
        start = await in_thread(_end, sessions)
    return EventStream(_frames(watch, sessions, start, wanted), watch)


def _cursor(text: str | None, where: str, name: str) -> Cursor | None:
    # Answered in FastAPI's 422 shape, as the document declares for this operation.
    if not text:
        return None
    try:
        return Cursor.decode(text)
    except BadCursor as err:
        raise invalid(where, name, str(err), input=text) from err


async def _frames(
    watch: FeedWatch, sessions: sessionmaker[Session], start: Cursor, types: list[EventType]
) -> AsyncIterator[bytes]:
    """Where the stream starts (so that a reconnect resumes there, even before any event),
    then the events after it as they come, and a comment while none do."""
    cursor, wanted = start, {t.value for t in types}
    yield f"retry: {RETRY_MS}\nid: {cursor.encode()}\n\n".encode()
    loop = asyncio.get_running_loop()
    ends = loop.time() + watch.stream_seconds
    while not watch.closing.is_set() and loop.time() < ends:
        grown = watch.signal()  # before the look: what commits after it sets this
        found = watch.recent_after(cursor, wanted)
        if found is None:
            found = await in_thread(_read_for_stream, sessions, cursor, types)
        events, reached = found
        if events:
            yield b"".join(event.frame() for event in events)
        if reached != cursor:
            cursor = reached
            continue
        waited = min(watch.heartbeat_seconds, max(ends - loop.time(), 0.0))
        if not await _set_within(grown, watch.closing, waited):
            # Nothing new: a comment keeps proxies from closing the connection, and the id
            # moves the client past the events its `types` left out.
            yield f": keep-alive\nid: {cursor.encode()}\n\n".encode()


def _read_for_stream(
    sessions: sessionmaker[Session], after: Cursor, types: list[EventType]
) -> tuple[list[Served], Cursor]:
    with sessions() as session:
        return read_served(session, after, types)


async def _set_within(event: asyncio.Event, closing: asyncio.Event, seconds: float) -> bool:
    """Whether `event` (or `closing`) is set within `seconds`."""
    waits = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(closing.wait())}
    try:
        done, _ = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    return bool(done)


class EventStream(StreamingResponse):
    """The stream's answer: its frames until the client goes (watched for whatever the
    server's ASGI version, so an idle stream ends at once) or the stream ends; the watch
    counts it while it lasts."""

    media_type = EVENT_STREAM

    def __init__(self, frames: AsyncIterator[bytes], watch: FeedWatch) -> None:
        super().__init__(frames, headers={"X-Accel-Buffering": "no"})
        self._frames = frames
        self._watch = watch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._watch.open_stream()
        streaming = asyncio.ensure_future(self.stream_response(send))
        listening = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait({streaming, listening}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streaming, listening):
                task.cancel()
            results = await asyncio.gather(streaming, listening, return_exceptions=True)
            await _close(self._frames)
            self._watch.close_stream()
        failure = results[0]
        if isinstance(failure, Exception) and not isinstance(failure, OSError):
            raise failure


async def _close(frames: AsyncIterator[bytes]) -> None:
    aclose = getattr(frames, "aclose", None)
    if aclose is not None:
        await aclose()
