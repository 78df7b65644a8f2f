"""Wake-ups for notify's loops. On PostgreSQL the database announces each committed insert into
`notifications` and `ticket_events` (a statement trigger's NOTIFY, migration e1a11e0c0a06);
one connection LISTENs and wakes the loop that waits on that channel, so a notification or a
feed event is picked up when it commits instead of at the loop's next look.

The loops still look every `IDLE_WAIT` on their own: a wake-up is a shortcut, never the only
way work is found. While this connection is down (the database restarted, say) nothing is
lost, only later; once it is back, every loop is woken once, for what committed meanwhile.
SQLite has no NOTIFY: there the loops only look.
"""

import logging
import os
import select
import threading
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("ticketflow.notify.wakeups")

NOTIFICATIONS = "ticketflow_notifications"
EVENTS = "ticketflow_events"
CHANNELS = frozenset({NOTIFICATIONS, EVENTS})

RECONNECT_WAIT = 1.0  # seconds between tries while the database cannot be reached
# A wake-up is passed on this long after its first announcement: the commits of a moment are
# taken in one look, and that look does not compete for the CPU with the end of the command
# that caused it (its answer is still on its way then).
GATHER_SECONDS = 0.02
CHECK_EVERY = 30.0  # seconds of silence after which the connection is tried with a query


class Wakeups:
    """One listening connection; `event(channel)` is the Event set when it is announced."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._events: dict[str, threading.Event] = {}
        self._stop = threading.Event()
        # Written to by `stop`: it wakes the listener's select at once (a self-pipe).
        self._stop_read, self._stop_write = os.pipe()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while LISTEN is in place

    @property
    def available(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    def event(self, channel: str) -> threading.Event:
        if channel not in CHANNELS:
            raise ValueError(f"no such channel: {channel}")
        return self._events.setdefault(channel, threading.Event())

    def start(self) -> None:
        if not self.available or not self._events:
            return
        self._thread = threading.Thread(target=self._run, name="notify-wakeups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        os.write(self._stop_write, b"x")
        if self._thread is not None:
            self._thread.join(timeout=10)
        os.close(self._stop_read)
        os.close(self._stop_write)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as err:  # the database is down or went away: poll, try again
                log.warning("not listening for wake-ups (%s); the loops look on their own", err)
            self.listening.clear()
            self._stop.wait(RECONNECT_WAIT)

    def _listen(self) -> None:
        dialect = self._engine.dialect
        cargs, cparams = dialect.create_connect_args(self._engine.url)
        conn: Any = dialect.loaded_dbapi.connect(*cargs, **cparams)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                for channel in sorted(self._events):
                    cursor.execute(f"LISTEN {channel}")
            self.listening.set()
            self._wake(set(self._events))  # what committed before LISTEN took effect
            quiet = 0.0
            while not self._stop.is_set():
                ready, _, _ = select.select([conn, self._stop_read], [], [], 0.5)
                if self._stop_read in ready:
                    return
                if not ready:
                    quiet += 0.5
                    if quiet >= CHECK_EVERY:  # a silent peer may be a dead one
                        quiet = 0.0
                        with conn.cursor() as cursor:
                            cursor.execute("SELECT 1")
                    continue
                quiet = 0.0
                self._stop.wait(GATHER_SECONDS)
                conn.poll()  # raises if the server closed the connection
                channels = {notice.channel for notice in conn.notifies}
                conn.notifies.clear()
                self._wake(channels)
        finally:
            conn.close()

    def _wake(self, channels: set[str]) -> None:
        for channel in channels:
            event = self._events.get(channel)
            if event is not None:
                event.set()
