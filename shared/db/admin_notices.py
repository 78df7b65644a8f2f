"""Notices to the admins (the agents with role admin) that no ticket is about, queued in the
notification outbox like a ticket's: the notify service mails them, once per key."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.db.tables import AgentRow, NotificationRow
from shared.domain.enums import DeliveryStatus, NotificationKind, Role
from shared.domain.text import bounded_key

# Notifications name a ticket; these name none (list them with `?ticket=-`).
NO_TICKET = "-"


def queue_admin_notice(
    session: Session, *, key: str, subject: str, body: str, channel: str, now: datetime
) -> list[str]:
    """Queue one notification per active admin; the addresses told."""
    admins = session.scalars(
        select(AgentRow).where(AgentRow.role == Role.ADMIN.value, AgentRow.active.is_(True))
    ).all()
    rows = [
        {
            "idempotency_key": bounded_key(key, admin.email.lower()),
            "ticket": NO_TICKET,
            "kind": NotificationKind.WEBHOOK_DISABLED.value,
            "recipient_name": admin.name,
            "recipient_email": admin.email,
            "channel": channel,
            "subject": subject[:300],
            "body": body,
            "status": DeliveryStatus.QUEUED.value,
            "attempts": 0,
            "created_at": now,
        }
        for admin in admins
    ]
    if rows:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(NotificationRow).values(rows).on_conflict_do_nothing())
    return [admin.email for admin in admins]
