"""Export on request (GDPR Art. 15), the use case: what ticketflow holds of a requester, found
by their address, in one piece; each export is audited.

It holds the requester's tickets as the requester sees them (their fields, the public thread:
the requester's own messages and the desk's responses, with their files; and the requester's
rating comments), the inbound mail log's entries of mail from the address, and the
notifications sent to it. Agents' internal notes are left out: they are the desk's working
notes on a case, neither given by the requester nor sent to them, and may speak of others; an
admin who must disclose them weighs that case by case (the console shows them).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from services.tickets.backends import Backends
from services.tickets.reads import read_view
from shared.db import audit, requesters, thread
from shared.db.tables import InboundMailRow, NotificationRow
from shared.db.threads import in_thread
from shared.domain.audit import AuditAction, AuditEntity
from shared.domain.enums import ThreadKind
from shared.domain.erasure import normalized, requester_ref
from shared.domain.models import Actor, ThreadEntry, TicketView


@dataclass(frozen=True)
class TicketRecord:
    view: TicketView
    # The public thread (no notes), and the bodies of its entries by message id.
    entries: list[ThreadEntry]
    bodies: dict[str, str]
    rating_comments: list[str]


@dataclass(frozen=True)
class RequesterRecords:
    email: str
    exported_at: datetime
    tickets: list[TicketRecord]
    mail: list[InboundMailRow]
    notifications: list[NotificationRow]


async def export_requester(backends: Backends, email: str, *, actor: Actor) -> RequesterRecords:
    """Everything above, for `email` (nothing found is an empty export: the answer is the same
    for an address ticketflow never saw)."""
    address = normalized(email)
    numbers = await in_thread(_numbers, backends, address)
    tickets = [await _ticket(backends, number) for number in numbers]
    mail, notifications = await in_thread(_mail_and_notifications, backends, address)
    await in_thread(_audit, backends, address, actor, len(tickets))
    return RequesterRecords(
        email=address,
        exported_at=datetime.now(UTC),
        tickets=tickets,
        mail=mail,
        notifications=notifications,
    )


def _numbers(backends: Backends, address: str) -> list[str]:
    with backends.sessions() as session:
        return requesters.ticket_numbers(session, address)


async def _ticket(backends: Backends, number: str) -> TicketRecord:
    view = await read_view(backends, number)

    def read() -> TicketRecord:
        with backends.sessions() as session:
            entries = [
                entry
                for entry in thread.thread_of(session, number, view.thread)
                if entry.kind is not ThreadKind.NOTE
            ]
            return TicketRecord(
                view=view,
                entries=entries,
                bodies=thread.bodies(session, entries),
                rating_comments=requesters.rating_comments(session, number),
            )

    return await in_thread(read)


def _mail_and_notifications(
    backends: Backends, address: str
) -> tuple[list[InboundMailRow], list[NotificationRow]]:
    with backends.sessions() as session:
        return requesters.mail_from(session, address), requesters.notifications_to(session, address)


def _audit(backends: Backends, address: str, actor: Actor, tickets: int) -> None:
    ref = requester_ref(backends.settings.secret_key, address)
    with backends.sessions.begin() as session:
        audit.record(
            session,
            actor=actor,
            action=AuditAction.EXPORTED,
            entity=AuditEntity.REQUESTER,
            entity_id=ref,
            summary=f"exported the data of requester {ref} ({tickets} tickets)",
        )
