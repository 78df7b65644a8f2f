"""Delivery attempts: claim a due delivery, then settle it with the receiver's answer.

A claim is a conditional update with a lease, so of several delivery loops (in one notify
process or several) exactly one sends each attempt; a delivery whose claimer died is taken
over when the lease runs out and sent again under the same `webhook-id`. Settling records
the attempt, then marks the delivery delivered, schedules its next try (exponential backoff
with jitter) or, past the give-up time, marks it failed; a settled delivery makes the next of
its ticket due. A subscription whose delivery failed with no success since its first attempt
is disabled, and the admins are told.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Update, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.db.admin_notices import queue_admin_notice
from shared.db.events import events_by_id
from shared.db.tables import Base, WebhookSubscriptionRow
from shared.db.webhook_queue import (
    DELIVERIES,
    SENDING,
    SUBSCRIPTIONS,
    Due,
    lock_lanes,
    promote_next,
)
from shared.db.webhook_queue import _older_open as older_open
from shared.domain.webhooks import Backoff, DeliveryState

MAX_ERROR_CHARS = 1000
CUT_SHORT = "cut short: the delivering process stopped before an answer was recorded"
_D, _S = DELIVERIES, SUBSCRIPTIONS
_A = Base.metadata.tables["webhook_attempts"]
_E = Base.metadata.tables["ticket_events"]


@dataclass(frozen=True)
class LeasedAttempt:
    """What one attempt needs: where, with which secret, what, and its lease's token."""

    delivery_id: int
    attempt_id: int
    attempts: int  # this attempt's number; settling is conditional on it
    first_attempt_at: datetime
    subscription_id: int
    ticket: str
    url: str
    secret: str
    webhook_id: str
    event: dict[str, Any]
    traceparent: str | None = None  # the span that published the event: the attempt's parent


# Claims run once per delivery attempt: their statements are built once, on the tables, and
# take their values as parameters (so SQLAlchemy compiles each once).


def _claim_statement(stale: bool) -> Update:
    now = bindparam("now_", type_=DateTime(timezone=True))
    due_now = _D.c.lease_until < now if stale else _D.c.next_attempt_at <= now
    return (
        update(_D)
        .where(
            _D.c.id == bindparam("id_"),
            _D.c.status == bindparam("seen_status"),
            _D.c.attempts == bindparam("seen_attempts"),
            due_now,
            ~older_open(bindparam("subscription_"), bindparam("ticket_"), bindparam("id_")),
        )
        .values(
            status=SENDING,
            attempts=_D.c.attempts + 1,
            lease_until=bindparam("lease_until_"),
            first_attempt_at=func.coalesce(_D.c.first_attempt_at, now),
        )
    )


_CLAIM = {False: _claim_statement(stale=False), True: _claim_statement(stale=True)}
_CUT_SHORT = (
    update(_A)
    .where(_A.c.delivery_id == bindparam("delivery_"), _A.c.finished.is_(False))
    .values(finished=True, error=CUT_SHORT)
)
_CLAIMED = (
    select(
        _D.c.id,
        _D.c.subscription_id,
        _D.c.ticket,
        _D.c.attempts,
        _D.c.first_attempt_at,
        _D.c.webhook_id,
        _D.c.event_id,
        _S.c.url,
        _S.c.secret,
        _E.c.traceparent,
    )
    .join(_S, _S.c.id == _D.c.subscription_id)
    .outerjoin(_E, _E.c.event_id == _D.c.event_id)
    .order_by(_D.c.id)
)


def claim_attempt(
    sessions: sessionmaker[Session], row: Due, now: datetime, lease: timedelta
) -> LeasedAttempt | None:
    """Take `row` for one attempt; of concurrent callers exactly one gets it."""
    claims = claim_attempts(sessions, [row], now, lease)
    return claims[0] if claims else None


def claim_attempts(
    sessions: sessionmaker[Session], rows: list[Due], now: datetime, lease: timedelta
) -> list[LeasedAttempt]:
    """Take those of `rows` that no other caller took, in one transaction: each claim is
    its own conditional update, exactly as if they were taken one by one."""
    with sessions.begin() as session:
        connection = session.connection()
        taken: dict[int, int] = {}  # delivery -> its new attempt
        for row in rows:
            stale = row.status == SENDING
            claimed = connection.execute(
                _CLAIM[stale],
                {
                    "id_": row.id,
                    "seen_status": row.status,
                    "seen_attempts": row.attempts,
                    "subscription_": row.subscription_id,
                    "ticket_": row.ticket,
                    "now_": now,
                    "lease_until_": now + lease,
                },
            ).rowcount
            if claimed != 1:
                continue
            if stale:  # the attempt its last claimer left unanswered
                connection.execute(_CUT_SHORT, {"delivery_": row.id})
            taken[row.id] = connection.execute(
                insert(_A).values(delivery_id=row.id, at=now, finished=False).returning(_A.c.id)
            ).scalar_one()
        if not taken:
            return []
        found = connection.execute(_CLAIMED.where(_D.c.id.in_(taken))).all()
        events = events_by_id(session, [r.event_id for r in found])
    return [
        LeasedAttempt(
            delivery_id=r.id,
            attempt_id=taken[r.id],
            attempts=r.attempts,
            first_attempt_at=_utc(r.first_attempt_at or now),
            subscription_id=r.subscription_id,
            ticket=r.ticket,
            url=r.url,
            secret=r.secret,
            webhook_id=r.webhook_id,
            event=events.get(r.event_id, {}),
            traceparent=r.traceparent,
        )
        for r in found
    ]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def settle_attempt(
    sessions: sessionmaker[Session],
    claimed: LeasedAttempt,
    outcome: Outcome,
    backoff: Backoff,
    now: datetime,
    channel: str,
) -> DeliveryState | None:
    """Record the attempt's answer and what follows; None if the claim had been lost (its
    lease ran out and another process took the delivery over)."""
    return settle_attempts(sessions, [(claimed, outcome)], backoff, now, channel)[0]


def settle_attempts(
    sessions: sessionmaker[Session],
    answered: list[tuple[LeasedAttempt, Outcome]],
    backoff: Backoff,
    now: datetime,
    channel: str,
) -> list[DeliveryState | None]:
    """`settle` for several attempts in one transaction, each as if alone. They are settled in
    the order of their subscriptions, so two processes' batches take the subscriptions' locks
    in one order and never wait for each other in a circle."""
    order = sorted(range(len(answered)), key=lambda i: answered[i][0].subscription_id)
    states: list[DeliveryState | None] = [None] * len(answered)
    with sessions.begin() as session:
        for i in order:
            claimed, outcome = answered[i]
            states[i] = _settle(session, claimed, outcome, backoff, now, channel)
    return states


def _settle(
    session: Session,
    claimed: LeasedAttempt,
    outcome: Outcome,
    backoff: Backoff,
    now: datetime,
    channel: str,
) -> DeliveryState | None:
    error = outcome.error[:MAX_ERROR_CHARS] if outcome.error else None
    connection = session.connection()
    connection.execute(
        update(_A)
        .where(_A.c.id == claimed.attempt_id)
        .values(
            status_code=outcome.status_code,
            latency_ms=round(outcome.latency_ms, 1),
            error=error,
            finished=True,
        )
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
    mine = connection.execute(
        update(_D)
        .where(
            _D.c.id == claimed.delivery_id,
            _D.c.status == SENDING,
            _D.c.attempts == claimed.attempts,
        )
        .values(**values)
    ).rowcount
    if mine != 1:
        return None
    if state is DeliveryState.PENDING:
        return state
    # The subscription's row lock first (see webhook_queue): recording the success takes it.
    if state is DeliveryState.DELIVERED:
        connection.execute(
            update(_S).where(_S.c.id == claimed.subscription_id).values(last_success_at=now)
        )
    else:
        lock_lanes(connection, claimed.subscription_id)
    promote_next(connection, claimed.subscription_id, claimed.ticket, now)
    if state is DeliveryState.FAILED:
        _disable_if_failing(session, claimed, now, backoff.give_up, channel)
    return state


def _disable_if_failing(
    session: Session, claimed: LeasedAttempt, now: datetime, give_up: timedelta, channel: str
) -> None:
    """Disable the subscription unless some delivery to it succeeded since this one's first
    attempt: then the endpoint works, and only this event failed (it stays in the log)."""
    reason = (
        f"deliveries failed for {_duration(give_up)} with no success (last: {claimed.webhook_id})"
    )
    sub = WebhookSubscriptionRow
    disabled = (
        session.connection()
        .execute(
            update(sub)
            .where(
                sub.id == claimed.subscription_id,
                sub.active.is_(True),
                or_(sub.last_success_at.is_(None), sub.last_success_at < claimed.first_attempt_at),
            )
            .values(active=False, disabled_reason=reason, disabled_at=now, updated_at=now)
        )
        .rowcount
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
