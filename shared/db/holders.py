"""Who holds a service's pooled connections: what a "no connection free in time" log names.

Entry points name the work under way (`working_on`: an HTTP route, a mail delivery); the
pool's checkout records it beside the connection, and checkin forgets it.
"""

import threading
import time
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import ConnectionPoolEntry

# What the current request or job is, as logs should name it ("GET /api/v1/tickets/{number}").
working_on: ContextVar[str] = ContextVar("working_on", default="")


class Holders:
    """The connections of one engine that are checked out now, with who took them and when."""

    def __init__(self, engine: Engine) -> None:
        self._held: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()
        event.listen(engine, "checkout", self._checkout)
        event.listen(engine, "checkin", self._checkin)

    def _checkout(self, _dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        who = working_on.get() or threading.current_thread().name
        with self._lock:
            self._held[id(record)] = (who, time.monotonic())

    def _checkin(self, _dbapi: Any, record: ConnectionPoolEntry) -> None:
        with self._lock:
            self._held.pop(id(record), None)

    def describe(self) -> str:
        """`"GET /api/v1/tickets (for 4.2 s), publish (for 0.1 s)"`, longest held first."""
        now = time.monotonic()
        with self._lock:
            held = sorted(self._held.values(), key=lambda item: item[1])
        if not held:
            return "none held"
        return ", ".join(f"{who} (for {now - since:.1f} s)" for who, since in held)
