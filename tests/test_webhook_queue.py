"""The webhook queue on real databases (SQLite and PostgreSQL): the dispatcher queues each
event once per subscription, claims are exclusive, a ticket's events go one at a time in
order, a failing ticket holds up nobody else, an abandoned claim is taken over with the same
id, and a subscription that never succeeds for the give-up time is disabled, its admins told."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.db import webhook_attempts as attempts
from shared.db import webhook_queue as queue
from shared.db import webhooks
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.events import Cursor
from shared.db.tables import (
    AgentRow,
    NotificationRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
)
from shared.db.webhook_log import UnknownEvents, replay_events, replay_from
from shared.domain.enums import NotificationKind
from shared.domain.webhook_urls import UrlPolicy
from shared.domain.webhooks import DeliveryState
from tests.builders import T0
from tests.webhook_feed import BACKOFF, DOWN, LEASE, OK, Tickets, drain

POLICY = UrlPolicy.of("test")


def subscribe(
    sessions: sessionmaker[Session], handle: str, *, beginning: bool = True, **options: object
) -> int:
    data = webhooks.NewSubscription(
        handle=handle,
        url="http://127.0.0.1:9/hook",
        secret=None,
        event_types=list(options.get("event_types", [])),  # type: ignore[call-overload]
        departments=[],
        help_topics=[],
        include_internal=bool(options.get("include_internal", False)),
        active=True,
        from_beginning=beginning,
    )
    with sessions.begin() as session:
        row, _ = webhooks.create(session, data, POLICY, T0)
        return row.id


def queued(sessions: sessionmaker[Session], subscription_id: int) -> list[WebhookDeliveryRow]:
    with sessions() as session:
        return list(
            session.scalars(
                select(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.subscription_id == subscription_id)
                .order_by(WebhookDeliveryRow.id)
            )
        )


def due(sessions: sessionmaker[Session], now: datetime = T0) -> list[queue.Due]:
    with sessions() as session:
        return queue.due(session, now, limit=100)


def take(sessions: sessionmaker[Session], now: datetime = T0) -> list[attempts.LeasedAttempt]:
    found = [attempts.claim_attempt(sessions, row, now, LEASE) for row in due(sessions, now)]
    return [claimed for claimed in found if claimed is not None]


def settle(
    sessions: sessionmaker[Session],
    claimed: attempts.LeasedAttempt,
    outcome: attempts.Outcome,
    now: datetime,
) -> DeliveryState | None:
    return attempts.settle_attempt(sessions, claimed, outcome, BACKOFF, now, "log")


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(database_url))


def test_the_dispatcher_queues_each_matching_event_once(
    sessions: sessionmaker[Session], database_url: str
) -> None:
    tickets = Tickets(sessions)
    everything = subscribe(sessions, "everything", include_internal=True)
    public = subscribe(sessions, "public")
    replies = subscribe(sessions, "replies", event_types=["ticket.responded"])
    for number in ("700001", "700002"):
        tickets.open(number)
        tickets.reply(number)
        tickets.note(number)
    # Three dispatchers (two processes' worth of engines) race over the same cursors.
    others = [make_sessionmaker(make_engine(database_url)) for _ in range(2)]
    barrier = threading.Barrier(3)

    def run(factory: sessionmaker[Session]) -> None:
        barrier.wait()
        for _ in range(5):
            drain(factory)

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(run, [sessions, *others]))

    kinds = ["ticket.created", "ticket.assigned", "ticket.responded", "ticket.noted"]
    rows = queued(sessions, everything)
    assert [(r.ticket, r.type) for r in rows] == [
        (number, kind) for number in ("700001", "700002") for kind in kinds
    ]
    assert rows[0].webhook_id == f"msg_{everything}_700001-1"
    assert [r.type for r in queued(sessions, public)] == [
        k for k in kinds if k != "ticket.noted"
    ] * 2
    assert [r.event_id for r in queued(sessions, replies)] == ["700001-3", "700002-3"]
    tickets.reply("700001", "later")
    drain(sessions)
    assert Counter(r.event_id for r in queued(sessions, everything))["700001-5"] == 1


def test_a_subscription_starts_at_the_feed_s_end_unless_from_the_beginning(
    sessions: sessionmaker[Session],
) -> None:
    tickets = Tickets(sessions)
    tickets.open("700010")
    history = subscribe(sessions, "history", beginning=True)
    fresh = subscribe(sessions, "fresh", beginning=False)
    tickets.reply("700010")
    drain(sessions)
    assert [r.event_id for r in queued(sessions, history)] == [f"700010-{n}" for n in (1, 2, 3)]
    assert [r.event_id for r in queued(sessions, fresh)] == ["700010-3"]


def test_claims_are_exclusive_between_processes(
    sessions: sessionmaker[Session], database_url: str
) -> None:
    tickets = Tickets(sessions)
    subscribe(sessions, "hook")
    for n in range(6):
        tickets.open(f"70002{n}")
    drain(sessions)
    claimers = [make_sessionmaker(make_engine(database_url)) for _ in range(2)]
    barrier = threading.Barrier(2)

    def claim_all(factory: sessionmaker[Session]) -> list[attempts.LeasedAttempt]:
        barrier.wait()
        return take(factory) + take(factory)

    with ThreadPoolExecutor(2) as pool:
        got = [c for batch in pool.map(claim_all, claimers) for c in batch]
    # One claim per ticket (its oldest event): never the same delivery twice, never two of
    # one ticket at once.
    assert sorted(c.event["ticket"] for c in got) == [f"70002{n}" for n in range(6)]
    assert {c.event["seq"] for c in got} == {1}
    assert len({c.delivery_id for c in got}) == 6
    assert take(sessions) == []


def test_a_ticket_s_events_go_one_at_a_time_in_order(sessions: sessionmaker[Session]) -> None:
    tickets = Tickets(sessions)
    subscribe(sessions, "hook")
    tickets.open("700030")
    tickets.reply("700030", "one")
    tickets.reply("700030", "two")
    drain(sessions)
    sent = []
    now = T0
    while claims := take(sessions, now):
        assert len(claims) == 1
        assert take(sessions, now) == []  # nothing more of the ticket while one is out
        sent.append(claims[0].event["id"])
        assert settle(sessions, claims[0], OK, now) is DeliveryState.DELIVERED
        now += timedelta(seconds=1)
    assert sent == [f"700030-{n}" for n in (1, 2, 3, 4)]


def test_a_failing_ticket_holds_up_only_itself(sessions: sessionmaker[Session]) -> None:
    tickets = Tickets(sessions)
    subscribe(sessions, "hook")
    for number in ("700041", "700042"):
        tickets.open(number)
    tickets.reply("700041")
    drain(sessions)
    first = {c.event["ticket"]: c for c in take(sessions)}
    assert settle(sessions, first["700041"], DOWN, T0) is DeliveryState.PENDING
    assert settle(sessions, first["700042"], OK, T0) is DeliveryState.DELIVERED
    # 700041 waits for its retry, its later events behind it; 700042 goes on at once.
    later = take(sessions, T0 + timedelta(seconds=1))
    assert [c.event["id"] for c in later] == ["700042-2"]
    retry = take(sessions, T0 + timedelta(seconds=10))
    assert [c.event["id"] for c in retry] == ["700041-1"]
    assert retry[0].attempts == 2 and retry[0].webhook_id == first["700041"].webhook_id


def test_an_abandoned_claim_is_taken_over_with_the_same_webhook_id(
    sessions: sessionmaker[Session],
) -> None:
    tickets = Tickets(sessions)
    subscribe(sessions, "hook")
    tickets.open("700050")
    drain(sessions)
    [lost] = take(sessions)  # its process dies before it settles
    assert take(sessions, T0 + LEASE - timedelta(seconds=1)) == []
    [again] = take(sessions, T0 + LEASE + timedelta(seconds=1))
    assert (again.delivery_id, again.webhook_id) == (lost.delivery_id, lost.webhook_id)
    assert settle(sessions, again, OK, T0 + LEASE) is DeliveryState.DELIVERED
    with sessions() as session:
        tried = session.scalars(select(WebhookAttemptRow).order_by(WebhookAttemptRow.id)).all()
    assert [a.error for a in tried] == [attempts.CUT_SHORT, None]
    assert [a.status_code for a in tried] == [None, 200]
    # Had the first process only stalled, its late answer changes the delivery no more.
    assert settle(sessions, lost, DOWN, T0 + LEASE) is None
    assert [r.status for r in queued(sessions, lost.subscription_id)] == ["delivered", "pending"]


def give_up_time(claimed: attempts.LeasedAttempt) -> datetime:
    return claimed.first_attempt_at + BACKOFF.give_up


def test_a_subscription_that_never_succeeds_is_disabled_and_admins_told(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        session.add_all(
            [
                AgentRow(handle="root", name="Root", email="root@example.com", role="admin"),
                AgentRow(handle="john", name="John", email="john@example.com", role="agent"),
            ]
        )
    tickets = Tickets(sessions)
    hook = subscribe(sessions, "hook")
    tickets.open("700060")
    drain(sessions)
    [claimed] = take(sessions)
    assert settle(sessions, claimed, DOWN, T0) is DeliveryState.PENDING
    late = give_up_time(claimed)
    [last] = take(sessions, late)
    assert settle(sessions, last, DOWN, late) is DeliveryState.FAILED
    with sessions() as session:
        sub = webhooks.get(session, "hook")
        told = session.scalars(select(NotificationRow)).all()
        assert webhooks.disabled_for_failures(session) == [(sub, 1)]
    assert not sub.active and sub.disabled_reason and "1 hours" in sub.disabled_reason
    assert [(n.recipient_email, n.kind, n.ticket) for n in told] == [
        ("root@example.com", NotificationKind.WEBHOOK_DISABLED.value, "-")
    ]
    assert take(sessions, late + timedelta(hours=1)) == []  # disabled: its queue waits
    assert [r.status for r in queued(sessions, hook)] == ["failed", "pending"]


def test_one_event_failing_does_not_disable_an_endpoint_that_works(
    sessions: sessionmaker[Session],
) -> None:
    tickets = Tickets(sessions)
    subscribe(sessions, "hook")
    for number in ("700071", "700072"):
        tickets.open(number)
    drain(sessions)
    claims = {c.event["ticket"]: c for c in take(sessions)}
    settle(sessions, claims["700071"], DOWN, T0)
    settle(sessions, claims["700072"], OK, T0 + timedelta(seconds=1))
    late = give_up_time(claims["700071"])
    [last] = [c for c in take(sessions, late) if c.event["ticket"] == "700071"]
    assert settle(sessions, last, DOWN, late) is DeliveryState.FAILED
    with sessions() as session:
        assert webhooks.get(session, "hook").active


def test_a_replay_queues_the_events_again_as_new_messages(sessions: sessionmaker[Session]) -> None:
    tickets = Tickets(sessions)
    public = subscribe(sessions, "public")
    tickets.open("700080")
    tickets.note("700080")
    tickets.reply("700080")
    drain(sessions)
    with sessions.begin() as session:
        sub = webhooks.get(session, "public")
        by_id = replay_events(session, sub, ["700080-4", "700080-1", "700080-3"], T0)
        with pytest.raises(UnknownEvents):
            replay_events(session, sub, ["700080-99"], T0)
        after_first = replay_from(session, sub, Cursor(), T0)
    assert by_id.queued == ["700080-1", "700080-4"] and by_id.skipped == ["700080-3"]  # a note
    assert after_first.queued == ["700080-1", "700080-2", "700080-4"]
    rows = queued(sessions, public)
    replays = [r for r in rows if r.replay]
    assert len(rows) == 3 + 5 and len(replays) == 5
    assert len({r.webhook_id for r in rows}) == 8  # each replay a new message
    assert all(r.webhook_id.startswith(f"msg_{public}_700080-") for r in rows)
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(WebhookDeliveryRow))
    assert total == 8


def test_only_a_lane_s_head_is_due_however_long_the_queue_behind_it(
    sessions: sessionmaker[Session],
) -> None:
    tickets = Tickets(sessions)
    hook = subscribe(sessions, "hook")
    tickets.open("700090")
    for n in range(5):
        tickets.reply("700090", f"r{n}")
    drain(sessions)
    waiting = [r.next_attempt_at is None for r in queued(sessions, hook)]
    assert waiting == [False] + [True] * 6
    assert [d.id for d in due(sessions, T0 + timedelta(days=1))] == [queued(sessions, hook)[0].id]
    assert queue.release_waiting(sessions, T0) == 0  # nothing was left behind
    # Were a head settled without the next one made due, the safety net frees it.
    with sessions.begin() as session:
        session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.event_id == "700090-1")
            .values(status=DeliveryState.DELIVERED.value)
        )
    assert queue.release_waiting(sessions, T0) == 1
    assert [c.event["id"] for c in take(sessions)] == ["700090-2"]
