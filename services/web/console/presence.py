"""Who else has a ticket open in the console, and who is writing on it, shown live.

A registry in this web process: each open ticket page holds a stream of server-sent events
(`GET /agent/tickets/{n}/presence`), which marks its agent as viewing for as long as it is
open, and posts a typing heartbeat while its agent writes. Every change is pushed to the other
pages of that ticket at once. It is per web process: agents whose browsers reach another web
process are not seen (the registry is memory, not shared).

The stream also carries the newest version a command sent through this process left the
ticket at, so a page can say that the ticket changed under it before its agent sends."""

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.web.console.agent import AgentDep
from services.web.forms import text
from services.web.security import PostedForm

router = APIRouter(prefix="/agent/tickets")
Number = Annotated[str, Path(pattern=r"^[1-9][0-9]{5,15}$")]
# A page's own id for itself: one agent may have the ticket open in several tabs.
TAB = r"^[A-Za-z0-9_-]{8,40}$"
Tab = Annotated[str, Query(pattern=TAB)]
KINDS = ("reply", "note")
HEARTBEAT = 15.0  # seconds between a stream's keep-alives (and its refresh of its mark)
VIEW_TTL = 3 * HEARTBEAT  # a mark whose stream went silently away lapses after this
TYPING_TTL = 20.0  # the page sends a heartbeat at most every 5 s while its agent types
LEAVE_GRACE = 4.0  # a page reloading (after a send, say) does not blink out and in
STREAM_SECONDS = 300.0  # then the browser reconnects on its own (EventSource), within 2 s
RETRY_MS = 2000
MAX_TABS = 100  # marks per ticket: a page that floods tab ids gains nothing past this


@dataclass
class Mark:
    handle: str
    name: str
    seen_until: float
    typing: str | None = None  # reply | note
    typing_until: float = 0.0


@dataclass(frozen=True)
class Watcher:
    """Another agent on the ticket: viewing, and writing a reply or a note (or not)."""

    handle: str
    name: str
    typing: str | None


@dataclass(frozen=True)
class Change:
    version: int
    by: str


@dataclass
class _Room:
    marks: dict[str, Mark] = field(default_factory=dict)  # by tab
    listeners: set[asyncio.Event] = field(default_factory=set)
    change: Change | None = None


class Presence:
    """The registry; `clock` is monotonic seconds (tests pass their own)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        stream_seconds: float = STREAM_SECONDS,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self.now = clock
        self.stream_seconds = stream_seconds
        self.heartbeat = heartbeat
        self._rooms: dict[str, _Room] = {}
        self._swept = clock()

    def viewing(self, number: str, tab: str, handle: str, name: str) -> None:
        """The page `tab` of `handle` has the ticket open (again: its mark is refreshed)."""
        mark = self._mark(number, tab, handle, name)
        if mark is not None:
            fresh = mark.seen_until <= self.now()
            mark.seen_until = max(mark.seen_until, self.now() + VIEW_TTL)
            if fresh:
                self._wake(number)

    def typing(self, number: str, tab: str, handle: str, name: str, kind: str | None) -> None:
        """`handle` writes a reply or a note on page `tab` (None: stopped writing)."""
        mark = self._mark(number, tab, handle, name)
        if mark is None:
            return
        now = self.now()
        before = mark.typing if mark.typing_until > now else None
        mark.seen_until = max(mark.seen_until, now + TYPING_TTL)
        mark.typing, mark.typing_until = kind, (now + TYPING_TTL if kind else 0.0)
        if kind != before:
            self._wake(number)

    def leave(self, number: str, tab: str, handle: str) -> None:
        """The page `tab` closed: it stops writing now, and stops viewing after a short grace
        (a reload comes back within it under a new tab id)."""
        room = self._rooms.get(number)
        mark = room.marks.get(tab) if room else None
        if mark is None or mark.handle != handle:
            return
        mark.seen_until = min(mark.seen_until, self.now() + LEAVE_GRACE)
        if mark.typing is not None:
            mark.typing, mark.typing_until = None, 0.0
            self._wake(number)
        self._forget_if_empty(number)

    def others(self, number: str, handle: str) -> tuple[Watcher, ...]:
        """The agents other than `handle` on the ticket now, one line per agent, by name."""
        room = self._rooms.get(number)
        if room is None:
            return ()
        now = self.now()
        agents: dict[str, Watcher] = {}
        for mark in room.marks.values():
            if mark.handle == handle or mark.seen_until <= now:
                continue
            typing = mark.typing if mark.typing_until > now else None
            held = agents.get(mark.handle)
            agents[mark.handle] = Watcher(
                mark.handle, mark.name, typing or (held.typing if held else None)
            )
        return tuple(sorted(agents.values(), key=lambda w: (w.name, w.handle)))

    def changed(self, number: str, version: int, by: str) -> None:
        """A command through this process left the ticket at `version` (`by`: who sent it)."""
        room = self._rooms.get(number)
        if room is None or (room.change is not None and room.change.version >= version):
            return
        room.change = Change(version, by)
        self._wake(number)

    def last_change(self, number: str) -> Change | None:
        room = self._rooms.get(number)
        return room.change if room else None

    def next_expiry(self, number: str) -> float | None:
        """When a mark of the ticket next lapses (then the pages must hear of it)."""
        room = self._rooms.get(number)
        now = self.now()
        times = [
            moment
            for mark in (room.marks.values() if room else ())
            for moment in (mark.seen_until, mark.typing_until)
            if moment > now
        ]
        return min(times, default=None)

    @contextmanager
    def listening(self, number: str) -> Iterator[asyncio.Event]:
        """An event set whenever what the ticket's pages should show changes."""
        self._sweep()
        room = self._rooms.setdefault(number, _Room())
        wake = asyncio.Event()
        room.listeners.add(wake)
        try:
            yield wake
        finally:
            room.listeners.discard(wake)
            self._forget_if_empty(number)

    def _mark(self, number: str, tab: str, handle: str, name: str) -> Mark | None:
        room = self._rooms.setdefault(number, _Room())
        now = self.now()
        for lapsed in [t for t, m in room.marks.items() if m.seen_until <= now]:
            del room.marks[lapsed]
        mark = room.marks.get(tab)
        if mark is None:
            if len(room.marks) >= MAX_TABS:
                return None
            mark = room.marks[tab] = Mark(handle, name, seen_until=0.0)
        return mark if mark.handle == handle else None

    def _sweep(self) -> None:
        """Forget the tickets nobody has open any more (at most once a heartbeat)."""
        if self.now() - self._swept < self.heartbeat:
            return
        self._swept = self.now()
        for number in list(self._rooms):
            self._forget_if_empty(number)

    def _wake(self, number: str) -> None:
        for wake in self._rooms[number].listeners:
            wake.set()

    def _forget_if_empty(self, number: str) -> None:
        room = self._rooms.get(number)
        now = self.now()
        if room and not room.listeners and all(m.seen_until <= now for m in room.marks.values()):
            del self._rooms[number]


def presence_of(request: Request) -> Presence:
    """The app's registry, made on first use."""
    state = request.app.state
    if not hasattr(state, "presence"):
        state.presence = Presence()
    registry: Presence = state.presence
    return registry


def _event(kind: str, data: object) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def events(
    presence: Presence, number: str, tab: str, handle: str, name: str
) -> AsyncIterator[str]:
    """The stream of one page: who else is here (on every change), the ticket's newest
    version known here, keep-alives; it marks the page viewing while it runs."""
    with presence.listening(number) as wake:
        presence.viewing(number, tab, handle, name)
        try:
            yield f"retry: {RETRY_MS}\n\n"
            shown: tuple[Watcher, ...] | None = None
            told: Change | None = None
            end = presence.now() + presence.stream_seconds
            while True:
                wake.clear()
                watchers = presence.others(number, handle)
                if watchers != shown:
                    people = [
                        {"name": w.name, "handle": w.handle, "typing": w.typing} for w in watchers
                    ]
                    yield _event("presence", {"others": people})
                    shown = watchers
                change = presence.last_change(number)
                if change is not None and change != told:
                    yield _event("ticket", {"version": change.version, "by": change.by})
                    told = change
                now = presence.now()
                if now >= end:
                    return
                expiry = presence.next_expiry(number)
                wait = min(presence.heartbeat, end - now, (expiry or now + 3600) - now + 0.05)
                try:
                    await asyncio.wait_for(wake.wait(), timeout=max(wait, 0.05))
                except TimeoutError:
                    yield ": keep-alive\n\n"
                presence.viewing(number, tab, handle, name)
        finally:
            presence.leave(number, tab, handle)


@router.get("/{number}/presence", response_model=None)
async def presence_stream(
    request: Request, number: Number, tab: Tab, agent: AgentDep
) -> StreamingResponse:
    """Server-sent events for one open ticket page (its agent signed in, checked once)."""
    stream = events(presence_of(request), number, tab, agent.handle, agent.name)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/{number}/presence", status_code=204, response_model=None)
async def report_presence(
    request: Request, number: Number, form: PostedForm, agent: AgentDep
) -> Response:
    """A page's heartbeat: `state` typing (with `kind`), idle, or left; CSRF as every post."""
    await form.close()
    tab, state, kind = text(form, "tab"), text(form, "state"), text(form, "kind")
    presence = presence_of(request)
    if not re.fullmatch(TAB, tab) or state not in ("typing", "idle", "left"):
        return Response(status_code=422)
    if state == "left":
        presence.leave(number, tab, agent.handle)
    else:
        writing = (kind if kind in KINDS else "reply") if state == "typing" else None
        presence.typing(number, tab, agent.handle, agent.name, writing)
    return Response(status_code=204)
