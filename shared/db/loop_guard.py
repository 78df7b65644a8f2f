"""A guard against database work on an event loop's thread, for tests and DATABASE_LOOP_GUARD.

Such work stalls every request of the process while it waits for a connection or the
database; with SQLite's few connections it could deadlock a service until the pool's timeout.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import Pool


class EventLoopBlocked(RuntimeError):
    """Database work asked for a connection on a thread that runs an event loop: while it
    waits, every request of the process waits (run it in a worker thread instead)."""


Listener = Callable[[Any, Any, Any], None]


def forbid_on_event_loop(
    target: Engine | type[Pool], *, unless: Callable[[], bool] | None = None
) -> Listener:
    """Refuse every checkout of `target`'s connections (an engine, or every pool: `Pool`) on a
    thread that runs an event loop, unless `unless()` says this one may (a test's own set-up).
    DATABASE_LOOP_GUARD and the test suite turn it on; the listener is returned, for
    `event.remove`."""

    def refuse(_dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread, or a program with no event loop
        if unless is not None and unless():
            return
        raise EventLoopBlocked(
            "a database connection was checked out on an event loop's thread: database work "
            "must run in a worker thread (shared.db.threads.in_thread)"
        )

    event.listen(target, "checkout", refuse)
    return refuse
