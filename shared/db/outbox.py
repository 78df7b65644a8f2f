"""The notification outbox: notices become queued notifications, one per person, in the same
transaction as the projection; the notify service delivers what is queued.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import directory
from shared.db.tables import MessageBody, Notification
from shared.db.writes import insert_new
from shared.domain.enums import DeliveryStatus, RecipientRole
from shared.domain.models import Notice, NotificationRequest, Person, TicketState
from shared.domain.notices import notification_key, render_body


def queue_notices(
    session: Session, state: TicketState, notices: list[Notice], channel: str
) -> list[str]:
    """Queue each notice for each of its recipients; one line per notice saying what happened."""
    rows: list[dict[str, Any]] = []
    outcomes: list[str] = []
    now = datetime.now(UTC)
    for notice in notices:
        label = f"{notice.kind.value} to {notice.recipient.role.value.replace('_', ' ')}"
        people = _recipients(session, state, notice)
        if isinstance(people, str):
            outcomes.append(f"{label}: skipped ({people})")
            continue
        body = render_body(notice, _quoted(session, notice.message_id))
        for person in people:
            rows.append(
                {
                    "idempotency_key": notification_key(state.number, notice, person.email),
                    "ticket": state.number,
                    "kind": notice.kind.value,
                    "recipient_name": person.name,
                    "recipient_email": person.email,
                    "channel": channel,
                    "subject": notice.subject,
                    "body": body,
                    "status": DeliveryStatus.QUEUED.value,
                    "attempts": 0,
                    "created_at": now,
                }
            )
        outcomes.append(f"{label}: queued for {', '.join(p.email for p in people)}")
    insert_new(session, Notification, rows)
    return outcomes


def _quoted(session: Session, message_id: str | None) -> str | None:
    if message_id is None:
        return None
    return session.scalar(select(MessageBody.body).where(MessageBody.id == message_id))


def _recipients(session: Session, state: TicketState, notice: Notice) -> list[Person] | str:
    """The people to tell, or a string saying why nobody is told."""
    if notice.recipient.role is RecipientRole.REQUESTER:
        return [state.requester]
    request = NotificationRequest(
        idempotency_key="",
        ticket=state.number,
        notice=notice,
        requester=state.requester,
        department=state.department,
        team=state.team,
        assignee=state.assignee,
    )
    handles = [
        h for h in directory.recipient_handles(session, request) if h != notice.exclude_agent
    ]
    people = [directory.agent_person(session, handle) for handle in handles]
    found = [person for person in people if person is not None]
    if not found:
        return f"no {notice.recipient.role.value.replace('_', ' ')} to tell"
    # One mail per person, even when two roles of one step name the same agent.
    unique = {person.email.lower(): person for person in found}
    return list(unique.values())
