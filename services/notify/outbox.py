"""The outbox's delivery loop: notifications the ticket workflows queued (in the same
transaction as the change they tell of) are claimed one at a time and delivered.

A claim is a conditional update (services/notify/outbox_lease.py), so of several notify
processes exactly one delivers each notification. A failed delivery is retried with backoff;
after a day it is marked undeliverable, which admins see (intake's GET /api/v1/admin/alerts).
"""

import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.trace import Span
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from services.notify.mailer import DeliveryError, Mailer, OutgoingMail
from services.notify.outbox_lease import ATTEMPT_LEASE, claim_attempt, finish_attempt
from services.notify.schemas import as_utc
from shared.access import new_link_credential, ticket_page_url
from shared.db import invites
from shared.db.tables import NotificationRow
from shared.domain.enums import Channel, DeliveryStatus, NotificationKind
from shared.domain.notices import LINKED, is_automatic, link_footer
from shared.metrics import MAILS, MailOutcome
from shared.settings import Settings
from shared.tracing.carrier import consumer_span

log = logging.getLogger("ticketflow.notify.outbox")
_TRACER = trace.get_tracer(__name__)

BATCH = 50
IDLE_WAIT = 0.2  # seconds between looks when nothing is queued
MAX_BACKOFF = timedelta(minutes=5)
GIVE_UP_AFTER = timedelta(days=1)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2**attempts), MAX_BACKOFF)


def due(session: Session, now: datetime) -> list[NotificationRow]:
    """Queued notifications, failed ones whose backoff has passed, and abandoned attempts."""
    stale = now - ATTEMPT_LEASE
    rows = session.scalars(
        select(NotificationRow)
        .where(
            or_(
                NotificationRow.status == DeliveryStatus.QUEUED.value,
                and_(
                    NotificationRow.status == DeliveryStatus.FAILED.value,
                    NotificationRow.sent_at < now - timedelta(seconds=1),
                ),
                and_(
                    NotificationRow.status == DeliveryStatus.PENDING.value,
                    NotificationRow.sent_at < stale,
                ),
            )
        )
        .order_by(NotificationRow.id)
        .limit(BATCH)
    ).all()
    return [row for row in rows if _backoff_over(row, now)]


def _backoff_over(row: NotificationRow, now: datetime) -> bool:
    if row.status != DeliveryStatus.FAILED.value or row.sent_at is None:
        return True
    return as_utc(row.sent_at) + backoff(row.attempts) <= now


def deliver_due(sessions: sessionmaker[Session], mailer: Mailer, settings: Settings) -> int:
    """One pass over what is due; how many notifications it handled."""
    now = datetime.now(UTC)
    with sessions() as session:
        rows = due(session, now)
    for row in rows:
        if not claim_attempt(sessions, row, now):
            continue  # another notify process took it
        with delivery_span(row) as span:
            outcome = _deliver(sessions, mailer, settings, row, now)
            span.set_attribute("ticketflow.outcome", outcome.value)
        _count(row, outcome)
    return len(rows)


def _deliver(
    sessions: sessionmaker[Session],
    mailer: Mailer,
    settings: Settings,
    row: NotificationRow,
    now: datetime,
) -> MailOutcome:
    if now - as_utc(row.created_at) > GIVE_UP_AFTER:
        finish_attempt(sessions, row.id, DeliveryStatus.UNDELIVERABLE, error=row.last_error)
        # Its id, not its key: a key may hold the recipient's address.
        log.error("notification %s undeliverable: %s", row.id, row.last_error)
        return MailOutcome.UNDELIVERABLE
    mail = outgoing_mail(row)
    kind = NotificationKind(row.kind)
    if kind in LINKED:
        mail = replace(mail, body=mail.body + "\n\n" + _link(settings, kind, row.ticket, now))
    if kind is invites.INVITE_KIND:
        body = invites.link_in(
            mail.body,
            portal_url=settings.portal_url,
            secret_key=settings.secret_key,
            mail_key=row.idempotency_key,
        )
        mail = replace(mail, body=body)
    try:
        sent_as = mailer.deliver(mail)
    except DeliveryError as err:
        finish_attempt(sessions, row.id, DeliveryStatus.FAILED, error=str(err))
        return MailOutcome.FAILED
    finish_attempt(sessions, row.id, DeliveryStatus.SENT, message_id=sent_as)
    return MailOutcome.SENT


def delivery_span(row: NotificationRow) -> AbstractContextManager[Span]:
    """A try at delivering `row`, as a child of the span that queued it (the publishing
    activity's). Identifiers and kinds only: never the recipient, the subject or the text."""
    return consumer_span(
        _TRACER,
        "deliver notification",
        traceparent=row.traceparent,
        attributes={
            "ticketflow.notification.id": row.id,
            "ticketflow.notification.kind": row.kind,
            "ticketflow.channel": row.channel,
            "ticketflow.ticket": row.ticket,
        },
    )


def _count(row: NotificationRow, outcome: MailOutcome) -> None:
    MAILS.labels(channel=row.channel, kind=row.kind, outcome=outcome.value).inc()


def outgoing_mail(row: NotificationRow) -> OutgoingMail:
    return OutgoingMail(
        idempotency_key=row.idempotency_key,
        ticket=row.ticket,
        channel=Channel(row.channel),
        recipient_name=row.recipient_name,
        recipient_email=row.recipient_email,
        subject=row.subject,
        body=row.body,
        automatic=is_automatic(NotificationKind(row.kind)),
    )


def _link(settings: Settings, kind: NotificationKind, ticket: str, now: datetime) -> str:
    """The link to the ticket's page, signed at delivery so that no credential is stored
    with the notification; it signs a browser in for this ticket until it expires."""
    lifetime = timedelta(days=settings.link_lifetime_days)
    credential = new_link_credential(settings.secret_key, ticket, now=now, lifetime=lifetime)
    url = ticket_page_url(settings.portal_url, ticket, credential)
    return link_footer(kind, ticket, url, f"{now + lifetime:%-d %B %Y}")


class OutboxLoop:
    """Runs `deliver_due` on a thread until stopped."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        mailer: Mailer,
        settings: Settings,
        wake: threading.Event | None = None,
    ) -> None:
        self._sessions = sessions
        self._mailer = mailer
        self._settings = settings
        self._stop = threading.Event()
        # Set when a notification is queued (services/notify/wakeups.py), or to stop.
        self._wake = wake or threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the look: what is queued after it wakes the next
            try:
                handled = deliver_due(self._sessions, self._mailer, self._settings)
            except Exception:  # the database may be down: log, wait, try again
                log.exception("outbox pass failed")
                handled = 0
            if handled < BATCH:
                self._wake.wait(IDLE_WAIT)
