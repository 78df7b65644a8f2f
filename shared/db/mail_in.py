"""The inbound log of mail-in, and the look-ups that place a message: the ticket it answers,
the agent who sent it, how much its sender sent lately.

A message is recorded before anything is done with it, keyed by its Message-ID; the same key
again is a duplicate (its own row, outcome `duplicate`) unless the first delivery never got
past `received`, in which case this delivery completes it (the ticket service's idempotency
keys, derived from the same Message-ID, make that exactly once).
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from shared.db.tables import AgentRow, InboundMailRow, NotificationRow, TicketRow
from shared.domain.enums import Role
from shared.domain.mail.addresses import dedupe_key
from shared.domain.mail.decision import ACTED, AgentRef, Outcome, TicketRef
from shared.domain.mail.message import InboundMessage
from shared.domain.mail.trust import is_keyed

SUBJECT_MAX = 300
ADDRESS_MAX = 320
MESSAGE_ID_MAX = 998  # RFC 5322's line limit


class Delivery(StrEnum):
    NEW = "new"  # first time this message is seen
    RETRY = "retry"  # seen before, never finished: act (again) and finish it
    DUPLICATE = "duplicate"  # seen and finished before: recorded as a duplicate, nothing else


@dataclass(frozen=True)
class InboundClaim:
    row_id: int
    delivery: Delivery
    ticket: str | None = None  # a duplicate's: the ticket of the first delivery


def record(
    sessions: sessionmaker[Session], *, key: str, message: InboundMessage, now: datetime
) -> InboundClaim:
    """Record a delivery of `message` under `key` (see the module's docstring)."""
    values = _values(message, now) | {"dedupe_key": key, "outcome": Outcome.RECEIVED.value}
    with sessions.begin() as session:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        inserted = session.execute(
            insert(InboundMailRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(InboundMailRow.id)
        ).scalar()
        if inserted is not None:
            return InboundClaim(inserted, Delivery.NEW)
        first = session.scalars(
            select(InboundMailRow).where(InboundMailRow.dedupe_key == key)
        ).one()
        if first.outcome == Outcome.RECEIVED.value:
            return InboundClaim(first.id, Delivery.RETRY)
        duplicate = InboundMailRow(
            **_values(message, now),
            dedupe_key=None,
            outcome=Outcome.DUPLICATE.value,
            ticket=first.ticket,
            detail=f"the same Message-ID as inbound message {first.id} ({first.outcome})",
            finished_at=now,
        )
        session.add(duplicate)
        session.flush()
        return InboundClaim(duplicate.id, Delivery.DUPLICATE, first.ticket)


def record_unparseable(
    sessions: sessionmaker[Session], *, raw: bytes, reason: str, sender: str, now: datetime
) -> None:
    """Log input that is no readable message (once per exact content)."""
    values: dict[str, Any] = {
        "dedupe_key": dedupe_key(None, raw),
        "message_id": None,
        "mail_from": sender[:ADDRESS_MAX],
        "rcpt_to": "",
        "subject": "",
        "outcome": Outcome.REFUSED.value,
        "detail": f"unparseable: {reason}",
        "attachments": [],
        "size": len(raw),
        "received_at": now,
        "finished_at": now,
    }
    with sessions.begin() as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(InboundMailRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )


def finish(
    sessions: sessionmaker[Session],
    row_id: int,
    *,
    outcome: Outcome,
    ticket: str | None,
    detail: str | None,
    now: datetime,
) -> bool:
    """Set the outcome of a `received` row; False if another delivery finished it first."""
    statement = (
        update(InboundMailRow)
        .where(InboundMailRow.id == row_id, InboundMailRow.outcome == Outcome.RECEIVED.value)
        .values(outcome=outcome.value, ticket=ticket, detail=detail, finished_at=now)
    )
    with sessions.begin() as session:
        changed: bool = session.connection().execute(statement).rowcount == 1
    return changed


def answered_ticket(session: Session, ids: list[str]) -> str | None:
    """The ticket of the nearest of `ids` (Message-IDs, nearest first) that names a
    notification we sent or a message we received."""
    if not ids:
        return None
    sent = {
        mid: ticket
        for mid, ticket in session.execute(
            select(NotificationRow.message_id, NotificationRow.ticket).where(
                NotificationRow.message_id.in_(ids)
            )
        )
        if mid is not None
    }
    keys = {dedupe_key(mid, b""): mid for mid in ids}
    received = {
        keys[key]: ticket
        for key, ticket in session.execute(
            select(InboundMailRow.dedupe_key, InboundMailRow.ticket).where(
                InboundMailRow.dedupe_key.in_(list(keys)), InboundMailRow.ticket.is_not(None)
            )
        )
        if key is not None and ticket is not None
    }
    for mid in ids:
        ticket = sent.get(mid) or received.get(mid)
        if ticket:
            return ticket
    return None


def answers_mail_to(
    session: Session, ids: list[str], *, ticket: str, sender: str, secret_key: str
) -> bool:
    """Whether one of `ids` names a notification of `ticket` that we mailed to `sender`, by
    an id keyed with `secret_key` (ids of older mail, computable by anyone, prove nothing)."""
    if not ids:
        return False
    sent = session.execute(
        select(NotificationRow.message_id, NotificationRow.idempotency_key).where(
            NotificationRow.message_id.in_(ids),
            NotificationRow.ticket == ticket,
            func.lower(NotificationRow.recipient_email) == sender.lower(),
        )
    )
    return any(mid is not None and is_keyed(mid, key, secret_key=secret_key) for mid, key in sent)


def ticket_ref(session: Session, number: str) -> TicketRef | None:
    row = session.get(TicketRow, number)
    if row is None:
        return None
    return TicketRef(row.number, row.requester_email, row.requester_name)


def agent_by_email(session: Session, email: str) -> AgentRef | None:
    """The agent with this address (an active one first, if several share it)."""
    rows = session.scalars(
        select(AgentRow)
        .where(func.lower(AgentRow.email) == email.lower())
        .order_by(AgentRow.handle)
    ).all()
    if not rows:
        return None
    row = next((agent for agent in rows if agent.active), rows[0])
    return AgentRef(row.handle, row.name, Role(row.role), row.active)


def acted_since(session: Session, sender: str, since: datetime) -> int:
    """How many messages from `sender` since `since` created, replied or noted."""
    count = session.scalar(
        select(func.count())
        .select_from(InboundMailRow)
        .where(
            InboundMailRow.mail_from == sender[:ADDRESS_MAX],
            InboundMailRow.received_at >= since,
            InboundMailRow.outcome.in_([outcome.value for outcome in ACTED]),
        )
    )
    return int(count or 0)


def recent(session: Session, *, limit: int, outcome: Outcome | None = None) -> list[InboundMailRow]:
    query = select(InboundMailRow).order_by(InboundMailRow.id.desc()).limit(limit)
    if outcome is not None:
        query = query.where(InboundMailRow.outcome == outcome.value)
    return list(session.scalars(query))


def _values(message: InboundMessage, now: datetime) -> dict[str, Any]:
    return {
        "message_id": (message.message_id or "")[:MESSAGE_ID_MAX] or None,
        "mail_from": message.sender[:ADDRESS_MAX],
        "rcpt_to": ", ".join(message.recipients),
        "subject": message.subject[:SUBJECT_MAX],
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
        "size": message.size,
        "received_at": now,
    }
