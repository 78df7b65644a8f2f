"""The lease on one delivery attempt of an outbox notification.

`claim_attempt` takes a due notification for one attempt (a conditional update: of several
notify processes exactly one wins) and `finish_attempt` records how the attempt ended. While
an attempt runs the row is pending and its sent_at holds the attempt's start (the table has no
column of its own for it); a pending row older than ATTEMPT_LEASE is taken to be an attempt
whose process died, and may be claimed again.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from services.notify.schemas import as_utc
from shared.db.tables import NotificationRow
from shared.domain.enums import DeliveryStatus

ATTEMPT_LEASE = timedelta(seconds=60)
MAX_ERROR_CHARS = 1000


def claim_attempt(sessions: sessionmaker[Session], row: NotificationRow, now: datetime) -> bool:
    """Take `row` (as read, still due) for an attempt; of concurrent callers exactly one wins."""
    cutoff = now - ATTEMPT_LEASE
    conditions = [
        NotificationRow.id == row.id,
        NotificationRow.status == row.status,
        NotificationRow.attempts == row.attempts,
    ]
    if row.status == DeliveryStatus.PENDING:
        if row.sent_at is None or as_utc(row.sent_at) >= cutoff:
            return False
        # Checked again inside the UPDATE: a claim refreshes sent_at, so a second
        # caller who saw the same stale row no longer matches.
        conditions.append(NotificationRow.sent_at < cutoff)
    statement = (
        update(NotificationRow)
        .where(*conditions)
        .values(status=DeliveryStatus.PENDING.value, sent_at=now)
        .execution_options(synchronize_session=False)
    )
    with sessions.begin() as session:
        claimed = session.connection().execute(statement).rowcount == 1
    return claimed


def finish_attempt(
    sessions: sessionmaker[Session],
    row_id: int,
    status: DeliveryStatus,
    error: str | None = None,
    message_id: str | None = None,
) -> None:
    """Record an attempt's end; a sent mail's Message-ID, so replies find their ticket."""
    with sessions.begin() as session:
        row = session.get_one(NotificationRow, row_id)
        row.status = status.value
        if message_id is not None:
            row.message_id = message_id
        row.attempts += 1
        row.last_error = error[:MAX_ERROR_CHARS] if error is not None else None
        # The attempt's time: when it was sent, or when a failed one may be retried from.
        row.sent_at = datetime.now(UTC)
