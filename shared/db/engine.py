"""Engine and session factory for a database URL (SQLite file or PostgreSQL)."""

import time
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from shared.db.holders import Holders
from shared.db.loop_guard import forbid_on_event_loop
from shared.db.sqlite_writes import WriteQueue
from shared.settings import Settings

# A pooled connection idle this long is pinged before it is handed out (a server restarted
# or a firewall that dropped it meanwhile costs nobody an error). One in steady use is not:
# a ping on every checkout was a round trip on each of a command's three transactions.
PING_IDLE_AFTER_SECONDS = 2.0
# How long work waits for a pooled connection (or SQLite's turn to write) before the service
# answers 503: well within a client's patience, so an overload sheds work instead of queueing.
POOL_TIMEOUT_SECONDS = 5.0
SQLITE_POOL_SIZE = 8


def make_engine(
    url: str,
    *,
    ping_idle_after: float = PING_IDLE_AFTER_SECONDS,
    pool_timeout: float = POOL_TIMEOUT_SECONDS,
    sqlite_pool_size: int = SQLITE_POOL_SIZE,
) -> Engine:
    # A failed statement's error (logged, and sent to Temporal as an activity's failure) never
    # quotes its parameters: they hold requesters' names, addresses and messages.
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Readers share the pool, each on its own connection (WAL: they never wait for the
        # writer); writers take turns on the engine's write queue.
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=sqlite_pool_size,
            max_overflow=0,
            pool_timeout=pool_timeout,
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        WriteQueue(engine, timeout=pool_timeout)
    else:
        engine = create_engine(
            url, pool_size=10, max_overflow=20, pool_timeout=pool_timeout, hide_parameters=True
        )
        _ping_when_idle(engine, ping_idle_after)
    _HOLDERS[engine] = Holders(engine)
    return engine


def engine_for(settings: Settings) -> Engine:
    """A service's engine, as its settings shape it."""
    engine = make_engine(
        settings.database_url,
        pool_timeout=settings.database_pool_timeout_seconds,
        sqlite_pool_size=settings.sqlite_pool_size,
    )
    if settings.database_loop_guard:
        forbid_on_event_loop(engine)
    return engine


def holders(engine: Engine) -> str:
    """Who holds `engine`'s connections now (for the log of a pool timeout)."""
    found = _HOLDERS.get(engine)
    return found.describe() if found else "unknown"


_HOLDERS: "WeakKeyDictionary[Engine, Holders]" = WeakKeyDictionary()


def _ping_when_idle(engine: Engine, idle_after: float) -> None:
    """Pre-ping, but only connections that sat in the pool `idle_after` seconds or more.

    A connection that breaks while in steady use fails the statement that finds out; the
    dialect sees a disconnect and SQLAlchemy discards every pooled connection older than that
    moment, so only work already under way sees the error (the publish activity retries; the
    API answers 503 before it sent anything on)."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle_after:
            return  # new, or just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as err:
            if engine.dialect.is_disconnect(err, dbapi_connection, None):
                # The pool throws this connection away and checks out another (or a new one).
                raise DisconnectionError() from err
            raise


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the database; a power cut may lose the last commits
    # (a crash of the process loses nothing). Use PostgreSQL where that matters.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Zero what a delete or an update frees (in the page, and pages left free), so that an
    # erased requester's data (shared.db.scrub), and the older versions of a rewritten row,
    # leave no copy in the database file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
