"""A subscription's delivery log (each event with its attempts), and replays.

A replay queues the named events again, as new deliveries behind those already queued; each
carries a new `webhook-id` (`…_r<token>`): a receiver that deduplicates on webhook-id takes
it again, and one that deduplicates on the event's `id` can still drop it.
"""

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.events import Cursor, events_by_id, read_page
from shared.db.tables import (
    FeedEventRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)
from shared.db.webhook_queue import queue_events
from shared.db.webhooks import event_filter
from shared.domain.webhooks import DeliveryState

MAX_REPLAY = 1000


class UnknownEvents(ValueError):
    def __init__(self, ids: list[str]) -> None:
        super().__init__(f"no such events: {', '.join(ids[:10])}")
        self.ids = ids


@dataclass(frozen=True)
class LogEntry:
    delivery: WebhookDeliveryRow
    attempts: list[WebhookAttemptRow]


def deliveries(
    session: Session,
    subscription_id: int,
    *,
    status: DeliveryState | None,
    before: int | None,
    limit: int,
) -> list[LogEntry]:
    """Newest first: deliveries older than the delivery `before`, with their attempts."""
    query = select(WebhookDeliveryRow).where(WebhookDeliveryRow.subscription_id == subscription_id)
    if status is not None:
        query = query.where(WebhookDeliveryRow.status == status.value)
    if before is not None:
        query = query.where(WebhookDeliveryRow.id < before)
    rows = list(session.scalars(query.order_by(WebhookDeliveryRow.id.desc()).limit(limit)))
    attempts: dict[int, list[WebhookAttemptRow]] = defaultdict(list)
    if rows:
        found = session.scalars(
            select(WebhookAttemptRow)
            .where(WebhookAttemptRow.delivery_id.in_([row.id for row in rows]))
            .order_by(WebhookAttemptRow.id)
        )
        for attempt in found:
            attempts[attempt.delivery_id].append(attempt)
    return [LogEntry(row, attempts[row.id]) for row in rows]


@dataclass(frozen=True)
class Replayed:
    queued: list[str]  # event ids, in the order they will be sent (per ticket)
    skipped: list[str]  # named, but not for this subscription (its filters)
    next_cursor: Cursor | None  # more events after this page, up to the subscription's cursor


def replay_events(
    session: Session, sub: WebhookSubscriptionRow, event_ids: list[str], now: datetime
) -> Replayed:
    """Queue these events again, in the feed's order; UnknownEvents if one does not exist."""
    unique = list(dict.fromkeys(event_ids))
    ordered = list(
        session.scalars(
            select(FeedEventRow.event_id)
            .where(FeedEventRow.event_id.in_(unique))
            .order_by(FeedEventRow.txid, FeedEventRow.position)
        )
    )
    missing = sorted(set(unique) - set(ordered))
    if missing:
        raise UnknownEvents(missing)
    found = events_by_id(session, ordered)
    return _queue(session, sub, [found[i] for i in ordered], now, None)


def replay_from(
    session: Session, sub: WebhookSubscriptionRow, after: Cursor, now: datetime
) -> Replayed:
    """Queue again the subscription's events after `after`, up to where its dispatcher is
    (what comes later is queued by the dispatcher anyway), at most MAX_REPLAY a call."""
    until = Cursor(sub.cursor_txid, sub.cursor_position)
    page = read_page(session, after, MAX_REPLAY, until=until)
    more = page.cursor if len(page.events) == MAX_REPLAY and page.cursor < until else None
    return _queue(session, sub, page.events, now, more)


def _queue(
    session: Session,
    sub: WebhookSubscriptionRow,
    events: list[dict[str, Any]],
    now: datetime,
    more: Cursor | None,
) -> Replayed:
    wanted = event_filter(sub)
    chosen = [event for event in events if wanted.matches(event)]
    token = secrets.token_hex(4)
    queue_events(session, sub.id, chosen, token, now)
    session.flush()
    taken = {event["id"] for event in chosen}
    return Replayed(
        queued=[event["id"] for event in chosen],
        skipped=[event["id"] for event in events if event["id"] not in taken],
        next_cursor=more,
    )
