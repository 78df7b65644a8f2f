"""The inbound log on SQLite and PostgreSQL: one effect per Message-ID (duplicates recorded,
unfinished deliveries completed, concurrent ones claimed once) and the look-ups that place a
message."""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.db import mail_in
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.mail_in import Delivery
from shared.db.tables import AgentRow, InboundMailRow, NotificationRow
from shared.domain.enums import Role
from shared.domain.mail.addresses import dedupe_key
from shared.domain.mail.decision import AgentRef, Outcome
from shared.domain.mail.message import InboundMessage, parse
from tests.builders import mail

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def message(
    message_id: str = "<m1@client.test>", sender: str = "alice@example.com"
) -> InboundMessage:
    return parse(mail(sender=sender, message_id=message_id).as_bytes())


def record(
    sessions: sessionmaker[Session], found: InboundMessage, now: datetime = NOW
) -> mail_in.InboundClaim:
    key = dedupe_key(found.message_id, b"")
    return mail_in.record(sessions, key=key, message=found, now=now)


def finish(
    sessions: sessionmaker[Session],
    claim: mail_in.InboundClaim,
    outcome: Outcome,
    ticket: str | None,
) -> bool:
    return mail_in.finish(
        sessions, claim.row_id, outcome=outcome, ticket=ticket, detail=None, now=NOW
    )


def rows(sessions: sessionmaker[Session]) -> list[InboundMailRow]:
    with sessions() as session:
        return list(session.scalars(select(InboundMailRow).order_by(InboundMailRow.id)))


def test_a_finished_message_delivered_again_is_a_recorded_duplicate(
    sessions: sessionmaker[Session],
) -> None:
    first = record(sessions, message())
    assert first.delivery is Delivery.NEW
    assert finish(sessions, first, Outcome.CREATED, "100000")
    again = record(sessions, message())
    assert (again.delivery, again.ticket) == (Delivery.DUPLICATE, "100000")
    logged = rows(sessions)
    assert [(r.outcome, r.ticket, r.dedupe_key is None) for r in logged] == [
        ("created", "100000", False),
        ("duplicate", "100000", True),
    ]
    assert logged[1].detail == f"the same Message-ID as inbound message {first.row_id} (created)"
    assert record(sessions, message()).delivery is Delivery.DUPLICATE  # and again
    assert len(rows(sessions)) == 3


def test_an_unfinished_delivery_is_completed_by_the_next_and_finished_once(
    sessions: sessionmaker[Session],
) -> None:
    first = record(sessions, message())
    retry = record(sessions, message())
    assert (retry.delivery, retry.row_id) == (Delivery.RETRY, first.row_id)
    assert finish(sessions, retry, Outcome.REPLIED, "100000")
    assert not finish(sessions, first, Outcome.CREATED, "100001")  # the first to finish wins
    [row] = rows(sessions)
    assert (row.outcome, row.ticket) == ("replied", "100000")


def test_concurrent_deliveries_are_claimed_once(sessions: sessionmaker[Session]) -> None:
    barrier = threading.Barrier(6)

    def deliver(_: int) -> Delivery:
        barrier.wait()
        return record(sessions, message("<burst@client.test>")).delivery

    with ThreadPoolExecutor(max_workers=6) as pool:
        deliveries = list(pool.map(deliver, range(6)))
    assert sorted(deliveries) == sorted([Delivery.NEW] + [Delivery.RETRY] * 5)
    assert len(rows(sessions)) == 1


def test_unparseable_input_is_logged_once(sessions: sessionmaker[Session]) -> None:
    for _ in range(2):
        mail_in.record_unparseable(sessions, raw=b"junk", reason="no header", sender="", now=NOW)
    [row] = rows(sessions)
    assert (row.outcome, row.detail) == ("refused", "unparseable: no header")


def test_a_reply_finds_its_ticket_by_the_nearest_message_it_answers(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        for number, sent_as in (("100000", "<ack-1@desk>"), ("100001", "<ack-2@desk>")):
            session.add(
                NotificationRow(
                    idempotency_key=f"{number}:1:ticket_received:alice@example.com",
                    ticket=number,
                    kind="ticket_received",
                    recipient_name="Alice",
                    recipient_email="alice@example.com",
                    channel="email",
                    subject="s",
                    body="b",
                    status="sent",
                    attempts=1,
                    created_at=NOW,
                    message_id=sent_as,
                )
            )
    received = record(sessions, message("<alice-original@client.test>"))
    finish(sessions, received, Outcome.CREATED, "100002")
    with sessions() as session:
        assert mail_in.answered_ticket(session, ["<ack-2@desk>", "<ack-1@desk>"]) == "100001"
        assert mail_in.answered_ticket(session, ["<other@x>", "<ack-1@desk>"]) == "100000"
        # Answering a message we received (a follow-up to one's own mail) finds its ticket.
        assert mail_in.answered_ticket(session, ["<alice-original@client.test>"]) == "100002"
        assert mail_in.answered_ticket(session, ["<unknown@x>"]) is None
        assert mail_in.answered_ticket(session, []) is None


def test_the_hourly_count_holds_only_what_acted_from_that_sender(
    sessions: sessionmaker[Session],
) -> None:
    outcomes = [Outcome.CREATED, Outcome.REPLIED, Outcome.NOTED, Outcome.REFUSED]
    for n, outcome in enumerate(outcomes):
        claim = record(sessions, message(f"<c{n}@x>"), now=NOW - timedelta(minutes=n))
        finish(sessions, claim, outcome, None)
    record(sessions, message("<ignored@x>"))  # left received
    old = record(sessions, message("<old@x>"), now=NOW - timedelta(hours=2))
    finish(sessions, old, Outcome.CREATED, None)
    other = record(sessions, message("<bob@x>", sender="bob@example.com"))
    finish(sessions, other, Outcome.CREATED, None)
    with sessions() as session:
        since = NOW - timedelta(hours=1)
        assert mail_in.acted_since(session, "alice@example.com", since) == 3
        assert mail_in.acted_since(session, "bob@example.com", since) == 1


def test_agents_are_found_by_address_whatever_its_case(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(
            AgentRow(
                handle="a-old", name="Old", email="John@Example.com", role="agent", active=False
            )
        )
        session.add(
            AgentRow(
                handle="john", name="John", email="john@example.com", role="agent", active=True
            )
        )
    with sessions() as session:
        assert mail_in.agent_by_email(session, "JOHN@example.com") == AgentRef(
            "john", "John", Role.AGENT, active=True
        )
        assert mail_in.agent_by_email(session, "nobody@example.com") is None


def test_the_log_lists_the_latest_first(sessions: sessionmaker[Session]) -> None:
    for n in range(3):
        finish(sessions, record(sessions, message(f"<l{n}@x>")), Outcome.CREATED, str(100000 + n))
    record(sessions, message("<l0@x>"))  # a duplicate
    with sessions() as session:
        latest = mail_in.recent(session, limit=2)
        assert [r.outcome for r in latest] == ["duplicate", "created"]
        assert [r.ticket for r in mail_in.recent(session, limit=10, outcome=Outcome.CREATED)] == [
            "100002",
            "100001",
            "100000",
        ]
