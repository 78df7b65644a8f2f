"""Metrics read from the database when Prometheus scrapes, not counted by a process: the
outbox's backlog, the webhook queue's, how far webhook dispatch trails the change feed, and
what became of inbound mail (mail-in may run as one process per message, which could not
keep a count).

They are the desk's figures, the same from every process that serves them (notify): add them
up across processes with max(), not sum(). Each query reads an index: the backlogs' and the
feed's lag (one per subscription) only the rows still waiting, mail-in's the whole outcome
index (a count per message ever received).
"""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shared.db.api_keys import utc
from shared.db.tables import (
    FeedEventRow,
    InboundMailRow,
    NotificationRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)
from shared.domain.enums import DeliveryStatus
from shared.domain.mail.decision import Outcome
from shared.domain.webhooks import OPEN_STATES

log = logging.getLogger(__name__)

# Notifications not delivered yet, and not given up on.
UNDELIVERED = (DeliveryStatus.QUEUED, DeliveryStatus.PENDING, DeliveryStatus.FAILED)


class DatabaseCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        up = GaugeMetricFamily(
            "ticketflow_database_metrics_up",
            "1 when the figures read from the database at this scrape could be read.",
        )
        try:
            with self._sessions() as session:
                families = list(_families(session, datetime.now(UTC)))
        except SQLAlchemyError as err:
            log.warning("metrics from the database could not be read: %s", type(err).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def database_registry(sessions: sessionmaker[Session]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(sessions))
    return registry


def _families(session: Session, now: datetime) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    yield from _outbox(session, now)
    yield _webhook_queue(session)
    yield _feed_lag(session, now)
    yield _mail_in(session)


def _outbox(session: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
    n = NotificationRow
    rows = session.execute(
        select(n.status, func.count(), func.min(n.created_at))
        .where(n.status.in_([s.value for s in UNDELIVERED]))
        .group_by(n.status)
    ).all()
    found = {status: (count, utc(oldest)) for status, count, oldest in rows}
    depth = GaugeMetricFamily(
        "ticketflow_outbox_notifications",
        "Notifications in the outbox not delivered yet, by status: queued, pending (an "
        "attempt under way), failed (to be tried again).",
        labels=["status"],
    )
    for status in UNDELIVERED:
        depth.add_metric([status.value], found.get(status.value, (0, None))[0])
    yield depth
    oldest = min((when for _, when in found.values() if when is not None), default=None)
    age = GaugeMetricFamily(
        "ticketflow_outbox_oldest_age_seconds",
        "Age of the oldest notification not delivered yet (0: none waits).",
    )
    age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
    yield age


def _webhook_queue(session: Session) -> GaugeMetricFamily:
    d = WebhookDeliveryRow
    rows = session.execute(
        select(d.status, func.count()).where(d.status.in_(OPEN_STATES)).group_by(d.status)
    ).all()
    found = dict(rows)
    family = GaugeMetricFamily(
        "ticketflow_webhook_deliveries_open",
        "Webhook deliveries not settled yet, by status: pending (waiting for their turn or "
        "retry) or sending.",
        labels=["status"],
    )
    for status in OPEN_STATES:
        family.add_metric([status], found.get(status, 0))
    return family


def _feed_lag(session: Session, now: datetime) -> GaugeMetricFamily:
    s, e = WebhookSubscriptionRow, FeedEventRow
    cursors = session.execute(
        select(s.cursor_txid, s.cursor_position).where(s.active.is_(True))
    ).all()
    firsts = [
        utc(
            session.scalar(
                select(e.at)
                .where(tuple_(e.txid, e.position) > tuple_(txid, position))
                .order_by(e.txid, e.position)
                .limit(1)
            )
        )
        for txid, position in cursors
    ]
    oldest = min((at for at in firsts if at is not None), default=None)
    family = GaugeMetricFamily(
        "ticketflow_feed_lag_seconds",
        "Age of the oldest change-feed event that an active webhook subscription has not "
        "queued yet (0: dispatch is caught up).",
    )
    family.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
    return family


def _mail_in(session: Session) -> CounterMetricFamily:
    m = InboundMailRow
    found = dict(session.execute(select(m.outcome, func.count()).group_by(m.outcome)).all())
    family = CounterMetricFamily(
        "ticketflow_mail_in_messages",
        "Inbound messages mail-in recorded, by what became of them (the admins' inbound log).",
        labels=["outcome"],
    )
    for outcome in Outcome:
        family.add_metric([outcome.value], found.get(outcome.value, 0))
    return family
