"""Scrubbing a requester's personal data out of the database (GDPR Art. 17), ticket by ticket
and by address, leaving the report facts whole. Run by the erasure and retention workflows'
activities once the ticket's workflow has ended.

Every table that can hold a requester's address, name, text or file, and what becomes of it.

Per ticket (`scrub_ticket`, then `erase_key`):
- tickets: subject, requester name and address become ERASED; the state JSON is
  `erased_state` (also without the creation key and the requester's message times).
- message_bodies: deleted: every text of the ticket (messages, responses, notes,
  resolutions, rating comments), whoever wrote it.
- attachments: deleted; their contents leave the blob store first (`unshared_digests`: unless
  another ticket holds the same file).
- ticket_thread: a requester's entries lose their author's name (agents' stay).
- ticket_timeline: a requester's events lose their actor's name.
- ticket_events (the change feed): snapshots lose subject, requester name and address, a
  requester actor its name (an event's text is joined from message_bodies at read time).
- notifications: deleted (recipient, subject, a body quoting the thread), whoever they went to.
- inbound_mail: sender, recipients, subject, Message-ID, detail and file names cleared; the
  row (outcome, size, times) and its dedupe key, a hash, stay: a redelivery stays a duplicate.
- webhook_deliveries, webhook_attempts: a receiver's error text (it may echo the payload)
  cleared; the payloads themselves are read from ticket_events.
- ticket_event_facts: the rating comment's message id cleared; events, ratings, times and
  dimensions stay, so past reports add up. sla_clock_facts hold nothing personal: kept.
- data_keys: the ticket workflow's data key erased, so its Temporal history, which carried the
  requester and subject, can never be decrypted again.

By address (`scrub_address`, an erasure on request):
- inbound_mail: the address's messages on no ticket of theirs (refused, duplicates), as above.
- notifications: any to the address, deleted.
- sign_in_failures: rows naming it as the account tried, deleted.
- erasures: the request's own copy of the address, cleared as it finishes (shared.db.erasures).

Kept, holding nothing readable of a requester: ticket_keys (hashes of a creation key and its
request), ticket_external_refs and external_ref_claims (another system's record ids), and the
audit_log (a keyed hash of the address, never the address). The other tables hold staff,
reference data and integrations. On SQLite, `secure_delete` (shared.db.engine) zeroes what is
deleted or overwritten, so no old copy stays in the database file.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from shared.db import data_keys
from shared.db.projection import ticket_row
from shared.db.tables import (
    AttachmentRow,
    FeedEventRow,
    InboundMailRow,
    MessageBodyRow,
    NotificationRow,
    SignInFailureRow,
    ThreadRow,
    TicketEventFactRow,
    TicketRow,
    TimelineRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
)
from shared.domain.enums import TicketStatus
from shared.domain.erasure import (
    ERASED,
    erased_actor,
    erased_feed_event,
    erased_state,
    erased_timeline_event,
    normalized,
)
from shared.domain.ids import ticket_workflow_id
from shared.domain.models import TicketState

# What an inbound message keeps once its sender is erased: its outcome, size and times.
_SCRUBBED_MAIL: dict[str, Any] = {
    "mail_from": ERASED,
    "rcpt_to": "",
    "subject": ERASED,
    "message_id": None,
    "detail": None,
    "attachments": [],
}


def unshared_digests(session: Session, number: str) -> set[str]:
    """The contents of the ticket's files that no other ticket's file shares (the blob store
    keeps one copy per content)."""
    mine = set(session.scalars(select(AttachmentRow.sha256).where(AttachmentRow.ticket == number)))
    if not mine:
        return set()
    shared = session.scalars(
        select(AttachmentRow.sha256).where(
            AttachmentRow.sha256.in_(mine), AttachmentRow.ticket != number
        )
    )
    return mine - set(shared)


def scrub_ticket(session: Session, number: str) -> None:
    """Every personal field of ticket `number` (see the module's docstring); idempotent."""
    row = session.get(TicketRow, number)
    if row is not None:
        erased = erased_state(TicketState.model_validate(row.state))
        values = ticket_row(erased)
        row.subject, row.requester_name, row.requester_email = ERASED, ERASED, ERASED
        row.state = values["state"]
    for entry in session.scalars(select(ThreadRow).where(ThreadRow.ticket == number)):
        entry.author = erased_actor(entry.author)
    for event in session.scalars(select(TimelineRow).where(TimelineRow.ticket == number)):
        event.event = erased_timeline_event(event.event)
    for feed in session.scalars(select(FeedEventRow).where(FeedEventRow.ticket == number)):
        feed.payload = erased_feed_event(feed.payload)
    session.execute(delete(MessageBodyRow).where(MessageBodyRow.ticket == number))
    session.execute(delete(AttachmentRow).where(AttachmentRow.ticket == number))
    session.execute(delete(NotificationRow).where(NotificationRow.ticket == number))
    session.execute(
        update(InboundMailRow).where(InboundMailRow.ticket == number).values(_SCRUBBED_MAIL)
    )
    deliveries = select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.ticket == number)
    session.execute(
        update(WebhookAttemptRow)
        .where(WebhookAttemptRow.delivery_id.in_(deliveries), WebhookAttemptRow.error.is_not(None))
        .values(error=None)
    )
    session.execute(
        update(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.ticket == number, WebhookDeliveryRow.last_error.is_not(None))
        .values(last_error=None)
    )
    session.execute(
        update(TicketEventFactRow)
        .where(TicketEventFactRow.ticket == number, TicketEventFactRow.comment.is_not(None))
        .values(comment=None)
    )


def erased_ticket(session: Session, number: str) -> bool:
    """Whether ticket `number` was scrubbed (one column of the projection's row)."""
    email = session.scalar(select(TicketRow.requester_email).where(TicketRow.number == number))
    return email == ERASED


def erase_key(session: Session, number: str, now: datetime) -> bool:
    """Erase the data key of the ticket's Temporal payloads; False if it had none (never
    encrypted, or erased before)."""
    return data_keys.erase(session, ticket_workflow_id(number), now)


def scrub_address(session: Session, email: str) -> None:
    """What the address left outside its tickets (see the module's docstring)."""
    address = normalized(email)
    session.execute(
        update(InboundMailRow)
        .where(func.lower(InboundMailRow.mail_from) == address)
        .values(_SCRUBBED_MAIL)
    )
    session.execute(
        delete(NotificationRow).where(func.lower(NotificationRow.recipient_email) == address)
    )
    session.execute(delete(SignInFailureRow).where(func.lower(SignInFailureRow.account) == address))


def expired_tickets(session: Session, *, cutoff: datetime, after: str, limit: int) -> list[str]:
    """Closed tickets not changed since before `cutoff` (closed before it, then) and not yet
    erased, numbered after `after`, in order of their numbers."""
    return list(
        session.scalars(
            select(TicketRow.number)
            .where(
                TicketRow.status == TicketStatus.CLOSED.value,
                TicketRow.updated_at < cutoff,
                TicketRow.requester_email != ERASED,
                TicketRow.number > after,
            )
            .order_by(TicketRow.number)
            .limit(limit)
        )
    )


def scrub_old_mail(session: Session, cutoff: datetime) -> int:
    """Inbound messages on no ticket (refused, duplicates) received before `cutoff`: their
    senders and subjects go as a closed ticket's do. How many."""
    done = session.connection().execute(
        update(InboundMailRow)
        .where(
            InboundMailRow.ticket.is_(None),
            InboundMailRow.received_at < cutoff,
            InboundMailRow.mail_from != ERASED,
        )
        .values(_SCRUBBED_MAIL)
    )
    return done.rowcount
