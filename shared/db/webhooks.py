"""Webhook subscriptions: create, read, change, delete. Functions flush but never commit.

Errors are those of the reference data (`shared.reference.service`), which the admin API
already answers (404, 409, 422), plus `UrlRefused` for a URL webhooks may not go to.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shared.db.events import Cursor, end_cursor, snapshot
from shared.db.tables import (
    DepartmentRow,
    HelpTopicRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)
from shared.domain.errors import NotFound
from shared.domain.webhook_signing import new_secret
from shared.domain.webhook_urls import UrlPolicy, check_url
from shared.domain.webhooks import OPEN_STATES, DeliveryState, EventFilter
from shared.reference.service import DuplicateHandle, UnknownReference

KIND = "webhook"
CHANGEABLE = frozenset(
    {"url", "secret", "event_types", "departments", "help_topics", "include_internal", "active"}
)


@dataclass(frozen=True)
class NewSubscription:
    handle: str
    url: str
    secret: str | None
    event_types: Sequence[str]
    departments: Sequence[str]
    help_topics: Sequence[str]
    include_internal: bool
    active: bool
    from_beginning: bool


def event_filter(row: WebhookSubscriptionRow) -> EventFilter:
    return EventFilter.of(row.event_types, row.departments, row.help_topics, row.include_internal)


def get(session: Session, handle: str) -> WebhookSubscriptionRow:
    row = session.scalar(
        select(WebhookSubscriptionRow).where(WebhookSubscriptionRow.handle == handle)
    )
    if row is None:
        raise NotFound(f"{KIND} {handle!r}")
    return row


def list_all(session: Session) -> list[WebhookSubscriptionRow]:
    return list(
        session.scalars(select(WebhookSubscriptionRow).order_by(WebhookSubscriptionRow.handle))
    )


def backlogs(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """Per subscription, its deliveries not yet delivered nor failed."""
    if not ids:
        return {}
    rows = session.execute(
        select(WebhookDeliveryRow.subscription_id, func.count())
        .where(WebhookDeliveryRow.subscription_id.in_(ids))
        .where(WebhookDeliveryRow.status.in_(OPEN_STATES))
        .group_by(WebhookDeliveryRow.subscription_id)
    ).all()
    return {subscription: count for subscription, count in rows}


def create(
    session: Session, data: NewSubscription, policy: UrlPolicy, now: datetime
) -> tuple[WebhookSubscriptionRow, str]:
    """The new subscription and its secret (generated unless given), to show once."""
    check_url(data.url, policy)
    if session.scalar(
        select(WebhookSubscriptionRow.id).where(WebhookSubscriptionRow.handle == data.handle)
    ):
        raise DuplicateHandle(KIND, data.handle)
    _require_handles(session, data.departments, data.help_topics)
    # "From now": the feed's settled end, then what had committed by now (in this order: the
    # events between the two are told apart by the snapshot; see the dispatcher).
    start = Cursor() if data.from_beginning else end_cursor(session)
    seen = None if data.from_beginning else snapshot(session)
    secret = data.secret or new_secret()
    row = WebhookSubscriptionRow(
        handle=data.handle,
        url=data.url,
        secret=secret,
        event_types=list(data.event_types),
        departments=list(data.departments),
        help_topics=list(data.help_topics),
        include_internal=data.include_internal,
        active=data.active,
        cursor_txid=start.txid,
        cursor_position=start.position,
        start_snapshot=seen,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row, secret


def update(
    session: Session, handle: str, changes: Mapping[str, Any], policy: UrlPolicy, now: datetime
) -> WebhookSubscriptionRow:
    """Apply the fields named in `changes`; re-activating clears the reason it was disabled
    (its queued deliveries resume, and so does its cursor: nothing published meanwhile is
    lost)."""
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise ValueError(f"not changeable: {', '.join(sorted(unknown))}")
    row = get(session, handle)
    if changes.get("url") is not None:
        check_url(changes["url"], policy)
    _require_handles(session, changes.get("departments") or (), changes.get("help_topics") or ())
    for name, value in changes.items():
        if value is not None:
            setattr(row, name, list(value) if isinstance(value, list | tuple) else value)
    if changes.get("active"):
        row.disabled_reason, row.disabled_at = None, None
    row.updated_at = now
    session.flush()
    return row


def remove(session: Session, handle: str) -> None:
    """The subscription, its deliveries and their attempts."""
    row = get(session, handle)
    deliveries = select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.subscription_id == row.id)
    session.execute(delete(WebhookAttemptRow).where(WebhookAttemptRow.delivery_id.in_(deliveries)))
    session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.subscription_id == row.id))
    session.delete(row)
    session.flush()


def disabled_for_failures(session: Session) -> list[tuple[WebhookSubscriptionRow, int]]:
    """Subscriptions disabled because their endpoint kept failing, with their failed
    deliveries' count: what admins must act on."""
    failed = (
        select(func.count())
        .where(WebhookDeliveryRow.subscription_id == WebhookSubscriptionRow.id)
        .where(WebhookDeliveryRow.status == DeliveryState.FAILED.value)
        .scalar_subquery()
    )
    rows = session.execute(
        select(WebhookSubscriptionRow, failed)
        .where(WebhookSubscriptionRow.active.is_(False))
        .where(WebhookSubscriptionRow.disabled_reason.is_not(None))
        .order_by(WebhookSubscriptionRow.disabled_at.desc())
    ).all()
    return [(row, count) for row, count in rows]


def _require_handles(
    session: Session, departments: Sequence[str], help_topics: Sequence[str]
) -> None:
    for handle in departments:
        if session.get(DepartmentRow, handle) is None:
            raise UnknownReference("department", handle, "departments")
    for handle in help_topics:
        if session.get(HelpTopicRow, handle) is None:
            raise UnknownReference("help topic", handle, "help_topics")
