"""Outbox rows for the notify tests, written as the workflow's activities write them."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from shared.db.tables import NotificationRow
from shared.db.writes import insert_new
from shared.domain.enums import DeliveryStatus


def notification(**overrides: Any) -> dict[str, Any]:
    """A queued notification's columns, with a fresh idempotency key."""
    row: dict[str, Any] = {
        "idempotency_key": f"100001:{uuid.uuid4().hex[:8]}:ticket_received:requester",
        "ticket": "100001",
        "kind": "ticket_received",
        "recipient_name": "Alice Customer",
        "recipient_email": "alice@example.com",
        "channel": "email",
        "subject": "[#100001] We received your request",
        "body": "Thank you, we will get back to you.",
        "status": DeliveryStatus.QUEUED.value,
        "attempts": 0,
        "created_at": datetime.now(UTC),
    }
    row.update(overrides)
    return row


def queue(database_url: str, *rows: dict[str, Any]) -> None:
    """Put `rows` into the outbox in one transaction."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            insert_new(session, NotificationRow, list(rows))
    finally:
        engine.dispose()


def stored(database_url: str, key: str) -> NotificationRow:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return session.scalars(
                select(NotificationRow).where(NotificationRow.idempotency_key == key)
            ).one()
    finally:
        engine.dispose()


REFUSED = {"detail": "missing or invalid service token"}


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == REFUSED
    assert response.headers["www-authenticate"] == "Bearer"
