"""The change feed on real databases: every published event once, in one total order that
a cursor resumes, with PostgreSQL transactions committing out of order."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.workflows.activities import TicketActivities
from shared.db import thread
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.events import BadCursor, Cursor, Page, append_events, read_page
from shared.domain import lifecycle
from shared.domain.enums import Action, ActorKind
from shared.domain.events import EventType
from shared.domain.models import Actor, PublishBatch, TicketCommand, TicketState
from tests.builders import new_input, ref

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
JANE = Actor(kind=ActorKind.AGENT, name="Jane", handle="jane")


def publish(acts: TicketActivities, state: TicketState) -> None:
    """As the workflow does: publish, then keep only what is not yet published."""
    acts.publish_ticket(PublishBatch(state=state, notices=[]))
    state.timeline, state.thread = [], []


def settled(session: Session, after: Cursor, count: int, **filters: Any) -> Page:
    """A page of at least `count` events: on PostgreSQL, a write transaction anywhere on the
    server (another test's database being created, say) holds new events back until it ends."""
    deadline = time.monotonic() + 15
    while len((page := read_page(session, after, limit=100, **filters)).events) < count:
        assert time.monotonic() < deadline, f"{len(page.events)} of {count} events"
        session.rollback()
        time.sleep(0.1)
    return page


def command(action: Action, n: int, **fields: object) -> TicketCommand:
    return TicketCommand(command_id=f"c{n}", action=action, actor=JANE, **fields)


def test_a_ticket_s_events_come_once_in_order_with_their_messages(database_url: str) -> None:
    acts = TicketActivities(make_sessionmaker(make_engine(database_url)))
    state, _ = lifecycle.open_ticket(new_input(number="515151"), T0)
    publish(acts, state)
    with acts._sessions() as session, session.begin():
        reply = thread.store_message(session, "515151", "r1", "We are on it", T0)
    steps = [
        command(Action.ASSIGN, 1, agent="jane"),
        command(Action.RESPOND, 2, message=reply),
        command(Action.NOTE, 3, message=ref("internal: db failover")),
        command(Action.RESOLVE, 4),
    ]
    for i, cmd in enumerate(steps, start=1):
        lifecycle.apply(state, cmd, T0 + timedelta(minutes=i))
        publish(acts, state)
    publish(acts, state)  # a retried publish adds nothing

    with acts._sessions() as session:
        settled(session, Cursor(), 6)
        first = read_page(session, Cursor(), limit=3)
        rest = read_page(session, first.cursor, limit=100)
        again = read_page(session, rest.cursor, limit=100)
        notes = read_page(session, Cursor(), limit=100, types=[EventType.NOTED])
    events = first.events + rest.events
    assert [e["type"] for e in events] == [
        "ticket.created",
        "ticket.assigned",  # on creation, by its help topic
        "ticket.assigned",
        "ticket.responded",
        "ticket.noted",
        "ticket.resolved",
    ]
    assert [e["id"] for e in events] == [f"515151-{seq}" for seq in range(1, 7)]
    assert len({e["id"] for e in events}) == 6
    assert again.events == [] and again.cursor == rest.cursor
    assert events[3]["message"]["body"] == "We are on it"
    assert events[4]["internal"] is True and notes.events == [events[4]]
    assert events[-1]["snapshot"]["status"] == "resolved"
    assert Cursor.decode(rest.cursor.encode()) == rest.cursor


@pytest.mark.parametrize(
    "text_", ["", "x", "bm90LWEtY3Vyc29y", "LTEuMw", "OTk5OTk5OTk5OTk5OTk5OTk5OTkuMQ"]
)
def test_a_foreign_cursor_is_refused(text_: str) -> None:
    with pytest.raises(BadCursor):
        Cursor.decode(text_)


def test_a_transaction_committing_late_never_lands_behind_a_served_cursor(
    postgres_url: str,
) -> None:
    """Two publishers: A takes its transaction id first and writes its event last."""
    sessions = make_sessionmaker(make_engine(postgres_url))
    a_state, _ = lifecycle.open_ticket(new_input(number="616161"), T0)
    b_state, _ = lifecycle.open_ticket(new_input(number="626262"), T0)
    with sessions() as a, sessions() as b, sessions() as reader:
        a.execute(text("SELECT txid_current()"))
        b.execute(text("SELECT txid_current()"))
        append_events(b, b_state)
        b.commit()
        append_events(a, a_state)  # a higher position than B's, under an older transaction id
        a.flush()
        seen = read_page(reader, Cursor(), limit=100)
        reader.rollback()
        assert seen.events == []  # B waits behind A, which may still commit
        a.commit()
        served = settled(reader, seen.cursor, 2)
        tickets = [e["ticket"] for e in served.events]
        assert tickets == sorted(tickets) and set(tickets) == {"616161", "626262"}
        reader.rollback()
        assert read_page(reader, served.cursor, limit=100).events == []
