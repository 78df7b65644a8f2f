"""SQLite's one writer, queued in the process instead of racing for the file lock.

In WAL mode readers never wait for the writer, so a service keeps several connections and
reads on all of them at once. Writers take turns: the driver begins a transaction just
before the first INSERT, UPDATE or DELETE, and that statement first takes this lock, held
until the transaction ends. Threads then wait their turn on the lock, woken as soon as it is
free, where threads racing for the file lock sleep in SQLite's busy handler (up to 100 ms a
try) and arrive late under a burst. Another process (the worker) still meets the file lock.
"""

import threading
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry

_WRITES = ("insert", "update", "delete", "replace")
_HOLDS = "holds_write_lock"


class WriteQueue:
    """The lock an engine's writers take turns on; `timeout` seconds of waiting is a
    PoolTimeout (the services answer 503, as when no connection is free)."""

    def __init__(self, engine: Engine, timeout: float) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)
        # A connection returned mid-transaction (its work failed): the pool rolls it back.
        event.listen(engine, "checkin", self._returned)

    def _before_execute(
        self,
        conn: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        info = conn.connection.info
        if info.get(_HOLDS) or not statement.lstrip()[:7].lower().startswith(_WRITES):
            return
        if not self._lock.acquire(timeout=self._timeout):
            raise PoolTimeout(f"no turn to write to SQLite within {self._timeout:g} s")
        info[_HOLDS] = True

    def _end(self, conn: Connection) -> None:
        self._release(conn.connection.info)

    def _returned(self, _dbapi: Any, record: ConnectionPoolEntry) -> None:
        self._release(record.info)

    def _release(self, info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS, False):
            self._lock.release()
