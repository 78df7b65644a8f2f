"""The webhook queue: the change feed becomes one delivery per subscription and event, and
delivery loops claim, send and settle them.

- `dispatch` reads the feed after a subscription's cursor and, in one transaction, moves the
  cursor (a conditional update: of two dispatchers, one moves it) and inserts a delivery per
  matching event: every event is queued once, none twice.
- `due` and `claim` hand out only the oldest open delivery of each (subscription, ticket), so
  a ticket's events reach a subscriber in their order, one at a time, while a ticket whose
  receiver fails waits alone. A claim is a conditional update with a lease: a delivery whose
  process died is taken over when the lease runs out, and sent again with the same id.
- `settle` records an attempt's answer, schedules the next try or gives up; a subscription
  whose deliveries failed without one success since is disabled, and admins are told.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Update, and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from shared.db.admin_notices import queue_admin_notice
from shared.db.events import (
    Cursor,
    committed_in,
    events_by_id,
    read_page,
    snapshot_horizon,
)
from shared.db.tables import WebhookAttempt, WebhookDelivery, WebhookSubscription
from shared.db.webhooks import event_filter
from shared.domain.webhooks import OPEN_STATES, Backoff, DeliveryState, webhook_id

PENDING, SENDING = DeliveryState.PENDING.value, DeliveryState.SENDING.value
MAX_ERROR_CHARS = 1000
CUT_SHORT = "cut short: the delivering process stopped before an answer was recorded"


def active_subscriptions(session: Session) -> list[int]:
    query = select(WebhookSubscription.id).where(WebhookSubscription.active.is_(True))
    return list(session.scalars(query.order_by(WebhookSubscription.id)))


def dispatch(
    sessions: sessionmaker[Session], subscription_id: int, now: datetime, limit: int
) -> int:
    """Queue the subscription's next page of events; how many feed events it went past."""
    with sessions() as session:
        sub = session.get(WebhookSubscription, subscription_id)
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
        moved = _rowcount(
            session,
            update(WebhookSubscription)
            .where(
                WebhookSubscription.id == sub.id,
                WebhookSubscription.active.is_(True),
                WebhookSubscription.cursor_txid == after.txid,
                WebhookSubscription.cursor_position == after.position,
            )
            .values(
                cursor_txid=page.cursor.txid,
                cursor_position=page.cursor.position,
                start_snapshot=seen,
            ),
        )
        if moved != 1:  # another dispatcher queued this page, or the subscription changed
            session.rollback()
            return 0
        wanted = event_filter(sub)
        rows = [
            _row(sub.id, e, None, now)
            for e in page.events
            if e["id"] not in history and wanted.matches(e)
        ]
        if rows:
            session.execute(insert(WebhookDelivery), rows)
        session.commit()
    return len(page.events)


def _rowcount(session: Session, statement: Update) -> int:
    """Rows a conditional update changed: 1 means this caller won."""
    return session.connection().execute(statement).rowcount


def queue_events(
    session: Session, subscription_id: int, events: list[dict[str, Any]], replay: str, now: datetime
) -> None:
    """Queue these events again for the subscription (a replay), after what is queued."""
    if events:
        session.execute(
            insert(WebhookDelivery), [_row(subscription_id, e, replay, now) for e in events]
        )


def _row(
    subscription_id: int, event: dict[str, Any], replay: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "subscription_id": subscription_id,
        "event_id": event["id"],
        "ticket": event["ticket"],
        "type": event["type"],
        "webhook_id": webhook_id(subscription_id, event["id"], replay),
        "replay": replay,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


@dataclass(frozen=True)
class Due:
    id: int
    subscription_id: int
    ticket: str
    status: str
    attempts: int


def due(session: Session, now: datetime, limit: int) -> list[Due]:
    """Deliveries that may go now: the oldest open one of each (subscription, ticket) of an
    active subscription, whose retry time has come or whose claim's lease ran out."""
    delivery = WebhookDelivery
    older = aliased(WebhookDelivery)
    rows = session.execute(
        select(
            delivery.id,
            delivery.subscription_id,
            delivery.ticket,
            delivery.status,
            delivery.attempts,
        )
        .join(WebhookSubscription, WebhookSubscription.id == delivery.subscription_id)
        .where(WebhookSubscription.active.is_(True))
        .where(
            or_(
                and_(delivery.status == PENDING, delivery.next_attempt_at <= now),
                and_(delivery.status == SENDING, delivery.lease_until < now),
            )
        )
        .where(
            ~exists().where(
                older.subscription_id == delivery.subscription_id,
                older.ticket == delivery.ticket,
                older.status.in_(OPEN_STATES),
                older.id < delivery.id,
            )
        )
        .order_by(delivery.next_attempt_at, delivery.id)
        .limit(limit)
    ).all()
    return [Due(r.id, r.subscription_id, r.ticket, r.status, r.attempts) for r in rows]


@dataclass(frozen=True)
class Claim:
    """What one attempt needs: where, with which secret, what, and its lease's token."""

    delivery_id: int
    attempt_id: int
    attempts: int  # this attempt's number; settling is conditional on it
    first_attempt_at: datetime
    subscription_id: int
    url: str
    secret: str
    webhook_id: str
    event: dict[str, Any]


def claim(
    sessions: sessionmaker[Session], row: Due, now: datetime, lease: timedelta
) -> Claim | None:
    """Take `row` for one attempt; of concurrent callers exactly one gets it."""
    older = aliased(WebhookDelivery)
    still_due = (
        WebhookDelivery.next_attempt_at <= now
        if row.status == PENDING
        else WebhookDelivery.lease_until < now
    )
    with sessions.begin() as session:
        claimed = _rowcount(
            session,
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == row.id,
                WebhookDelivery.status == row.status,
                WebhookDelivery.attempts == row.attempts,
                still_due,
                ~exists().where(
                    older.subscription_id == row.subscription_id,
                    older.ticket == row.ticket,
                    older.status.in_(OPEN_STATES),
                    older.id < row.id,
                ),
            )
            .values(
                status=SENDING,
                attempts=WebhookDelivery.attempts + 1,
                lease_until=now + lease,
                first_attempt_at=func.coalesce(WebhookDelivery.first_attempt_at, now),
            ),
        )
        if claimed != 1:
            return None
        session.execute(
            update(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == row.id, WebhookAttempt.finished.is_(False))
            .values(finished=True, error=CUT_SHORT)
            .execution_options(synchronize_session=False)
        )
        attempt = WebhookAttempt(delivery_id=row.id, at=now, finished=False)
        session.add(attempt)
        session.flush()
        delivery = session.get_one(WebhookDelivery, row.id)
        sub = session.get_one(WebhookSubscription, row.subscription_id)
        event = events_by_id(session, [delivery.event_id]).get(delivery.event_id, {})
        return Claim(
            delivery_id=row.id,
            attempt_id=attempt.id,
            attempts=delivery.attempts,
            first_attempt_at=_utc(delivery.first_attempt_at or now),
            subscription_id=sub.id,
            url=sub.url,
            secret=sub.secret,
            webhook_id=delivery.webhook_id,
            event=event,
        )


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def settle(
    sessions: sessionmaker[Session],
    claimed: Claim,
    outcome: Outcome,
    backoff: Backoff,
    now: datetime,
    channel: str,
) -> DeliveryState | None:
    """Record the attempt's answer and what follows; None if the claim had been lost (its
    lease ran out and another process took the delivery over)."""
    error = outcome.error[:MAX_ERROR_CHARS] if outcome.error else None
    with sessions.begin() as session:
        session.execute(
            update(WebhookAttempt)
            .where(WebhookAttempt.id == claimed.attempt_id)
            .values(
                status_code=outcome.status_code,
                latency_ms=round(outcome.latency_ms, 1),
                error=error,
                finished=True,
            )
            .execution_options(synchronize_session=False)
        )
        if outcome.ok:
            state, retry_at = DeliveryState.DELIVERED, None
        else:
            retry_at = backoff.next_attempt(claimed.attempts, claimed.first_attempt_at, now)
            state = DeliveryState.PENDING if retry_at else DeliveryState.FAILED
        values: dict[str, Any] = {
            "status": state.value,
            "lease_until": None,
            "last_status_code": outcome.status_code,
            "last_error": error,
        }
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        else:
            values["finished_at"] = now
        mine = _rowcount(
            session,
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claimed.delivery_id,
                WebhookDelivery.status == SENDING,
                WebhookDelivery.attempts == claimed.attempts,
            )
            .values(**values),
        )
        if mine != 1:
            return None
        if state is DeliveryState.DELIVERED:
            session.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id == claimed.subscription_id)
                .values(last_success_at=now)
                .execution_options(synchronize_session=False)
            )
        elif state is DeliveryState.FAILED:
            _disable_if_failing(session, claimed, now, backoff.give_up, channel)
    return state


def _disable_if_failing(
    session: Session, claimed: Claim, now: datetime, give_up: timedelta, channel: str
) -> None:
    """Disable the subscription unless some delivery to it succeeded since this one's first
    attempt: then the endpoint works, and only this event failed (it stays in the log)."""
    reason = (
        f"deliveries failed for {_duration(give_up)} with no success (last: {claimed.webhook_id})"
    )
    sub = WebhookSubscription
    disabled = _rowcount(
        session,
        update(sub)
        .where(
            sub.id == claimed.subscription_id,
            sub.active.is_(True),
            or_(sub.last_success_at.is_(None), sub.last_success_at < claimed.first_attempt_at),
        )
        .values(active=False, disabled_reason=reason, disabled_at=now, updated_at=now),
    )
    if disabled == 1:
        row = session.get_one(sub, claimed.subscription_id)
        queue_admin_notice(
            session,
            key=f"webhook-disabled:{row.id}:{now.isoformat()}",
            subject=f"Webhook {row.handle} disabled: its endpoint kept failing",
            body=(
                f"The webhook subscription {row.handle!r} ({row.url}) was disabled at "
                f"{now.isoformat()}: {reason}.\n\n"
                "Its queued deliveries wait. Fix the endpoint, then re-enable it with\n"
                f'PATCH /api/v1/admin/webhooks/{row.handle} {{"active": true}};\n'
                f"the delivery log is at GET /api/v1/admin/webhooks/{row.handle}/deliveries"
                "?status=failed, and failed events can be sent again with POST …/replay."
            ),
            channel=channel,
            now=now,
        )


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds >= 86400:
        return f"{seconds / 86400:g} days"
    if seconds >= 3600:
        return f"{seconds / 3600:g} hours"
    return f"{seconds:g} seconds"


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
