"""The webhook queue: the change feed becomes one delivery per subscription and event.

- `dispatch` reads the feed after a subscription's cursor and, in one transaction, moves the
  cursor (a conditional update: of two dispatchers, one moves it) and inserts a delivery per
  matching event: every event is queued once, none twice.
- A subscription's deliveries of one ticket form a lane, sent one at a time, oldest (lowest
  id) first. Only a lane's head has a `next_attempt_at`; the others wait (None) until the
  head is settled, which makes the next one due (`webhook_attempts.settle_attempt`). So
  `due` looks at heads only, however long the queues behind them, and a ticket whose
  receiver fails holds up only its own lane.
- Writers of a subscription's lanes (dispatch, replay, settle) first lock its row: so the
  settling of a head always sees the deliveries queued behind it, on PostgreSQL too.
  `release_waiting` is the safety net that would free a delivery left waiting anyway.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.db.events import Cursor, committed_in, read_page, snapshot_horizon
from shared.db.tables import Base, WebhookSubscriptionRow
from shared.db.webhooks import event_filter
from shared.domain.webhooks import OPEN_STATES, DeliveryState, webhook_id

PENDING, SENDING = DeliveryState.PENDING.value, DeliveryState.SENDING.value
DELIVERIES = Base.metadata.tables["webhook_deliveries"]
SUBSCRIPTIONS = Base.metadata.tables["webhook_subscriptions"]
_OLDER = DELIVERIES.alias("older")


def active_subscriptions(session: Session) -> list[int]:
    query = select(WebhookSubscriptionRow.id).where(WebhookSubscriptionRow.active.is_(True))
    return list(session.scalars(query.order_by(WebhookSubscriptionRow.id)))


def dispatch(
    sessions: sessionmaker[Session], subscription_id: int, now: datetime, limit: int
) -> int:
    """Queue the subscription's next page of events; how many feed events it went past."""
    with sessions() as session:
        sub = session.get(WebhookSubscriptionRow, subscription_id)
        if sub is None or not sub.active:
            return 0
        after = Cursor(sub.cursor_txid, sub.cursor_position)
        page = read_page(session, after, limit)
        if not page.events:
            return 0
        history: set[str] = set()
        seen = sub.start_snapshot
        if seen is not None:  # events committed before the subscription are not for it
            history = committed_in(session, [e["id"] for e in page.events], seen)
            if page.cursor.txid >= snapshot_horizon(seen):
                seen = None  # past every transaction it could have seen
        connection = session.connection()
        moved = connection.execute(
            update(SUBSCRIPTIONS)
            .where(
                SUBSCRIPTIONS.c.id == sub.id,
                SUBSCRIPTIONS.c.active.is_(True),
                SUBSCRIPTIONS.c.cursor_txid == after.txid,
                SUBSCRIPTIONS.c.cursor_position == after.position,
            )
            .values(
                cursor_txid=page.cursor.txid,
                cursor_position=page.cursor.position,
                start_snapshot=seen,
            )
        ).rowcount
        if moved != 1:  # another dispatcher queued this page, or the subscription changed
            session.rollback()
            return 0
        wanted = event_filter(sub)
        chosen = [e for e in page.events if e["id"] not in history and wanted.matches(e)]
        _insert(connection, sub.id, chosen, None, now)  # under the lock the update took
        session.commit()
    return len(page.events)


def queue_events(
    session: Session, subscription_id: int, events: list[dict[str, Any]], replay: str, now: datetime
) -> None:
    """Queue these events again for the subscription (a replay), behind what is queued."""
    if events:
        connection = session.connection()
        lock_lanes(connection, subscription_id)
        _insert(connection, subscription_id, events, replay, now)


def lock_lanes(connection: Connection, subscription_id: int) -> None:
    """Take the subscription's row lock (PostgreSQL; SQLite has one writer at a time)."""
    connection.execute(
        update(SUBSCRIPTIONS)
        .where(SUBSCRIPTIONS.c.id == subscription_id)
        .values(cursor_txid=SUBSCRIPTIONS.c.cursor_txid)
    )


def _insert(
    connection: Connection,
    subscription_id: int,
    events: list[dict[str, Any]],
    replay: str | None,
    now: datetime,
) -> None:
    """A delivery per event: due now if it heads its lane, else waiting."""
    if not events:
        return
    busy = _busy_lanes(connection, subscription_id, {e["ticket"] for e in events})
    rows = []
    for event in events:
        rows.append(
            {
                "subscription_id": subscription_id,
                "event_id": event["id"],
                "ticket": event["ticket"],
                "type": event["type"],
                "webhook_id": webhook_id(subscription_id, event["id"], replay),
                "replay": replay,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": None if event["ticket"] in busy else now,
                "created_at": now,
            }
        )
        busy.add(event["ticket"])
    connection.execute(insert(DELIVERIES), rows)


def _busy_lanes(connection: Connection, subscription_id: int, tickets: Collection[str]) -> set[str]:
    query = (
        select(DELIVERIES.c.ticket)
        .distinct()
        .where(
            DELIVERIES.c.subscription_id == subscription_id,
            DELIVERIES.c.ticket.in_(tickets),
            DELIVERIES.c.status.in_(OPEN_STATES),
        )
    )
    return set(connection.scalars(query))


@dataclass(frozen=True)
class Due:
    id: int
    subscription_id: int
    ticket: str
    status: str
    attempts: int


def due(session: Session, now: datetime, limit: int) -> list[Due]:
    """Deliveries that may go now: lane heads of active subscriptions whose time has come,
    and claimed ones whose lease ran out; the oldest of their lane, checked again here."""
    d = DELIVERIES
    rows = session.execute(
        select(d.c.id, d.c.subscription_id, d.c.ticket, d.c.status, d.c.attempts)
        .join(SUBSCRIPTIONS, SUBSCRIPTIONS.c.id == d.c.subscription_id)
        .where(SUBSCRIPTIONS.c.active.is_(True))
        .where(
            or_(
                and_(d.c.status == PENDING, d.c.next_attempt_at <= now),
                and_(d.c.status == SENDING, d.c.lease_until < now),
            )
        )
        .where(~_older_open(d.c.subscription_id, d.c.ticket, d.c.id))
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
    ).all()
    return [Due(r.id, r.subscription_id, r.ticket, r.status, r.attempts) for r in rows]


def _older_open(subscription: Any, ticket: Any, delivery: Any) -> Any:
    """Whether the lane has an open delivery older than `delivery`."""
    return exists().where(
        _OLDER.c.subscription_id == subscription,
        _OLDER.c.ticket == ticket,
        _OLDER.c.status.in_(OPEN_STATES),
        _OLDER.c.id < delivery,
    )


def promote_next(connection: Connection, subscription_id: int, ticket: str, now: datetime) -> None:
    """The lane's head was settled: its next delivery is due now (call under `lock_lanes`)."""
    d = DELIVERIES
    head = (
        select(d.c.id)
        .where(
            d.c.subscription_id == subscription_id,
            d.c.ticket == ticket,
            d.c.status.in_(OPEN_STATES),
        )
        .order_by(d.c.id)
        .limit(1)
        .scalar_subquery()
    )
    connection.execute(
        update(d).where(d.c.id == head, d.c.next_attempt_at.is_(None)).values(next_attempt_at=now)
    )


def release_waiting(sessions: sessionmaker[Session], now: datetime) -> int:
    """Make due every waiting delivery with nothing older open in its lane: none, unless a
    lane's head was settled without promoting the next (the safety net; logged if any)."""
    d = DELIVERIES
    with sessions.begin() as session:
        return (
            session.connection()
            .execute(
                update(d)
                .where(
                    d.c.status == PENDING,
                    d.c.next_attempt_at.is_(None),
                    ~_older_open(d.c.subscription_id, d.c.ticket, d.c.id),
                )
                .values(next_attempt_at=now)
            )
            .rowcount
        )
