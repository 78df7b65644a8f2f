"""Idempotent delivery: a notification is recorded once per key and delivered at most once
successfully; a failed or abandoned attempt may be claimed and retried by exactly one caller.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.notify.errors import DeliveryFailed, DeliveryInProgress
from services.notify.mailer import DeliveryError, Mailer, OutgoingMail
from services.notify.schemas import NotificationCreate, as_utc
from shared.db.tables import Notification
from shared.domain.enums import Channel, DeliveryStatus, NotificationKind
from shared.domain.notices import is_automatic

# A pending record older than this is taken to be a crashed attempt and may be claimed.
ATTEMPT_LEASE = timedelta(seconds=60)
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class Submitted:
    notification: Notification
    created: bool


def submit(
    *, sessions: sessionmaker[Session], mailer: Mailer, data: NotificationCreate
) -> Submitted:
    """Record and deliver `data`, or answer from the record its key already has."""
    now = datetime.now(UTC)
    row = get(sessions, data.idempotency_key)
    created = False
    if row is None:
        row = _create(sessions, data, now)
        created = row is not None
        # None: a concurrent request with the same key inserted first; treat as a repeat.
        row = row or get(sessions, data.idempotency_key)
        if row is None:
            raise DeliveryInProgress()
    if not created:
        if row.status == DeliveryStatus.SENT:
            return Submitted(row, created=False)
        if not claim(sessions, row, now):
            current = get(sessions, data.idempotency_key)
            if current is not None and current.status == DeliveryStatus.SENT:
                return Submitted(current, created=False)
            raise DeliveryInProgress()
    try:
        sent_as = mailer.deliver(outgoing(row))
    except DeliveryError as err:
        finish(sessions, row.id, DeliveryStatus.FAILED, error=str(err))
        raise DeliveryFailed(str(err)) from err
    return Submitted(
        finish(sessions, row.id, DeliveryStatus.SENT, message_id=sent_as), created=created
    )


def get(sessions: sessionmaker[Session], idempotency_key: str) -> Notification | None:
    with sessions() as session:
        return session.scalar(
            select(Notification).where(Notification.idempotency_key == idempotency_key)
        )


def list_notifications(
    session: Session, *, ticket: str, kind: NotificationKind | None = None
) -> list[Notification]:
    query = select(Notification).where(Notification.ticket == ticket)
    if kind is not None:
        query = query.where(Notification.kind == kind.value)
    return list(session.scalars(query.order_by(Notification.created_at, Notification.id)))


def _create(
    sessions: sessionmaker[Session], data: NotificationCreate, now: datetime
) -> Notification | None:
    row = Notification(
        idempotency_key=data.idempotency_key,
        ticket=data.ticket,
        kind=data.kind.value,
        recipient_name=data.recipient.name,
        recipient_email=data.recipient.email,
        channel=data.channel.value,
        subject=data.subject,
        body=data.body,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        created_at=now,
    )
    try:
        with sessions.begin() as session:
            session.add(row)
    except IntegrityError:
        return None
    return row


def _attempt_stale(cutoff: datetime) -> ColumnElement[bool]:
    # The table has no "attempt started" column: a claim stores its start in sent_at, and
    # the first attempt started at created_at. sent_at is only reported once status is sent.
    return or_(
        and_(Notification.sent_at.is_(None), Notification.created_at < cutoff),
        Notification.sent_at < cutoff,
    )


def claim(sessions: sessionmaker[Session], row: Notification, now: datetime) -> bool:
    """Take over a failed or abandoned attempt; of concurrent callers exactly one wins."""
    cutoff = now - ATTEMPT_LEASE
    conditions = [
        Notification.id == row.id,
        Notification.status == row.status,
        Notification.attempts == row.attempts,
    ]
    if row.status == DeliveryStatus.PENDING:
        if as_utc(row.sent_at or row.created_at) >= cutoff:
            return False
        # Checked again inside the UPDATE: a claim refreshes sent_at, so a second
        # caller who saw the same stale row no longer matches.
        conditions.append(_attempt_stale(cutoff))
    statement = (
        update(Notification)
        .where(*conditions)
        .values(status=DeliveryStatus.PENDING.value, sent_at=now)
        .execution_options(synchronize_session=False)
    )
    with sessions.begin() as session:
        claimed = session.connection().execute(statement).rowcount == 1
    return claimed


def finish(
    sessions: sessionmaker[Session],
    row_id: int,
    status: DeliveryStatus,
    error: str | None = None,
    message_id: str | None = None,
) -> Notification:
    """Record an attempt's end; a sent mail's Message-ID, so replies find their ticket."""
    with sessions.begin() as session:
        row = session.get_one(Notification, row_id)
        row.status = status.value
        if message_id is not None:
            row.message_id = message_id
        row.attempts += 1
        row.last_error = error[:MAX_ERROR_CHARS] if error is not None else None
        # The attempt's time: when it was sent, or when a failed one may be retried from.
        row.sent_at = datetime.now(UTC)
    return row


def outgoing(row: Notification) -> OutgoingMail:
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
