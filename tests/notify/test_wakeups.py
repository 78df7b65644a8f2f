"""notify's wake-ups on real PostgreSQL: a committed insert into the outbox or the feed wakes
the loop of its channel (never a rolled-back one); the listener comes back after its
connection is killed; SQLite has none, and the loops look on their own there."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from services.notify.wakeups import EVENTS, NOTIFICATIONS, Wakeups
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import FeedEventRow, NotificationRow
from shared.db.writes import insert_new
from tests.databases import sqlite_database

NOW = datetime(2026, 11, 24, 2, tzinfo=UTC)


@pytest.fixture
def wakeups(postgres_url: str) -> Iterator[tuple[Wakeups, Engine]]:
    engine = make_engine(postgres_url)
    listener = Wakeups(engine)
    listener.event(NOTIFICATIONS)
    listener.event(EVENTS)
    listener.start()
    assert listener.listening.wait(10)
    yield listener, engine
    listener.stop()
    assert listener._thread is not None and not listener._thread.is_alive()
    engine.dispose()


def _notification(key: str) -> dict[str, object]:
    return {
        "idempotency_key": key,
        "ticket": "100001",
        "kind": "ticket_received",
        "recipient_name": "Alice",
        "recipient_email": "alice@example.com",
        "channel": "email",
        "subject": "s",
        "body": "b",
        "status": "queued",
        "attempts": 0,
        "created_at": NOW,
    }


def _event(seq: int) -> dict[str, object]:
    return {
        "event_id": f"100001-{seq}-{time.monotonic_ns()}",
        "ticket": "100001",
        "seq": seq,
        "type": "ticket.noted",
        "internal": True,
        "at": NOW,
        "payload": {},
        "txid": 0,
    }


def _settle(listener: Wakeups) -> None:
    """Let the wake-up for what came before pass, then start clean."""
    time.sleep(0.3)
    for channel in (NOTIFICATIONS, EVENTS):
        listener.event(channel).clear()


def test_a_committed_insert_wakes_its_channel_and_a_rolled_back_one_does_not(
    wakeups: tuple[Wakeups, Engine],
) -> None:
    listener, engine = wakeups
    sessions = make_sessionmaker(engine)
    outbox, feed = listener.event(NOTIFICATIONS), listener.event(EVENTS)
    _settle(listener)
    with sessions() as session:
        insert_new(session, FeedEventRow, [_event(1)])
        session.rollback()
    assert not feed.wait(0.5)
    with sessions.begin() as session:
        insert_new(session, NotificationRow, [_notification(f"k-{time.monotonic_ns()}")])
    assert outbox.wait(2)
    assert not feed.is_set()
    with sessions.begin() as session:
        insert_new(session, FeedEventRow, [_event(2), _event(3)])
    assert feed.wait(2)


def test_the_listener_comes_back_when_its_connection_is_killed(
    wakeups: tuple[Wakeups, Engine],
) -> None:
    listener, engine = wakeups
    _settle(listener)
    with engine.begin() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        ).scalar_one()
    assert killed == 1
    deadline = time.monotonic() + 10
    while listener.listening.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.listening.wait(10)  # listening again
    # Woken once on its return, for whatever committed while it was away.
    assert listener.event(NOTIFICATIONS).wait(2) and listener.event(EVENTS).wait(2)
    _settle(listener)
    with make_sessionmaker(engine).begin() as session:
        insert_new(session, NotificationRow, [_notification(f"k-{time.monotonic_ns()}")])
    assert listener.event(NOTIFICATIONS).wait(2)


def test_sqlite_has_no_listener(tmp_path: Path) -> None:
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        listener = Wakeups(engine)
        listener.event(NOTIFICATIONS)
        listener.start()
        assert not listener.available and listener._thread is None
        listener.stop()
        engine.dispose()
